//! `kill`: a signal to a running container, through its runtime (which knows the init's pid
//! in the container's pid namespace).

use super::runtime_for;
use oci_model::{Error, ErrorKind, Result};
use runtime::driver::Runtime;
use store::Store;
use store::metadata::ContainerRecord;

/// Sends `signal` (a name like `KILL`/`SIGTERM` or a number) to a running container.
pub fn kill(store: &Store, c: &ContainerRecord, signal: &str) -> Result<()> {
    if !c.state.can_kill() {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "Cannot kill container: {}: container {} is not running",
                c.name, c.id
            ),
        ));
    }
    let sig = signal.trim_start_matches("SIG");
    runtime_for(store, c)?.kill(&c.id, sig)
}
