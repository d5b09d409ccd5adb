//! `rm`: a container's runtime state, root filesystem mount, directory and record, in that
//! order, so that a failure part-way leaves a record to retry `rm` with.

use super::wait::wait_not_running;
use super::{internal, runtime_for};
use oci_model::{Error, ErrorKind, Result};
use runtime::driver::Runtime;
use runtime::{container_dir, rootfs};
use std::time::Duration;
use store::Store;
use store::metadata::ContainerRecord;

/// Removes the container's runtime state, mount, directory and record.
pub(super) fn remove_files(store: &Store, c: &ContainerRecord) -> Result<()> {
    if let Ok(rt) = runtime_for(store, c) {
        let _ = rt.delete(&c.id, true);
    }
    rootfs::unmount(store.root(), &c.id)?;
    let dir = container_dir(store.root(), &c.id);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(internal(format!("remove {}", dir.display()), e)),
    }
    store.db().remove_container(&c.id)
}

/// A running container is refused unless `force` (then killed first).
pub fn remove(store: &Store, c: &ContainerRecord, force: bool) -> Result<()> {
    if !c.state.can_remove() {
        if !force {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                    c.name
                ),
            ));
        }
        let rt = runtime_for(store, c)?;
        let _ = rt.kill(&c.id, "KILL");
        wait_not_running(store, &c.id, Some(Duration::from_secs(30)))?;
    }
    let fresh = store.db().container(&c.id)?;
    match fresh {
        Some(fresh) => remove_files(store, &fresh),
        None => Ok(()),
    }
}
