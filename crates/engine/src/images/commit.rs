//! `commit CONTAINER [REPOSITORY[:TAG]]`: the container's writable layer (its overlay upper
//! directory) becomes a new layer on top of its image's, as Docker's daemon does it:
//!
//! * the upper directory is written as an OCI layer tar ([`archive::TreeMode::OverlayDiff`]:
//!   whiteouts → `.wh.<name>`, opaque directories → `.wh..wh..opq`), gzip-compressed into the
//!   content store and unpacked as the snapshot on top of the image's layers; an empty upper
//!   directory adds no layer (the history entry says `empty_layer`);
//! * the runtime config is the `--change`s applied to an empty config, then merged with the
//!   container's config (Docker's `merge`: user, ports, env by key, labels, cmd/entrypoint,
//!   workdir, volumes, stop signal);
//! * the new config keeps the parent's platform, history and diff IDs, adds
//!   `{created, author, created_by: <container Cmd joined by spaces>, comment}` and records the
//!   container ID, author and comment.

use super::build::{self, NewLayer};
use layers::archive::{self, TreeMode};
use layers::changes;
use oci_model::image_config::ContainerConfig;
use oci_model::reference::Reference;
use oci_model::{Digest, Error, ErrorKind, Result};
use serde_json::{Map, Value, json};
use std::path::Path;
use store::Store;
use store::leases::Lease;
use store::metadata::ContainerRecord;

#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// `-a`: the author.
    pub author: Option<String>,
    /// `-m`: the commit message.
    pub message: Option<String>,
    /// `-c`: Dockerfile instructions.
    pub changes: Vec<String>,
    /// The repository (and tag) to give the new image.
    pub reference: Option<Reference>,
}

/// What the container was run with: its effective runtime config (Docker's `container.Config`)
/// and its `Cmd` (for the history's `created_by`).
#[derive(Debug, Clone, Default)]
pub struct ContainerSide {
    pub id: String,
    pub config: ContainerConfig,
}

/// Reads a container record's config into a [`ContainerSide`]: the typed fields, then Docker
/// keys strata does not record itself (`ExposedPorts`, `Volumes`, `Healthcheck`) and the
/// lowercase aliases other writers used, from the keys kept as they were. `Cmd` falls back to
/// the command the container ran.
pub fn container_side(c: &ContainerRecord) -> ContainerSide {
    let cfg = &c.config;
    let string = |typed: &str, aliases: &[&str]| -> Option<String> {
        Some(typed.to_string())
            .filter(|s| !s.is_empty())
            .or_else(|| kept::<String>(&cfg.extra, aliases))
            .filter(|s| !s.is_empty())
    };
    let entrypoint = cfg
        .entrypoint
        .clone()
        .or_else(|| kept(&cfg.extra, &["entrypoint"]));
    let cmd = cfg
        .cmd
        .clone()
        .or_else(|| kept(&cfg.extra, &["cmd"]))
        .or_else(|| (entrypoint.is_none() && !c.command.is_empty()).then(|| c.command.clone()));
    ContainerSide {
        id: c.id.clone(),
        config: ContainerConfig {
            user: string(&cfg.user, &["user"]),
            exposed_ports: kept(&cfg.extra, &["ExposedPorts", "exposed_ports"]),
            env: Some(if cfg.env.is_empty() {
                kept(&cfg.extra, &["env"]).unwrap_or_default()
            } else {
                cfg.env.clone()
            }),
            entrypoint,
            cmd,
            volumes: kept(&cfg.extra, &["Volumes", "volumes"]),
            working_dir: string(&cfg.working_dir, &["workdir", "working_dir"]),
            labels: Some(if cfg.labels.is_empty() {
                kept(&cfg.extra, &["labels"]).unwrap_or_default()
            } else {
                cfg.labels.clone()
            }),
            stop_signal: string(cfg.stop_signal.as_deref().unwrap_or(""), &["stop_signal"]),
            healthcheck: kept(&cfg.extra, &["Healthcheck"]),
            ..Default::default()
        },
    }
}

/// The first of `keys` that a container config kept from another writer, unless null.
fn kept<T: serde::de::DeserializeOwned>(extra: &Map<String, Value>, keys: &[&str]) -> Option<T> {
    keys.iter()
        .find_map(|k| extra.get(*k))
        .filter(|x| !x.is_null())
        .and_then(|x| serde_json::from_value(x.clone()).ok())
}

