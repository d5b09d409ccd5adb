//! `strata push [-a] [-q] [--compression gzip|zstd] [--max-concurrent-uploads N] NAME[:TAG]`

use super::Ctx;
use crate::progress;
use clap::Args;
use engine::images::push::{self as push_op, PushOptions};
use oci_model::media_type::Compression;
use oci_model::reference::Reference;
use oci_model::{Error, Result};
use registry_client::{UploadMode, UploadOptions};

#[derive(Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Compression of the layers strata made (commit, import): gzip (as stored) or zstd
    /// (re-encoded, with a new manifest); pulled layers are always pushed as they are
    #[arg(long, value_name = "gzip|zstd")]
    pub compression: Option<String>,
    /// Layers uploaded at once (default 5, or the config's max-concurrent-uploads)
    #[arg(long, value_name = "N")]
    pub max_concurrent_uploads: Option<usize>,
    /// NAME[:TAG]
    pub name: String,
}

/// `STRATA_PUSH_CHUNK_SIZE=<bytes>`: send every blob in chunks of that size (tests, flaky links).
fn upload_options() -> UploadOptions {
    let mode = std::env::var("STRATA_PUSH_CHUNK_SIZE")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .map_or(UploadMode::Auto, UploadMode::Chunked);
    UploadOptions { mode }
}

/// Docker prints push failures as they come in its progress stream, and its own argument errors,
/// without an `Error:` prefix; so does this command (exit status 1).
pub fn run(ctx: &Ctx, a: PushArgs) -> Result<u8> {
    match push(ctx, a) {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("{}", e.message);
            Ok(1)
        }
    }
}

fn push(ctx: &Ctx, a: PushArgs) -> Result<()> {
    let reference = Reference::parse_normalized(&a.name)?;
    if a.all_tags && !reference.is_name_only() {
        return Err(Error::invalid("tag can't be used with --all-tags/-a"));
    }
    if reference.digest().is_some() {
        return Err(Error::invalid("cannot push a digest reference"));
    }
    let compression = match a.compression.as_deref() {
        None | Some("gzip") => None,
        Some("zstd") => Some(Compression::Zstd),
        Some(other) => {
            return Err(Error::invalid(format!(
                "invalid compression {other:?}: use gzip or zstd"
            )));
        }
    };
    let max = engine::images::max_concurrent(
        "--max-concurrent-uploads",
        a.max_concurrent_uploads,
        ctx.config.max_concurrent_uploads,
    )?;
    let reference = super::with_default_tag(reference, a.all_tags, a.quiet);
    let store = ctx.store()?;
    let client = ctx.client()?;
    let sink = progress::sink(a.quiet);
    let opts = PushOptions {
        max_concurrent_uploads: max,
        compression,
        upload: upload_options(),
    };
    let rt = super::runtime()?;
    rt.block_on(push_op::push(&store, &client, &reference, &opts, &sink))?;
    if a.quiet {
        println!("{reference}");
    }
    Ok(())
}
