//! `strata registry serve | gc | repo set`: strata's own registry. Argument handling only; the
//! server, storage, gc and metadata live in the `registry-server` crate.
//!
//! For these commands `--root DIR` (given on the command line) is the registry's storage
//! directory; otherwise the config file's `root`, else `<store root>/registry`. `--config FILE`
//! is the registry's config file (JSON: `addr`, `root`, `delete-enabled`, `log`, `auth`).

use crate::Global;
use clap::{Args, Subcommand};
use oci_model::{Error, ErrorKind, Result};
use registry_server::storage::fs::FsBackend;
use registry_server::{ConfigFile, Options, gc, search, server};
use std::path::PathBuf;
use store::config::default_root;

#[derive(Subcommand)]
pub enum RegistryCommand {
    /// Run the registry: the OCI distribution API and Docker Hub's search API
    Serve(ServeArgs),
    /// Delete blobs no manifest references, and upload sessions older than an hour
    Gc(GcArgs),
    /// Manage repository metadata (shown by search)
    #[command(subcommand)]
    Repo(RepoCommand),
}

#[derive(Args)]
#[command(
    after_help = "The storage directory is --root DIR, else the config file's \"root\", \
else <store root>/registry.\nThe registry listens on loopback unless told otherwise: \
--addr 0.0.0.0:PORT exposes it to every network the host is on."
)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:5000; 0.0.0.0:PORT listens on every interface)
    #[arg(long, value_name = "ADDR")]
    pub addr: Option<String>,
    /// Log one line per request to stderr
    #[arg(long, short = 'v', visible_alias = "verbose")]
    pub log: bool,
}

#[derive(Args)]
#[command(
    after_help = "Run it with the server stopped, or accept that a push in progress \
(blobs uploaded, manifest not yet pushed) may have to upload its blobs again."
)]
pub struct GcArgs {
    /// Print what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Subcommand)]
pub enum RepoCommand {
    /// Set a repository's description, stars or official flag
    Set(RepoSetArgs),
}

#[derive(Args)]
pub struct RepoSetArgs {
    /// Repository name (e.g. library/ubuntu)
    pub name: String,
    /// Description shown by search
    #[arg(long)]
    pub description: Option<String>,
    /// Star count
    #[arg(long)]
    pub stars: Option<u64>,
    /// Mark the repository official (--official=false to clear)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub official: Option<bool>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::invalid(msg)
}

/// The config file given with `--config`, if any.
fn config_file(global: &Global) -> Result<ConfigFile> {
    match &global.config {
        Some(p) => ConfigFile::load(p),
        None => Ok(ConfigFile::default()),
    }
}

/// The registry's storage directory.
fn registry_root(global: &Global, cfg: &ConfigFile) -> PathBuf {
    if global.root_from_command_line
        && let Some(r) = &global.root
    {
        return r.clone();
    }
    if let Some(r) = &cfg.root {
        return r.clone();
    }
    global
        .root
        .clone()
        .unwrap_or_else(default_root)
        .join("registry")
}

pub fn run(global: &Global, cmd: RegistryCommand) -> Result<u8> {
    match cmd {
        RegistryCommand::Serve(a) => serve(global, a),
        RegistryCommand::Gc(a) => gc(global, a),
        RegistryCommand::Repo(RepoCommand::Set(a)) => repo_set(global, a),
    }
}

fn serve(global: &Global, args: ServeArgs) -> Result<u8> {
    let cfg = config_file(global)?;
    let mut opts = Options::new(&registry_root(global, &cfg));
    if let Some(a) = args.addr.or(cfg.addr) {
        opts.addr = a;
    }
    opts.delete_enabled = cfg.delete_enabled.unwrap_or(true);
    opts.log = args.log || cfg.log.unwrap_or(false);
    opts.auth = cfg.auth;
    if let Some(p) = &global.config {
        opts.base_dir = server::config_dir(p);
    }
    // main() restores SIGPIPE's default for the CLI's output; a server writing to a socket
    // its client closed must get EPIPE instead of dying.
    // SAFETY: changing a signal disposition before the runtime's threads start.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("starting runtime: {e}")))?;
    rt.block_on(registry_server::serve(
        opts,
        registry_server::shutdown_signal(),
        |addr| eprintln!("strata registry listening on http://{addr}"),
    ))?;
    Ok(0)
}

fn open(global: &Global) -> Result<FsBackend> {
    let cfg = config_file(global)?;
    let root = registry_root(global, &cfg);
    if !root.is_dir() {
        return Err(Error::not_found(format!(
            "no registry storage at {}",
            root.display()
        )));
    }
    FsBackend::new(&root).map_err(|e| invalid(format!("opening {}: {e}", root.display())))
}

fn gc(global: &Global, args: GcArgs) -> Result<u8> {
    let backend = open(global)?;
    gc::collect(&backend, args.dry_run, &mut |line| println!("{line}"))
        .map_err(|e| Error::new(ErrorKind::Internal, format!("registry gc: {e}")))?;
    Ok(0)
}

fn repo_set(global: &Global, args: RepoSetArgs) -> Result<u8> {
    let cfg = config_file(global)?;
    let root = registry_root(global, &cfg);
    let backend =
        FsBackend::new(&root).map_err(|e| invalid(format!("opening {}: {e}", root.display())))?;
    search::set_meta(
        &backend,
        &args.name,
        args.description,
        args.stars,
        args.official,
    )
    .map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => invalid(e.to_string()),
        _ => Error::new(ErrorKind::Internal, e.to_string()),
    })?;
    Ok(0)
}
