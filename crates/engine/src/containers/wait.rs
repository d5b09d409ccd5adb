//! `wait`: polling the container's record until it is no longer running. Whoever waits for the
//! process (strata in the foreground, or the monitor) records the exit there, and the store
//! corrects a running record whose process and monitor both died, so the record is enough.

use oci_model::Result;
use std::time::{Duration, Instant};
use store::Store;
use store::metadata::ContainerRecord;

/// Waits until container `id` is no longer running (or `timeout` passes); its record then.
pub fn wait_not_running(
    store: &Store,
    id: &str,
    timeout: Option<Duration>,
) -> Result<Option<ContainerRecord>> {
    let start = Instant::now();
    loop {
        let Some(c) = store.db().container(id)? else {
            return Ok(None);
        };
        if !c.state.is_running() {
            return Ok(Some(c));
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            return Ok(Some(c));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `wait`: blocks until container `c` stops; its exit code (0 when it was removed meanwhile).
pub fn wait(store: &Store, c: &ContainerRecord) -> Result<i64> {
    let done = wait_not_running(store, &c.id, None)?;
    Ok(done.and_then(|d| d.exit_code).unwrap_or(0))
}
