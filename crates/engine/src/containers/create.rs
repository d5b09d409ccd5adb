//! `create`: a container from a local image. Everything is validated (name, binds, network,
//! runtime, working directory, user) before anything is written, and a failure after that
//! removes what was written, so a failed create leaves no record, directory or mount behind.

use super::{image_of, internal, now_rfc3339};
use oci_model::image_config::ImageConfig;
use oci_model::{Digest, Error, ErrorKind, Result};
use runtime::driver::Runtime;
use runtime::spec::{self, Bind, BundleSpec, NetworkMode};
use runtime::{bundle_config_path, container_dir, rootfs, rootfs_dir};
use store::Store;
use store::metadata::{ContainerConfig, ContainerRecord, ContainerState};

/// What `create`/`run` were asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The image as the user named it (Docker's `Config.Image`).
    pub image_ref: String,
    pub name: Option<String>,
    /// `-e` (already expanded) and `--env-file` entries, in order.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub entrypoint: Option<String>,
    pub args: Vec<String>,
    pub interactive: bool,
    pub tty: bool,
    /// `-v HOST:CTR[:ro]`
    pub binds: Vec<String>,
    pub network: Option<String>,
    pub auto_remove: bool,
    /// `--runtime` or the config's `runtime`.
    pub runtime: Option<String>,
}

fn image_config(store: &Store, image_id: &str) -> Result<ImageConfig> {
    let bytes = store.content.read(&Digest::parse(image_id)?)?;
    serde_json::from_slice(&bytes).map_err(|e| internal(format!("image config {image_id}"), e))
}

fn conflict(name: &str, id: &str) -> Error {
    Error::new(
        ErrorKind::Conflict,
        format!(
            "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
        ),
    )
}

fn name_owner(store: &Store, name: &str) -> Result<Option<String>> {
    Ok(store
        .db()
        .containers()?
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| c.id))
}

/// The name asked for (if free), or a generated one nobody has.
fn choose_name(store: &Store, wanted: Option<&str>) -> Result<String> {
    if let Some(n) = wanted {
        let n = runtime::validate_name(n)?;
        if let Some(owner) = name_owner(store, &n)? {
            return Err(conflict(&n, &owner));
        }
        return Ok(n);
    }
    let mut retry = 0;
    loop {
        let n = runtime::generate_name(retry)?;
        if name_owner(store, &n)?.is_none() {
            return Ok(n);
        }
        retry += 1;
    }
}

/// Removes whatever a failed create left behind.
fn discard(store: &Store, id: &str) {
    let _ = rootfs::unmount(store.root(), id);
    let _ = std::fs::remove_dir_all(container_dir(store.root(), id));
}

/// Creates a container from image `image_id` (already local).
pub fn create(store: &Store, image_id: &str, opts: &CreateOptions) -> Result<ContainerRecord> {
    let name = choose_name(store, opts.name.as_deref())?;
    let binds = opts
        .binds
        .iter()
        .map(|b| Bind::parse(b))
        .collect::<Result<Vec<_>>>()?;
    let network = NetworkMode::parse(opts.network.as_deref().unwrap_or("none"))?;
    let rt = runtime::driver::select(opts.runtime.as_deref(), store.root())?;
    let image = image_of(store, image_id)?;
    let config = image_config(store, image_id)?;
    let icfg = config.config.clone().unwrap_or_default();
    let args = spec::command_line(&icfg, opts.entrypoint.as_deref(), &opts.args)?;
    let workdir = match opts.workdir.as_deref().filter(|w| !w.is_empty()) {
        Some(w) if !w.starts_with('/') => {
            return Err(Error::invalid(format!(
                "the working directory '{w}' is invalid, it needs to be an absolute path"
            )));
        }
        Some(w) => w.to_string(),
        None => icfg
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into()),
    };
    let user = opts
        .user
        .clone()
        .or_else(|| icfg.user.clone())
        .unwrap_or_default();
    let mut env = icfg.env.clone().unwrap_or_default();
    spec::merge_env(&mut env, &opts.env);

    let id = runtime::generate_id()?;
    let hostname = id[..12].to_string();
    let dir = container_dir(store.root(), &id);
    fsutil::private_dir(&dir).map_err(|e| internal(format!("create {}", dir.display()), e))?;
    let result = (|| -> Result<ContainerRecord> {
        let driver = rootfs::mount(&store.snapshots, &id, &image.layers, None)?;
        let rootfs_path = rootfs_dir(store.root(), &id);
        let resolved = spec::resolve_user(&rootfs_path, if user.is_empty() { "0" } else { &user })?;
        let cwd_in_rootfs = rootfs_path.join(workdir.trim_start_matches('/'));
        if !cwd_in_rootfs.exists() {
            std::fs::create_dir_all(&cwd_in_rootfs)
                .map_err(|e| internal(format!("create working directory {workdir}"), e))?;
        }
        let bundle = BundleSpec {
            args: args.clone(),
            env: env.clone(),
            cwd: workdir.clone(),
            user: resolved,
            terminal: opts.tty,
            hostname: hostname.clone(),
            binds: binds.clone(),
            network,
        };
        let cfg_path = bundle_config_path(store.root(), &id);
        let text = serde_json::to_vec_pretty(&spec::runtime_config(&bundle))
            .map_err(|e| internal("encode config.json", e))?;
        std::fs::write(&cfg_path, text)
            .map_err(|e| internal(format!("write {}", cfg_path.display()), e))?;
        rootfs::unmount(store.root(), &id)?;
        let (entrypoint, cmd) = match opts.entrypoint.as_deref() {
            Some("") => (None, Some(opts.args.clone())),
            Some(e) => (Some(vec![e.to_string()]), Some(opts.args.clone())),
            None => (
                icfg.entrypoint.clone(),
                if opts.args.is_empty() {
                    icfg.cmd.clone()
                } else {
                    Some(opts.args.clone())
                },
            ),
        };
        let record = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            image_id: image_id.to_string(),
            image_ref: opts.image_ref.clone(),
            command: args.clone(),
            created_unix: jiff::Timestamp::now().as_second(),
            state: ContainerState::Created,
            pid: None,
            exit_code: None,
            started_at: None,
            finished_at: None,
            config: ContainerConfig {
                created: now_rfc3339(),
                hostname: hostname.clone(),
                user: user.clone(),
                env: env.clone(),
                cmd,
                entrypoint,
                working_dir: opts
                    .workdir
                    .clone()
                    .unwrap_or_else(|| icfg.working_dir.clone().unwrap_or_default()),
                labels: icfg.labels.clone().unwrap_or_default(),
                tty: opts.tty,
                open_stdin: opts.interactive,
                attach_stdin: opts.interactive,
                binds: binds.iter().map(Bind::to_docker).collect(),
                network_mode: network.name().to_string(),
                auto_remove: opts.auto_remove,
                runtime: rt.name().to_string(),
                driver: driver.name().to_string(),
                stop_signal: icfg.stop_signal.clone(),
                ..Default::default()
            },
        };
        store.db().insert_container(&record).map_err(|e| {
            if e.kind == ErrorKind::Conflict
                && let Ok(Some(owner)) = name_owner(store, &name)
            {
                return conflict(&name, &owner);
            }
            e
        })?;
        Ok(record)
    })();
    if result.is_err() {
        discard(store, &id);
    }
    result
}