/// Docker's `merge(userConf, imageConf)`: fills what the changes left unset from the container.
pub fn merge(user: &mut ContainerConfig, container: &ContainerConfig) {
    if user.user.as_deref().unwrap_or("").is_empty() {
        user.user = container.user.clone();
    }
    match (&mut user.exposed_ports, &container.exposed_ports) {
        (Some(u), Some(c)) if !u.is_empty() => {
            for (k, v) in c {
                u.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        (u, c) => {
            if u.as_ref().is_none_or(|m| m.is_empty()) {
                *u = c.clone();
            }
        }
    }
    match &mut user.env {
        Some(u) if !u.is_empty() => {
            for e in container.env.iter().flatten() {
                let key = e.split('=').next().unwrap_or("");
                if !u.iter().any(|x| x.split('=').next().unwrap_or("") == key) {
                    u.push(e.clone());
                }
            }
        }
        _ => user.env = container.env.clone(),
    }
    let labels = user.labels.get_or_insert_with(Default::default);
    for (k, v) in container.labels.iter().flatten() {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if user.entrypoint.as_ref().is_none_or(Vec::is_empty) {
        if user.cmd.as_ref().is_none_or(Vec::is_empty) {
            user.cmd = container.cmd.clone();
        }
        if user.entrypoint.is_none() {
            user.entrypoint = container.entrypoint.clone();
        }
    }
    if user.healthcheck.is_none() {
        user.healthcheck = container.healthcheck.clone();
    }
    if user.working_dir.as_deref().unwrap_or("").is_empty() {
        user.working_dir = container.working_dir.clone();
    }
    match &mut user.volumes {
        Some(u) if !u.is_empty() => {
            for (k, v) in container.volumes.iter().flatten() {
                u.insert(k.clone(), v.clone());
            }
        }
        _ => user.volumes = container.volumes.clone(),
    }
    if user.stop_signal.as_deref().unwrap_or("").is_empty() {
        user.stop_signal = container.stop_signal.clone();
    }
}

/// Commits container `c` (its upper directory under the store) as a new image.
pub fn commit_container(
    store: &Store,
    c: &ContainerRecord,
    opts: &CommitOptions,
) -> Result<String> {
    if c.config.driver == "copy" {
        // Its writable directory is a full copy of the image (deleted files simply absent,
        // not whited out): it is not a diff, and committing it would resurrect deletions.
        return Err(Error::unsupported(format!(
            "cannot commit container {}: it uses the copy driver (no overlay), whose writable \
             directory is not a layer diff",
            c.id
        )));
    }
    let upper = runtime::upper_dir(store.root(), &c.id);
    commit_upper(store, &upper, &c.image_id, &container_side(c), opts)
}

/// The work of [`commit_container`] from its parts: the upper directory, the parent image ID and
/// the container's side. Returns the new image ID.
pub fn commit_upper(
    store: &Store,
    upper: &Path,
    parent_image: &str,
    container: &ContainerSide,
    opts: &CommitOptions,
) -> Result<String> {
    let mut runtime = ContainerConfig::default();
    changes::apply_changes(&mut runtime, &opts.changes)?;
    merge(&mut runtime, &container.config);

    let parent_digest = Digest::parse(parent_image)?;
    let parent_raw = store.content.read(&parent_digest)?;
    let parent: Value = serde_json::from_slice(&parent_raw)
        .map_err(|e| Error::corrupt(format!("image config {parent_image}: {e}")))?;
    // Docker's container config already holds the image's defaults; merging the image's
    // runtime config last keeps them for a container record that stores only its overrides.
    if let Some(image_runtime) = parent
        .get("config")
        .filter(|c| !c.is_null())
        .and_then(|c| serde_json::from_value::<ContainerConfig>(c.clone()).ok())
    {
        merge(&mut runtime, &image_runtime);
    }
    let layers = build::image_layers(store, parent_image)?;

    let empty = std::fs::read_dir(upper)
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("reading {}: {e}", upper.display()),
            )
        })?
        .next()
        .is_none();
    // The parent's layers are kept by the parent image (and the container using it); the
    // lease covers them anyway, in case the parent is removed while this commit runs.
    let chains: Vec<Digest> = layers.iter().map(|l| l.chain_id.clone()).collect();
    let blobs: Vec<Digest> = layers.iter().map(|l| l.blob_digest.clone()).collect();
    let lease = Lease::new(store, "commit", &blobs, &chains)?;
    let mut layers = layers.clone();
    let mut new_diff: Option<Digest> = None;
    if !empty {
        let layer = tar_layer(store, upper, layers.last().map(|l| &l.chain_id), &lease)?;
        new_diff = Some(layer.diff_id.clone());
        layers.push(layer);
    }
    write_commit(store, &parent, runtime, container, opts, layers, new_diff)
}

