//! `stop`: Docker's two-step stop, the container's stop signal and then SIGKILL once the
//! timeout passes. It returns when the exit is recorded, so a following `start` or `rm` sees
//! the container stopped.

use super::runtime_for;
use super::wait::wait_not_running;
use oci_model::Result;
use runtime::driver::Runtime;
use std::time::Duration;
use store::Store;
use store::metadata::ContainerRecord;

/// The stop signal (image `StopSignal`, default SIGTERM), then SIGKILL after `timeout`; a
/// container that is not running is left alone.
pub fn stop(store: &Store, c: &ContainerRecord, timeout: Duration) -> Result<()> {
    if !c.state.is_running() {
        return Ok(());
    }
    let rt = runtime_for(store, c)?;
    let sig = c
        .config
        .stop_signal
        .as_deref()
        .unwrap_or("TERM")
        .trim_start_matches("SIG")
        .to_string();
    let _ = rt.kill(&c.id, &sig);
    let after = wait_not_running(store, &c.id, Some(timeout))?;
    if after.is_some_and(|a| a.state.is_running()) {
        let _ = rt.kill(&c.id, "KILL");
        wait_not_running(store, &c.id, Some(Duration::from_secs(30)))?;
    }
    Ok(())
}
