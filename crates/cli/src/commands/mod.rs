//! One module per command; each parses nothing itself (clap did), calls the engine and renders
//! what it returns.

pub mod commit;
pub mod container;
pub mod export;
pub mod history;
pub mod images;
pub mod import;
pub mod info;
pub mod inspect;
pub mod login;
pub mod manifest;
pub mod mount;
pub mod pull;
pub mod push;
pub mod registry;
pub mod rmi;
pub mod search;
pub mod system;
pub mod tag;

use crate::{Cli, Command, ContainerCommand, Global, ImageCommand, ManifestCommand, SystemCommand};
use oci_model::Result;
use oci_model::reference::Reference;
use registry_client::{ClientOptions, RegistryClient};
use std::path::PathBuf;
use std::sync::Arc;
use store::Store;
use store::config::{Config, default_config_path, default_root};

pub struct Ctx {
    pub global: Global,
    pub config: Config,
}

impl Ctx {
    fn new(global: Global) -> Result<Ctx> {
        let path = global.config.clone().unwrap_or_else(default_config_path);
        let config = Config::load(&path)?;
        Ok(Ctx { global, config })
    }

    /// The store root, without opening the store.
    pub fn root(&self) -> PathBuf {
        self.global.root.clone().unwrap_or_else(default_root)
    }

    pub fn store(&self) -> Result<Arc<Store>> {
        Ok(Arc::new(Store::open(&self.root(), self.config.clone())?))
    }

    pub fn client(&self) -> Result<RegistryClient> {
        let opts = ClientOptions {
            insecure_registries: self.config.insecure_registries.clone(),
            ..ClientOptions::default()
        };
        RegistryClient::new(opts)
    }
}

/// The async runtime of a command. Its threads block SIGPIPE: strata dies quietly on a closed
/// stdout like Go programs (main.rs sets SIGPIPE to its default), but a registry closing a
/// connection while a vectored write is under way must be an EPIPE error, not the end of strata.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(block_sigpipe)
        .enable_all()
        .build()
        .map_err(|e| {
            oci_model::Error::new(
                oci_model::ErrorKind::Internal,
                format!("starting runtime: {e}"),
            )
        })
}

fn block_sigpipe() {
    // SAFETY: the set is initialised by sigemptyset before use, and pthread_sigmask only changes
    // the calling thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Completes on SIGINT or SIGTERM with the exit code a shell reports for it (130, 143).
pub async fn interrupted() -> i32 {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => 130,
        _ = term.recv() => 143,
    }
}

/// Push and pull of a name without a tag and without `-a`: Docker's `latest`, announced unless
/// quiet.
pub fn with_default_tag(reference: Reference, all_tags: bool, quiet: bool) -> Reference {
    if all_tags || !reference.is_name_only() {
        return reference;
    }
    if !quiet {
        println!("Using default tag: latest");
    }
    reference.with_default_tag()
}

/// Runs a command; the returned value is the process exit code.
pub fn run(cli: Cli) -> Result<u8> {
    // The registry commands read their own config file (`--config` is the registry's).
    if let Command::Registry(cmd) = cli.command {
        return registry::run(&cli.global, cmd);
    }
    let ctx = Ctx::new(cli.global)?;
    match cli.command {
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => pull::run(&ctx, a),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => push::run(&ctx, a),
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::run(&ctx, a),
        Command::Inspect(a) | Command::Image(ImageCommand::Inspect(a)) => inspect::run(&ctx, a),
        Command::Image(ImageCommand::Mount(a)) => mount::mount(&ctx, a),
        Command::Image(ImageCommand::Unmount(a)) => mount::unmount(&ctx, a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => tag::run(&ctx, a),
        Command::History(a) | Command::Image(ImageCommand::History(a)) => history::run(&ctx, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => rmi::rmi(&ctx, a),
        Command::Image(ImageCommand::Prune(a)) => rmi::image_prune(&ctx, a),
        Command::System(SystemCommand::Prune(a)) => rmi::system_prune(&ctx, a),
        Command::Info(a) | Command::System(SystemCommand::Info(a)) => info::run(&ctx, a),
        Command::System(SystemCommand::Df(a)) => system::df(&ctx, a),
        Command::Manifest(ManifestCommand::Inspect(a)) => manifest::inspect(&ctx, a),
        Command::Manifest(ManifestCommand::Create(a)) => manifest::create(&ctx, a),
        Command::Manifest(ManifestCommand::Annotate(a)) => manifest::annotate(&ctx, a),
        Command::Manifest(ManifestCommand::Push(a)) => manifest::push(&ctx, a),
        Command::Manifest(ManifestCommand::Rm(a)) => manifest::rm(&ctx, a),
        Command::Search(a) => search::run(&ctx, a),
        Command::Login(a) => login::login(&ctx, a),
        Command::Logout(a) => login::logout(&ctx, a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => import::run(&ctx, a),
        Command::Export(a) | Command::Container(ContainerCommand::Export(a)) => {
            export::run(&ctx, a)
        }
        Command::Commit(a) | Command::Container(ContainerCommand::Commit(a)) => {
            commit::run(&ctx, a)
        }
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => container::run(&ctx, a),
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            container::create(&ctx, a)
        }
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => {
            container::start(&ctx, a)
        }
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => {
            container::stop(&ctx, a)
        }
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => {
            container::restart(&ctx, a)
        }
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => {
            container::kill(&ctx, a)
        }
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => {
            container::wait(&ctx, a)
        }
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => container::rm(&ctx, a),
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => container::ps(&ctx, a),
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => {
            container::logs(&ctx, a)
        }
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => {
            container::exec(&ctx, a)
        }
        Command::Container(ContainerCommand::Inspect(a)) => container::inspect(&ctx, a),
        Command::Container(ContainerCommand::Prune(a)) => container::prune(&ctx, a),
        Command::ContainerMonitor(a) => container::monitor(&ctx, a),
        Command::Registry(_) => unreachable!("handled above"),
    }
}