fn write_commit(
    store: &Store,
    parent: &Value,
    runtime: ContainerConfig,
    container: &ContainerSide,
    opts: &CommitOptions,
    layers: Vec<NewLayer>,
    new_diff: Option<Digest>,
) -> Result<String> {
    let created = oci_model::time::now_rfc3339();
    let author = opts.author.clone().filter(|a| !a.is_empty());
    let comment = opts.message.clone().filter(|m| !m.is_empty());
    let mut entry = Map::new();
    entry.insert("created".into(), json!(created));
    if let Some(a) = &author {
        entry.insert("author".into(), json!(a));
    }
    let created_by = container.config.cmd.clone().unwrap_or_default().join(" ");
    if !created_by.is_empty() {
        entry.insert("created_by".into(), json!(created_by));
    }
    if let Some(m) = &comment {
        entry.insert("comment".into(), json!(m));
    }
    if new_diff.is_none() {
        entry.insert("empty_layer".into(), json!(true));
    }

    let mut o = Map::new();
    let copy = |o: &mut Map<String, Value>, k: &str| {
        if let Some(v) = parent.get(k).filter(|v| !v.is_null()) {
            o.insert(k.into(), v.clone());
        }
    };
    copy(&mut o, "architecture");
    if let Some(a) = &author {
        o.insert("author".into(), json!(a));
    }
    if let Some(m) = &comment {
        o.insert("comment".into(), json!(m));
    }
    o.insert("config".into(), build::docker_runtime_config(&runtime));
    o.insert("container".into(), json!(container.id));
    o.insert("created".into(), json!(created));
    let mut history = parent
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    history.push(Value::Object(entry));
    o.insert("history".into(), Value::Array(history));
    copy(&mut o, "os");
    copy(&mut o, "os.features");
    copy(&mut o, "os.version");
    let mut diff_ids: Vec<Value> = parent
        .get("rootfs")
        .and_then(|r| r.get("diff_ids"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(d) = &new_diff {
        diff_ids.push(json!(d.to_string()));
    }
    o.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": diff_ids}),
    );
    copy(&mut o, "variant");
    build::write_image(store, &Value::Object(o), &layers, opts.reference.as_ref())
}

/// Writes `upper` as an OCI layer tar straight into [`build::store_layer`] (a pipe between a
/// writer thread and the compressor), on top of `parent`.
fn tar_layer(
    store: &Store,
    upper: &Path,
    parent: Option<&Digest>,
    lease: &Lease<&Store>,
) -> Result<NewLayer> {
    let (reader, writer) = std::io::pipe()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("creating pipe: {e}")))?;
    std::thread::scope(|s| {
        let upper = upper.to_path_buf();
        let producer =
            s.spawn(move || archive::write_tree(&upper, TreeMode::OverlayDiff, writer).map(|_| ()));
        let stored = build::store_layer(store, reader, parent, lease);
        let produced = producer.join().unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Internal,
                "layer writer thread panicked",
            ))
        });
        // The writer's failure explains a short stream better than the reader's view of it.
        produced.and(stored)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::import::{self, ImportOptions, ImportSource};
    use std::collections::BTreeMap;
    use std::fs;
    use std::sync::Arc;
    use store::config::Config;

    fn base_image(store: &Arc<Store>, tmp: &Path) -> String {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [
            ("etc/keep", &b"k"[..]),
            ("etc/gone", b"g"),
            ("opq/old", b"o"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            b.append_data(&mut h, name, data).unwrap();
        }
        let file = tmp.join("base.tar");
        fs::write(&file, b.into_inner().unwrap()).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(import::import(
            store,
            ImportSource::File(file),
            ImportOptions {
                changes: vec!["CMD [\"sh\"]".into(), "ENV X=1".into(), "LABEL a=1".into()],
                ..Default::default()
            },
            &crate::progress::discard(),
        ))
        .unwrap()
    }

    #[test]
    fn merge_follows_docker() {
        let container = ContainerConfig {
            user: Some("nobody".into()),
            env: Some(vec!["X=1".into(), "Y=old".into()]),
            cmd: Some(vec!["sh".into()]),
            labels: Some(BTreeMap::from([("a".into(), "1".into())])),
            working_dir: Some("/w".into()),
            ..Default::default()
        };
        let mut user = ContainerConfig::default();
        changes::apply_changes(&mut user, &["ENV Y=new".into()]).unwrap();
        merge(&mut user, &container);
        assert_eq!(user.env.unwrap(), ["Y=new", "X=1"]);
        assert_eq!(user.user.as_deref(), Some("nobody"));
        assert_eq!(user.cmd.unwrap(), ["sh"]);
        assert_eq!(user.labels.unwrap()["a"], "1");
        assert_eq!(user.working_dir.as_deref(), Some("/w"));
        // An ENTRYPOINT change keeps the container's Cmd out.
        let mut user = ContainerConfig::default();
        changes::apply_changes(&mut user, &["ENTRYPOINT [\"/bin/x\"]".into()]).unwrap();
        merge(&mut user, &container);
        assert_eq!(user.cmd, None);
    }

    #[test]
    fn upper_dir_commits_as_a_layer_on_the_parent() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: whiteouts in an upper directory need root (mknod, trusted xattrs)");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&tmp.path().join("store"), Config::default()).unwrap());
        let parent = base_image(&store, tmp.path());
        // An upper directory as overlayfs leaves it.
        let upper = tmp.path().join("upper");
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::write(upper.join("etc/new"), b"new\n").unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            upper.join("etc/gone"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0),
            0,
        )
        .unwrap();
        fs::create_dir_all(upper.join("opq")).unwrap();
        fs::write(upper.join("opq/fresh"), b"f").unwrap();
        rustix::fs::setxattr(
            upper.join("opq"),
            "trusted.overlay.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        let side = ContainerSide {
            id: "c".repeat(64),
            config: ContainerConfig {
                env: Some(vec!["X=1".into()]),
                cmd: Some(vec!["sh".into(), "-c".into(), "echo new > /etc/new".into()]),
                ..Default::default()
            },
        };
        let opts = CommitOptions {
            author: Some("me".into()),
            message: Some("msg".into()),
            changes: vec!["ENV Y=2".into()],
            reference: Some(import::parse_repository("imp/committed:1").unwrap()),
        };
        let id = commit_upper(&store, &upper, &parent, &side, &opts).unwrap();
        let db = store.db();
        let image = db.image(&id).unwrap().unwrap();
        let parent_rec = db.image(&parent).unwrap().unwrap();
        assert_eq!(image.layers.len(), 2);
        assert_eq!(image.layers[0], parent_rec.layers[0]);
        let cfg: Value =
            serde_json::from_slice(&store.content.read(&Digest::parse(&id).unwrap()).unwrap())
                .unwrap();
        assert_eq!(cfg["config"]["Env"], json!(["Y=2", "X=1"]));
        assert_eq!(
            cfg["config"]["Cmd"],
            json!(["sh", "-c", "echo new > /etc/new"])
        );
        assert_eq!(cfg["author"], "me");
        assert_eq!(cfg["comment"], "msg");
        assert_eq!(cfg["container"], "c".repeat(64));
        let h = cfg["history"].as_array().unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[1]["created_by"], "sh -c echo new > /etc/new");
        assert_eq!(h[1]["author"], "me");
        assert_eq!(h[1]["comment"], "msg");
        assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
        // The new layer holds OCI whiteouts, unpacked back into overlay form.
        let blob = db.layer(&image.layers[1]).unwrap().unwrap().blob_digest;
        let mut names = Vec::new();
        let gz = flate2::read::GzDecoder::new(store.content.open_blob(&blob).unwrap());
        for e in tar::Archive::new(gz).entries().unwrap() {
            names.push(e.unwrap().path().unwrap().to_string_lossy().into_owned());
        }
        assert_eq!(
            names,
            [
                "etc",
                "etc/.wh.gone",
                "etc/new",
                "opq",
                "opq/.wh..wh..opq",
                "opq/fresh"
            ]
        );
        let dir = store.snapshots.layer_dir(&image.layers[1]);
        assert_eq!(fs::read(dir.join("etc/new")).unwrap(), b"new\n");
        assert_eq!(
            db.resolve_tag("docker.io/imp/committed", "1")
                .unwrap()
                .as_deref(),
            Some(id.as_str())
        );
    }

    #[test]
    fn empty_upper_adds_no_layer() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&tmp.path().join("store"), Config::default()).unwrap());
        let parent = base_image(&store, tmp.path());
        let upper = tmp.path().join("upper");
        fs::create_dir_all(&upper).unwrap();
        let id = commit_upper(
            &store,
            &upper,
            &parent,
            &ContainerSide::default(),
            &CommitOptions::default(),
        )
        .unwrap();
        let image = store.db().image(&id).unwrap().unwrap();
        assert_eq!(image.layers.len(), 1);
        let cfg: Value =
            serde_json::from_slice(&store.content.read(&Digest::parse(&id).unwrap()).unwrap())
                .unwrap();
        assert_eq!(cfg["history"][1]["empty_layer"], true);
        // The image's defaults stay.
        assert_eq!(cfg["config"]["Cmd"], json!(["sh"]));
        assert_eq!(cfg["config"]["Env"], json!(["X=1"]));
        assert_eq!(cfg["config"]["Labels"], json!({"a": "1"}));
    }
}
