//! `restart`: [`super::stop::stop`], then a detached start of the record as the stop left it.

use super::find;
use super::start::start_detached;
use super::stop::stop;
use runtime::error::RuntimeError;
use std::path::Path;
use std::time::Duration;
use store::Store;
use store::metadata::ContainerRecord;

/// Stops container `c` (SIGKILL after `timeout`) and starts it again in the background through
/// `exe`'s monitor.
pub fn restart(
    store: &Store,
    c: &ContainerRecord,
    timeout: Duration,
    exe: &Path,
) -> Result<(), RuntimeError> {
    stop(store, c, timeout)?;
    let fresh = find(store, &c.id)?;
    start_detached(store, &fresh, exe)
}
