//! `strata import [-c CHANGE]… [-m MESSAGE] [--platform P] FILE|URL|- [REPOSITORY[:TAG]]`
//! (`image import`): prints the new image's ID. As with the docker CLI, a file that cannot be
//! opened and an invalid repository name are reported without the `Error: ` prefix (the CLI
//! itself raises them), in that order.

use super::Ctx;
use crate::progress;
use clap::Args;
use engine::images::import::{self as import_op, ImportOptions, ImportSource};
use oci_model::{Result, platform};

#[derive(Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long, value_name = "string")]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string", env = "DOCKER_DEFAULT_PLATFORM")]
    pub platform: Option<String>,
    /// file|URL|- (a tarball, plain, gzip or zstd)
    pub source: String,
    /// REPOSITORY[:TAG]
    pub repository: Option<String>,
}

pub fn run(ctx: &Ctx, a: ImportArgs) -> Result<u8> {
    let source = ImportSource::parse(&a.source);
    if let ImportSource::File(path) = &source
        && let Err(e) = std::fs::File::open(path)
    {
        eprintln!("open {}: {}", path.display(), go_io_error(&e));
        return Ok(1);
    }
    let platform = match a.platform.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => match platform::parse(p) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("{}", e.message);
                return Ok(1);
            }
        },
        None => None,
    };
    let reference = match a.repository.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => match oci_model::reference::Reference::parse_normalized(r) {
            Ok(_) => Some(import_op::parse_repository(r)?),
            Err(e) => {
                eprintln!("{}", e.message);
                return Ok(1);
            }
        },
        None => None,
    };
    let store = ctx.store()?;
    let opts = ImportOptions {
        changes: a.change,
        message: a.message,
        platform,
        reference,
    };
    let sink = progress::stdout_sink();
    let root = store.root().to_path_buf();
    let id = super::runtime()?.block_on(async {
        tokio::select! {
            r = import_op::import(&store, source, opts, &sink) => r,
            code = super::interrupted() => {
                // The import's threads are not unwound: take its spool files away ourselves.
                engine::images::build::remove_own_temp_files(&root);
                std::process::exit(code);
            }
        }
    })?;
    println!("{id}");
    Ok(0)
}

/// Go's wording of the common open errors (`no such file or directory`, …).
pub fn go_io_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}
