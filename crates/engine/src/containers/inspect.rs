//! `container inspect`: Docker's object for a container, built from its record, the image's
//! layers (for `GraphDriver`) and the on-disk layout. Keys strata has no equivalent for carry
//! Docker's zero values, so templates written for Docker's output keep working.

use serde_json::{Value, json};
use store::Store;
use store::metadata::ContainerRecord;

/// Docker's zero time, for a container never started or never stopped.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Docker's `container inspect` object for `c`.
pub fn inspect(store: &Store, c: &ContainerRecord) -> Value {
    let cfg = &c.config;
    let root = store.root();
    let layers = store
        .db()
        .image(&c.image_id)
        .ok()
        .flatten()
        .map(|i| i.layers)
        .unwrap_or_default();
    let lower: Vec<String> = layers
        .iter()
        .rev()
        .map(|l| store.snapshots.layer_dir(l).display().to_string())
        .collect();
    json!({
        "Id": c.id,
        "Created": cfg.created,
        "Path": c.command.first().cloned().unwrap_or_default(),
        "Args": c.command.iter().skip(1).cloned().collect::<Vec<_>>(),
        "State": {
            "Status": c.state.as_str(),
            "Running": c.state.is_running(),
            "Paused": false,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": c.pid.unwrap_or(0),
            "ExitCode": c.exit_code.unwrap_or(0),
            "Error": cfg.error.as_deref().unwrap_or(""),
            "StartedAt": c.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            "FinishedAt": c.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
        },
        "Image": c.image_id,
        "ResolvConfPath": "",
        "HostnamePath": "",
        "HostsPath": "",
        "LogPath": runtime::log_path(root, &c.id),
        "Name": format!("/{}", c.name),
        "RestartCount": 0,
        "Driver": cfg.driver,
        "Platform": "linux",
        "HostConfig": {
            "Binds": cfg.binds,
            "NetworkMode": cfg.network_mode,
            "AutoRemove": cfg.auto_remove,
            "Runtime": cfg.runtime,
        },
        "GraphDriver": {
            "Data": {
                "LowerDir": lower.join(":"),
                "MergedDir": runtime::rootfs_dir(root, &c.id),
                "UpperDir": runtime::upper_dir(root, &c.id),
                "WorkDir": runtime::work_dir(root, &c.id),
            },
            "Name": cfg.driver,
        },
        "Mounts": [],
        "Config": {
            "Hostname": cfg.hostname,
            "Domainname": "",
            "User": cfg.user,
            "AttachStdin": cfg.attach_stdin,
            "AttachStdout": true,
            "AttachStderr": true,
            "Tty": cfg.tty,
            "OpenStdin": cfg.open_stdin,
            "StdinOnce": false,
            "Env": cfg.env,
            "Cmd": cfg.cmd,
            "Image": c.image_ref,
            "Volumes": null,
            "WorkingDir": cfg.working_dir,
            "Entrypoint": cfg.entrypoint,
            "OnBuild": null,
            "Labels": cfg.labels,
        },
        "NetworkSettings": {},
    })
}
