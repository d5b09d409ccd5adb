//! `logs`: a detached container's `container.log` (written by its monitor), from the start or
//! the last lines, and with `follow` for as long as the container runs.

use oci_model::Result;
use runtime::logs::{self as log_file, LogEntry};
use std::time::Duration;
use store::Store;
use store::metadata::ContainerRecord;

/// What `logs` shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogsOptions {
    /// Only the last this many entries (all with `None`).
    pub tail: Option<usize>,
    /// Keep reading while the container runs.
    pub follow: bool,
}

/// Passes container `c`'s log entries to `emit`, in order, in batches as they are read.
pub fn logs(
    store: &Store,
    c: &ContainerRecord,
    opts: LogsOptions,
    mut emit: impl FnMut(&[LogEntry]),
) -> Result<()> {
    let path = runtime::log_path(store.root(), &c.id);
    let (entries, mut offset) = log_file::read_all(&path)?;
    let skip = opts.tail.map_or(0, |n| entries.len().saturating_sub(n));
    emit(&entries[skip..]);
    if !opts.follow {
        return Ok(());
    }
    loop {
        let running = store
            .db()
            .container(&c.id)?
            .is_some_and(|c| c.state.is_running());
        let (more, next) = log_file::read_from(&path, offset)?;
        offset = next;
        emit(&more);
        if !running {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
