//! `strata`: Docker's image workflow from one daemonless binary.

mod commands;
mod format;
mod progress;
mod usage;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "strata",
    version,
    about = "A fast, daemonless, Docker-compatible container image engine"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct Global {
    /// Store root (default: /var/lib/strata as root, $XDG_DATA_HOME/strata otherwise); for
    /// `registry` commands, the registry's storage directory
    #[arg(long, global = true, env = "STRATA_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Strata config file (JSON: insecure-registries, max-concurrent-downloads); for `registry`
    /// commands, the registry's config file
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Whether `--root` was given on the command line (not through STRATA_ROOT).
    #[arg(skip)]
    pub root_from_command_line: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Download an image from a registry
    Pull(commands::pull::PullArgs),
    /// Upload an image to a registry
    Push(commands::push::PushArgs),
    /// List images
    Images(commands::images::ImagesArgs),
    /// Display detailed information on one or more images
    Inspect(commands::inspect::InspectArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(commands::tag::TagArgs),
    /// Show the history of an image
    History(commands::history::HistoryArgs),
    /// Remove one or more images
    Rmi(commands::rmi::RmiArgs),
    /// Display system-wide information
    Info(commands::info::InfoArgs),
    /// Manage strata
    #[command(subcommand)]
    System(SystemCommand),
    /// Manage Docker image manifests and manifest lists
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Search a registry for images
    Search(commands::search::SearchArgs),
    /// Log in to a registry
    Login(commands::login::LoginArgs),
    /// Log out from a registry
    Logout(commands::login::LogoutArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Create and run a new container from an image
    Run(commands::container::RunArgs),
    /// Create a new container
    Create(commands::container::CreateArgs),
    /// Start one or more stopped containers
    Start(commands::container::StartArgs),
    /// Stop one or more running containers
    Stop(commands::container::StopArgs),
    /// Restart one or more containers
    Restart(commands::container::StopArgs),
    /// Kill one or more running containers
    Kill(commands::container::KillArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(commands::container::WaitArgs),
    /// Remove one or more containers
    Rm(commands::container::RmArgs),
    /// List containers
    Ps(commands::container::PsArgs),
    /// Fetch the logs of a container
    Logs(commands::container::LogsArgs),
    /// Execute a command in a running container
    Exec(commands::container::ExecArgs),
    #[command(name = "__container-monitor", hide = true)]
    ContainerMonitor(commands::container::MonitorArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(commands::import::ImportArgs),
    /// Export a container's filesystem as a tar archive
    Export(commands::export::ExportArgs),
    /// Create a new image from a container's changes
    Commit(commands::commit::CommitArgs),
    /// Run and maintain strata's own registry
    #[command(subcommand)]
    Registry(commands::registry::RegistryCommand),
}

#[derive(Subcommand)]
pub enum ContainerCommand {
    /// Create and run a new container from an image
    Run(commands::container::RunArgs),
    /// Create a new container
    Create(commands::container::CreateArgs),
    /// Start one or more stopped containers
    Start(commands::container::StartArgs),
    /// Stop one or more running containers
    Stop(commands::container::StopArgs),
    /// Restart one or more containers
    Restart(commands::container::StopArgs),
    /// Kill one or more running containers
    Kill(commands::container::KillArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(commands::container::WaitArgs),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(commands::container::RmArgs),
    /// List containers
    #[command(aliases = ["ps", "list"])]
    Ls(commands::container::PsArgs),
    /// Fetch the logs of a container
    Logs(commands::container::LogsArgs),
    /// Execute a command in a running container
    Exec(commands::container::ExecArgs),
    /// Display detailed information on one or more containers
    Inspect(commands::container::InspectArgs),
    /// Remove all stopped containers
    Prune(commands::container::PruneArgs),
    /// Export a container's filesystem as a tar archive
    Export(commands::export::ExportArgs),
    /// Create a new image from a container's changes
    Commit(commands::commit::CommitArgs),
}

#[derive(Subcommand)]
pub enum ImageCommand {
    /// Download an image from a registry
    Pull(commands::pull::PullArgs),
    /// Upload an image to a registry
    Push(commands::push::PushArgs),
    /// List images
    #[command(alias = "list")]
    Ls(commands::images::ImagesArgs),
    /// Display detailed information on one or more images
    Inspect(commands::inspect::InspectArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(commands::tag::TagArgs),
    /// Show the history of an image
    History(commands::history::HistoryArgs),
    /// Mount an image's layers read-only as one filesystem and print its path
    Mount(commands::mount::MountArgs),
    /// Unmount an image mounted with `image mount`
    Unmount(commands::mount::MountArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(commands::import::ImportArgs),
    /// Remove one or more images
    #[command(aliases = ["rmi", "remove"])]
    Rm(commands::rmi::RmiArgs),
    /// Remove unused images
    Prune(commands::rmi::ImagePruneArgs),
}

#[derive(Subcommand)]
pub enum SystemCommand {
    /// Show strata disk usage
    Df(commands::system::DfArgs),
    /// Display system-wide information
    Info(commands::info::InfoArgs),
    /// Remove unused data
    Prune(commands::rmi::SystemPruneArgs),
}

#[derive(Subcommand)]
pub enum ManifestCommand {
    /// Add additional information to a local image manifest
    Annotate(commands::manifest::AnnotateArgs),
    /// Create a local manifest list for annotating and pushing to a registry
    Create(commands::manifest::CreateArgs),
    /// Display an image manifest, or manifest list
    Inspect(commands::manifest::InspectArgs),
    /// Push a manifest list to a repository
    Push(commands::manifest::PushArgs),
    /// Delete one or more manifest lists from local storage
    Rm(commands::manifest::RmArgs),
}

fn main() -> ExitCode {
    // Like Go programs (docker), die quietly on a closed pipe (`strata images | head -1`)
    // instead of panicking in print!.
    // SAFETY: resetting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|c| (c, m)));
    let cli = match parsed {
        Ok((mut c, m)) => {
            c.global.root_from_command_line =
                m.value_source("root") == Some(ValueSource::CommandLine);
            c
        }
        Err(e) => {
            let argv: Vec<String> = std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            if let Some(r) = usage::render(&Cli::command(), &argv, &e) {
                eprint!("{}", r.text);
                return ExitCode::from(r.code);
            }
            let code = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}
