//! `strata commit [-a AUTHOR] [-m MESSAGE] [-c CHANGE]… CONTAINER [REPOSITORY[:TAG]]`
//! (`container commit`): the container's changes become a new image; prints its ID.

use super::Ctx;
use clap::Args;
use engine::images::commit::{self as commit_op, CommitOptions};
use engine::images::tag;
use oci_model::Result;

#[derive(Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long, value_name = "string")]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short, long, value_name = "string")]
    pub message: Option<String>,
    /// Pause container during commit (accepted for compatibility; the writable layer is read
    /// as it is)
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    pub container: String,
    /// REPOSITORY[:TAG]
    pub repository: Option<String>,
}

pub fn run(ctx: &Ctx, a: CommitArgs) -> Result<u8> {
    let reference = match a.repository.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => match tag::parse_target(r) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("{}", e.message);
                return Ok(1);
            }
        },
        None => None,
    };
    let store = ctx.store()?;
    let c = engine::containers::find(&store, &a.container)?;
    let opts = CommitOptions {
        author: a.author,
        message: a.message,
        changes: a.change,
        reference,
    };
    let id = commit_op::commit_container(&store, &c, &opts)?;
    println!("{id}");
    Ok(0)
}
