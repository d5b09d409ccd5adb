//! `logs`: the engine's log entries, each written to the stream it came from.

use super::fail;
use crate::commands::Ctx;
use clap::Args;
use engine::containers::find;
use engine::containers::logs::{self as logs_op, LogsOptions};
use oci_model::Result;
use runtime::logs::LogEntry;
use std::io::Write;

#[derive(Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    pub container: String,
}

fn print_entries(entries: &[LogEntry], timestamps: bool) {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for e in entries {
        let w: &mut dyn Write = if e.stream == "stderr" {
            &mut err
        } else {
            &mut out
        };
        if timestamps {
            let _ = write!(w, "{} ", e.time);
        }
        let _ = w.write_all(&e.text);
        if e.full {
            let _ = w.write_all(b"\n");
        }
        let _ = w.flush();
    }
}

pub fn logs(ctx: &Ctx, a: LogsArgs) -> Result<u8> {
    let store = ctx.store()?;
    let c = match find(&store, &a.container) {
        Ok(c) => c,
        Err(e) => return fail(&e, 1),
    };
    let opts = LogsOptions {
        // `all`, empty or not a number: everything.
        tail: a.tail.parse::<usize>().ok(),
        follow: a.follow,
    };
    logs_op::logs(&store, &c, opts, |entries| {
        print_entries(entries, a.timestamps)
    })?;
    Ok(0)
}
