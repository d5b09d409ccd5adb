//! Leases: what a writer (pull, push, import, commit, a test) is still putting together is
//! protected from the garbage collector until the image that references it is recorded.
//!
//! A lease is rows in the `leases` table (owner pid + `(kind, key)` resources, kinds `"blob"`
//! and `"layer"`), added while holding the store-wide GC lock (`<root>/locks/gc`), so a
//! collection either finished before the lease existed or sees it (see [`crate::gc`]). It is
//! removed when the [`Lease`] is dropped; leases of processes that died are swept by the
//! collector. One type serves every writer: it borrows the store (`Lease<&Store>`) or shares it
//! (`Lease<Arc<Store>>`, for leases that travel into blocking tasks).

use crate::Store;
use oci_model::{Digest, Error, Result};
use std::fs::{File, OpenOptions};
use std::ops::Deref;
use std::sync::Arc;

/// The store-wide GC lock, held until dropped.
pub struct GcLock {
    _file: File,
}

/// Takes the store-wide GC lock (blocking).
pub fn lock(store: &Store) -> Result<GcLock> {
    let path = store.root().join("locks").join("gc");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::internal(format_args!("open {}", path.display()), e))?;
    file.lock()
        .map_err(|e| Error::internal(format_args!("lock {}", path.display()), e))?;
    Ok(GcLock { _file: file })
}

/// A lease owned by this process, removed when dropped (and swept if the process dies).
pub struct Lease<S: Deref<Target = Store> = Arc<Store>> {
    store: S,
    id: String,
}

impl<S: Deref<Target = Store>> Lease<S> {
    /// Creates a lease named after `what` (`<what>-<pid>-…`) protecting `blobs` and `layers`
    /// (ChainIDs); either may be empty and grow with [`Lease::add`].
    pub fn new(store: S, what: &str, blobs: &[Digest], layers: &[Digest]) -> Result<Lease<S>> {
        let lease = Lease {
            store,
            id: fsutil::unique_name(what),
        };
        lease.add(blobs, layers)?;
        Ok(lease)
    }

    /// Adds resources to the lease.
    pub fn add(&self, blobs: &[Digest], layers: &[Digest]) -> Result<()> {
        if blobs.is_empty() && layers.is_empty() {
            return Ok(());
        }
        let blobs: Vec<String> = blobs.iter().map(|d| d.to_string()).collect();
        let layers: Vec<String> = layers.iter().map(|d| d.to_string()).collect();
        let resources: Vec<(&str, &str)> = blobs
            .iter()
            .map(|b| ("blob", b.as_str()))
            .chain(layers.iter().map(|l| ("layer", l.as_str())))
            .collect();
        let _gc = lock(&self.store)?;
        self.store.db().add_lease(&self.id, &resources)
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl<S: Deref<Target = Store>> Drop for Lease<S> {
    fn drop(&mut self) {
        let _ = self.store.db().remove_lease(&self.id);
    }
}
