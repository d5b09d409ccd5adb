//! `strata export [-o FILE] CONTAINER` (`container export`): the container's flattened root
//! filesystem as a tar, to stdout (never to a terminal, like docker) or to FILE.

use super::Ctx;
use clap::Args;
use engine::images::export as export_op;
use oci_model::{Error, ErrorKind, Result};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;

#[derive(Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "string")]
    pub output: Option<String>,
    pub container: String,
}

pub fn run(ctx: &Ctx, a: ExportArgs) -> Result<u8> {
    let to_stdout = a.output.as_deref().is_none_or(|o| o.is_empty() || o == "-");
    if to_stdout && std::io::stdout().is_terminal() {
        eprintln!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        return Ok(1);
    }
    if !to_stdout
        && let Some(path) = a.output.as_deref()
        && let Err(msg) = validate_output_path(std::path::Path::new(path))
    {
        eprintln!("failed to export container: {msg}");
        return Ok(1);
    }
    let store = ctx.store()?;
    let c = engine::containers::find(&store, &a.container)?;
    let write_err =
        |e: std::io::Error| Error::new(ErrorKind::Internal, format!("writing export: {e}"));
    match a.output.as_deref().filter(|_| !to_stdout) {
        Some(path) => {
            // Written beside the target and renamed, so a failed export leaves no partial file.
            let target = std::path::Path::new(path);
            let tmp = target.with_file_name(format!(
                ".{}.strata-export-{}",
                target
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default(),
                std::process::id()
            ));
            let file = std::fs::File::options()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| Error::invalid(format!("failed to export container: {e}")))?;
            let result = export_op::export_container(
                &store,
                &c,
                std::io::BufWriter::with_capacity(256 * 1024, file),
            )
            .and_then(|mut w| {
                w.flush().map_err(write_err)?;
                w.into_inner()
                    .map_err(|e| write_err(e.into_error()))?
                    .sync_all()
                    .map_err(write_err)
            })
            .and_then(|()| std::fs::rename(&tmp, target).map_err(write_err));
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result?;
        }
        None => {
            let stdout = std::io::stdout().lock();
            let mut w = export_op::export_container(
                &store,
                &c,
                std::io::BufWriter::with_capacity(256 * 1024, stdout),
            )?;
            w.flush().map_err(write_err)?;
        }
    }
    Ok(0)
}

/// The docker CLI's output-path checks (before the container is looked up): the parent must be
/// an existing directory and the path must not be a directory. The file is written with mode
/// 0600, as the CLI's temporary-file-and-rename does.
fn validate_output_path(path: &std::path::Path) -> std::result::Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && *d != std::path::Path::new("."));
    if let Some(dir) = dir {
        match std::fs::metadata(dir) {
            Err(e) => {
                return Err(format!(
                    "invalid output path: stat {}: {}",
                    dir.display(),
                    super::import::go_io_error(&e)
                ));
            }
            Ok(m) if !m.is_dir() => {
                return Err(format!(
                    "invalid output path: stat {}: not a directory",
                    dir.display()
                ));
            }
            Ok(_) => {}
        }
    }
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err("cannot write to a directory".into());
    }
    Ok(())
}
