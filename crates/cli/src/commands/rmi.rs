//! `rmi` / `image rm` / `image remove`, `image prune` and `system prune`: the CLI side of
//! image removal (the rules live in `engine::images::{remove, prune}` and `store::gc`).

use super::Ctx;
use crate::format::units::human_size;
use clap::Args;
use engine::containers::remove::remove as remove_container;
use engine::images::prune::{PruneFilter, prune};
use engine::images::remove::{RemoveEvent, remove};
use oci_model::{ErrorKind, Result};
use std::io::Write;
use store::Store;

#[derive(Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    pub no_prune: bool,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// Removes every argument in turn. Errors are printed after the others were processed, one
/// `Error: …` line each; exit 1 if any failed — except with `-f` when every failure is a
/// missing image (docker: printed, exit 0).
pub fn rmi(ctx: &Ctx, a: RmiArgs) -> Result<u8> {
    let store = ctx.store()?;
    let mut errors = Vec::new();
    let mut out = std::io::stdout().lock();
    for name in &a.images {
        match remove(&store, name, a.force, a.no_prune) {
            Ok(events) => {
                for e in events {
                    let _ = writeln!(out, "{e}");
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let _ = out.flush();
    for e in &errors {
        eprintln!("Error: {}", e.message);
    }
    let only_missing = errors.iter().all(|e| e.kind == ErrorKind::NotFound);
    Ok(if errors.is_empty() || (a.force && only_missing) {
        0
    } else {
        1
    })
}

#[derive(Args)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long, value_name = "FILTER", value_parser = crate::usage::filter_arg)]
    pub filter: Vec<String>,
}

/// Docker's `PromptForConfirmation`: the question on stdout, yes only for `y`/`Y`.
fn confirm(warning: &str) -> bool {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y")
}

fn now_nanos() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// The `Deleted Images:` block (lowercase lines, as the docker CLI prints prune results) and
/// the bytes reclaimed.
fn prune_images(store: &Store, all: bool, filters: &[String]) -> Result<(String, u64)> {
    let filter = PruneFilter::parse(filters, now_nanos())?;
    let report = prune(store, all, &filter)?;
    let mut text = String::new();
    if !report.events.is_empty() {
        text.push_str("Deleted Images:\n");
        for e in &report.events {
            match e {
                RemoveEvent::Untagged(r) => text.push_str(&format!("untagged: {r}\n")),
                RemoveEvent::Deleted(d) => text.push_str(&format!("deleted: {d}\n")),
            }
        }
    }
    Ok((text, report.reclaimed))
}

pub fn image_prune(ctx: &Ctx, a: ImagePruneArgs) -> Result<u8> {
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    // Declining is docker's "cancelled" error, which it does not print: exit 0, no output.
    if !a.force && !confirm(warning) {
        return Ok(0);
    }
    let store = ctx.store()?;
    let (text, reclaimed) = prune_images(&store, a.all, &a.filter)?;
    if !text.is_empty() {
        println!("{text}");
    }
    println!("Total reclaimed space: {}", human_size(reclaimed));
    Ok(0)
}

#[derive(Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long, value_name = "FILTER", value_parser = crate::usage::filter_arg)]
    pub filter: Vec<String>,
}

fn dir_size(path: &std::path::Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

/// `system prune`: stopped containers, then dangling (or with `-a` unused) images, then the
/// store's garbage (a GC sweep). Docker's prompt lists networks and build cache too.
pub fn system_prune(ctx: &Ctx, a: SystemPruneArgs) -> Result<u8> {
    let images_line = if a.all {
        "  - all images without at least one container associated to them\n  - all build cache"
    } else {
        "  - all dangling images\n  - unused build cache"
    };
    let warning = format!(
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n{images_line}\n"
    );
    if !a.force && !confirm(&warning) {
        return Ok(0);
    }
    let store = ctx.store()?;
    let mut reclaimed = 0u64;
    let mut deleted = Vec::new();
    let containers = store.db().containers()?;
    for c in containers {
        if c.state.is_running() {
            continue;
        }
        let size = dir_size(&runtime::upper_dir(store.root(), &c.id));
        match remove_container(&store, &c, false) {
            Ok(()) => {
                reclaimed += size;
                deleted.push(c.id);
            }
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Conflict) => {}
            Err(e) => return Err(e),
        }
    }
    if !deleted.is_empty() {
        println!("Deleted Containers:\n{}\n", deleted.join("\n"));
    }
    let (text, freed) = prune_images(&store, a.all, &a.filter)?;
    reclaimed += freed;
    if !text.is_empty() {
        println!("{text}");
    }
    store::gc::collect(&store, store::gc::ORPHAN_GRACE)?;
    println!("Total reclaimed space: {}", human_size(reclaimed));
    Ok(0)
}
