//! `strata pull [-a] [-q] [--platform P] NAME[:TAG|@DIGEST]`

use super::Ctx;
use crate::progress;
use clap::Args;
use engine::images::pull::{self as pull_op, PullOptions};
use oci_model::reference::Reference;
use oci_model::{Error, Result, platform};

#[derive(Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable (os[/arch[/variant]])
    #[arg(long, env = "DOCKER_DEFAULT_PLATFORM")]
    pub platform: Option<String>,
    /// Layers downloaded and unpacked at once (default 3, or the config's max-concurrent-downloads)
    #[arg(long, value_name = "N")]
    pub max_concurrent_downloads: Option<usize>,
    /// NAME[:TAG|@DIGEST]
    pub name: String,
}

pub fn run(ctx: &Ctx, a: PullArgs) -> Result<u8> {
    let reference = Reference::parse_normalized(&a.name)?;
    if a.all_tags && !reference.is_name_only() {
        return Err(Error::invalid("tag can't be used with --all-tags/-a"));
    }
    let platform = a
        .platform
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(platform::parse)
        .transpose()?;
    let max = engine::images::max_concurrent(
        "--max-concurrent-downloads",
        a.max_concurrent_downloads,
        ctx.config.max_concurrent_downloads,
    )?;
    let reference = super::with_default_tag(reference, a.all_tags, a.quiet);
    let store = ctx.store()?;
    let client = ctx.client()?;
    let sink = progress::sink(a.quiet);
    let opts = PullOptions {
        platform,
        max_concurrent_downloads: max,
    };
    let rt = super::runtime()?;
    rt.block_on(async {
        if a.all_tags {
            pull_op::pull_all_tags(&store, &client, &reference, &opts, &sink)
                .await
                .map(|_| ())
        } else {
            pull_op::pull(&store, &client, &reference, &opts, &sink)
                .await
                .map(|_| ())
        }
    })?;
    println!("{reference}");
    Ok(0)
}
