//! `strata export [-o FILE] CONTAINER` (`container export`): the container's flattened root
//! filesystem as a tar, to stdout (never to a terminal, like docker) or to FILE.

use super::Ctx;
use clap::Args;
use image_store::container::lifecycle;
use image_store::images::export as export_op;
use oci_model::{Error, ErrorKind, Result};
use std::io::{IsTerminal, Write};

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
    let store = ctx.store()?;
    let c = lifecycle::find(&store, &a.container)?;
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
            let file = std::fs::File::create(&tmp)
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
