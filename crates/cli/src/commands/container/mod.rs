//! Container commands: run, create, start, stop, kill, restart, wait, rm, ps, logs, exec,
//! container inspect, container prune (and the hidden detached-container monitor). Each parses
//! its flags, calls one verb of `engine::containers` and renders the result with Docker's
//! texts and exit codes.

mod exec;
mod inspect;
mod logs;
mod ps;
mod run;

pub use exec::{ExecArgs, exec};
pub use inspect::{InspectArgs, inspect};
pub use logs::{LogsArgs, logs};
pub use ps::{PsArgs, ps};
pub use run::{CreateArgs, RunArgs, create, run};

use super::Ctx;
use crate::format::units::human_size;
use clap::Args;
use engine::containers::wait as wait_op;
use engine::containers::{find, kill as kill_op, monitor as monitor_op, prune as prune_op};
use engine::containers::{remove, restart as restart_op, start as start_op, stop as stop_op};
use oci_model::{Error, ErrorKind, Result};
use runtime::error::RuntimeError;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use store::Store;
use store::metadata::ContainerRecord;

/// Prints `Error: <message>` and returns `code`.
fn fail(e: &Error, code: u8) -> Result<u8> {
    eprintln!("Error: {}", e.message);
    Ok(code)
}

/// A failed `run`/`start`/`exec`: Docker's exit code for it.
fn fail_start(e: &RuntimeError) -> Result<u8> {
    fail(&e.error, e.exit)
}

fn exe() -> Result<PathBuf> {
    std::env::current_exe().map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("cannot find the strata executable: {e}"),
        )
    })
}

#[derive(Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Runs `f` for each named container, printing errors as Docker does; exit 1 if any failed.
fn each(
    ctx: &Ctx,
    names: &[String],
    mut f: impl FnMut(&Store, &ContainerRecord, &str) -> Result<()>,
) -> Result<u8> {
    let store = ctx.store()?;
    let mut failed = false;
    for n in names {
        let r = find(&store, n).and_then(|c| f(&store, &c, n));
        if let Err(e) = r {
            eprintln!("Error: {}", e.message);
            failed = true;
        }
    }
    Ok(u8::from(failed))
}

pub fn start(ctx: &Ctx, a: StartArgs) -> Result<u8> {
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            return fail(
                &Error::invalid("you cannot start and attach multiple containers at once"),
                1,
            );
        }
        let store = ctx.store()?;
        let mut c = match find(&store, &a.containers[0]) {
            Ok(c) => c,
            Err(e) => return fail(&e, 1),
        };
        if !c.state.can_start() {
            return fail(
                &Error::invalid(format!("container {} is already running", c.id)),
                1,
            );
        }
        return match start_op::start_foreground(&store, &mut c, a.interactive) {
            Ok(code) => Ok(u8::try_from(code).unwrap_or(255)),
            Err(e) => fail_start(&e),
        };
    }
    let exe = exe()?;
    each(ctx, &a.containers, |store, c, n| {
        start_op::start_detached(store, c, &exe)?;
        println!("{n}");
        Ok(())
    })
}

#[derive(Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout", default_value_t = 10)]
    pub time: u64,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn stop(ctx: &Ctx, a: StopArgs) -> Result<u8> {
    each(ctx, &a.containers, |store, c, n| {
        stop_op::stop(store, c, Duration::from_secs(a.time))?;
        println!("{n}");
        Ok(())
    })
}

pub fn restart(ctx: &Ctx, a: StopArgs) -> Result<u8> {
    let exe = exe()?;
    each(ctx, &a.containers, |store, c, n| {
        restart_op::restart(store, c, Duration::from_secs(a.time), &exe)?;
        println!("{n}");
        Ok(())
    })
}

#[derive(Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn kill(ctx: &Ctx, a: KillArgs) -> Result<u8> {
    each(ctx, &a.containers, |store, c, n| {
        kill_op::kill(store, c, &a.signal)?;
        println!("{n}");
        Ok(())
    })
}

#[derive(Args)]
pub struct WaitArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn wait(ctx: &Ctx, a: WaitArgs) -> Result<u8> {
    each(ctx, &a.containers, |store, c, _| {
        println!("{}", wait_op::wait(store, c)?);
        Ok(())
    })
}

#[derive(Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container (strata has none)
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn rm(ctx: &Ctx, a: RmArgs) -> Result<u8> {
    each(ctx, &a.containers, |store, c, n| {
        remove::remove(store, c, a.force)?;
        println!("{n}");
        Ok(())
    })
}

#[derive(Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

pub fn prune(ctx: &Ctx, a: PruneArgs) -> Result<u8> {
    if !a.force {
        print!(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
        );
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y") {
            return Ok(0);
        }
    }
    let store = ctx.store()?;
    let report = prune_op::prune(&store)?;
    if !report.deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &report.deleted {
            println!("{id}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(report.reclaimed));
    Ok(0)
}

#[derive(Args)]
pub struct MonitorArgs {
    pub id: String,
}

/// The hidden detached-container monitor.
pub fn monitor(ctx: &Ctx, a: MonitorArgs) -> Result<u8> {
    let store = ctx.store()?;
    monitor_op::monitor(&store, &a.id)?;
    Ok(0)
}
