//! Garbage collection of layers and blobs, and the leases that protect what a pull (or any
//! other writer) is still putting together.
//!
//! **Leases** ([`crate::leases`]). A writer records a lease (`leases` table: owner pid + `(kind, key)` resources,
//! kinds `"blob"` and `"layer"`) *before* it looks at or writes those resources, and drops it
//! once the image record that references them is committed. Leases of dead processes are swept
//! ([`Db::remove_dead_leases`](crate::metadata::Db::remove_dead_leases)).
//!
//! **The GC lock** (`<root>/locks/gc`, an exclusive `flock`) is held by a collector for the
//! whole check-and-delete, and by a writer while it adds a lease. So either the lease exists
//! before the collector checks it, or the writer only looks at the store after the collector
//! finished (and then sees a missing layer or blob, and fetches it again). Without it, a pull
//! could find a blob present, lease it a moment later, and have it deleted in between.
//!
//! **Order of deletion, and crashes.** A layer is removed in two steps: its metadata row
//! first, then its directory. Killed in between, the store holds a directory without a row:
//! garbage the next [`collect`] removes, and harmless meanwhile — a pull only treats a layer as
//! present when the row *and* the directory exist, so it unpacks the layer again (and the
//! commit of a fresh unpack discards a duplicate directory). The other order would leave a row
//! without a directory for a moment, and an image listing, `system df` or `commit_pull`
//! (which requires recorded layers) would trust a layer that is gone. Blobs are deleted after
//! the rows that referenced them, for the same reason: a blob file without a referring row is
//! garbage; a row without its blob would be a broken image.
//!
//! **Ingests** are never touched here while a lock holds them; unlocked stale ones go through
//! the content store's own sweep.

use crate::Store;
use crate::leases::lock;
use crate::metadata::LayerRecord;
use oci_model::{Digest, Error, Result};
use std::collections::HashSet;
use std::fs::OpenOptions;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Layer directories and blobs that no row refers to are only swept by [`collect`] once they
/// are this old: a writer that does not take leases (an older strata) gets time to record them.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// Removes one unused, unleased layer: row first, then directory (see the module notes).
/// Must be called with the GC lock held. A layer whose unpack lock someone holds is in use and
/// is skipped. Returns the removed record.
fn remove_layer(store: &Store, chain_id: &Digest) -> Result<Option<LayerRecord>> {
    let path = store
        .root()
        .join("locks")
        .join(format!("layer-{}", chain_id.hex()));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::internal(format_args!("open {}", path.display()), e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(Error::internal(format_args!("lock {}", path.display()), e));
        }
    }
    let Some(record) = store.db().remove_layer_if_unused(chain_id)? else {
        return Ok(None);
    };
    store.snapshots.remove(chain_id)?;
    let _ = std::fs::remove_file(&path);
    Ok(Some(record))
}

/// Removes each blob of `candidates` that nothing references any more. GC lock held.
fn remove_unreferenced_blobs(store: &Store, candidates: &[Digest]) -> Result<Vec<Digest>> {
    let referenced = store.db().referenced_blobs()?;
    let mut removed = Vec::new();
    for d in candidates {
        if referenced.contains(&d.to_string()) {
            continue;
        }
        match std::fs::remove_file(store.content.blob_path(d)) {
            Ok(()) => removed.push(d.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::internal(format_args!("remove blob {d}"), e)),
        }
    }
    Ok(removed)
}

/// After an image record is deleted: removes its layers that no other image, lease or
/// in-progress unpack uses (top layer first, as Docker reports them), then its blobs
/// (`blobs`: config, manifest, index and the layers' blobs) that nothing references.
pub fn release_image(
    store: &Store,
    layers: &[Digest],
    blobs: &[Digest],
) -> Result<Vec<LayerRecord>> {
    let _gc = lock(store)?;
    let mut removed = Vec::new();
    for chain_id in layers.iter().rev() {
        if let Some(l) = remove_layer(store, chain_id)? {
            removed.push(l);
        }
    }
    let mut candidates: Vec<Digest> = blobs.to_vec();
    candidates.extend(removed.iter().map(|l| l.blob_digest.clone()));
    remove_unreferenced_blobs(store, &candidates)?;
    Ok(removed)
}

/// What a [`collect`] run removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    pub layers: Vec<LayerRecord>,
    /// Layer directories that had no metadata row.
    pub orphan_layer_dirs: usize,
    pub blobs: Vec<Digest>,
}

fn older_than(path: &Path, age: Duration) -> bool {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .map(|t| SystemTime::now().duration_since(t).unwrap_or_default() >= age)
        .unwrap_or(false)
}

/// A full sweep: dead leases, every unused unleased layer, layer directories and blobs that
/// no row refers to (once older than `grace`), stale ingests and unpack leftovers.
pub fn collect(store: &Store, grace: Duration) -> Result<GcReport> {
    let _gc = lock(store)?;
    store.db().remove_dead_leases()?;
    let mut report = GcReport::default();
    // Bound first: a guard in the `for` expression would be held for the whole loop.
    let unused = store.db().unused_layers()?;
    for chain_id in unused {
        if let Some(l) = remove_layer(store, &chain_id)? {
            report.layers.push(l);
        }
    }
    // Directories without a row: a layer being committed has its directory renamed into
    // place just before its row is inserted, under its unpack lock and a lease.
    let known: HashSet<String> = store
        .db()
        .layer_ids()?
        .into_iter()
        .map(|d| d.hex().to_string())
        .collect();
    let layers_dir = store.root().join("layers");
    if let Ok(entries) = std::fs::read_dir(&layers_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(chain_id) = Digest::from_hex(&name) else {
                continue;
            };
            if known.contains(&name)
                || store.db().leased("layer", &chain_id.to_string())?
                || !older_than(&entry.path(), grace)
            {
                continue;
            }
            let path = store.root().join("locks").join(format!("layer-{name}"));
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| Error::internal(format_args!("open {}", path.display()), e))?;
            if lock.try_lock().is_ok() && store.db().layer(&chain_id)?.is_none() {
                store.snapshots.remove(&chain_id)?;
                report.orphan_layer_dirs += 1;
            }
        }
    }
    let referenced = store.db().referenced_blobs()?;
    let blobs_dir = store.root().join("blobs").join("sha256");
    let mut candidates = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&blobs_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Ok(d) = Digest::from_hex(&name)
                && !referenced.contains(&d.to_string())
                && older_than(&entry.path(), grace)
            {
                candidates.push(d);
            }
        }
    }
    let mut freed = report
        .layers
        .iter()
        .map(|l| l.blob_digest.clone())
        .collect::<Vec<_>>();
    freed.extend(candidates);
    report.blobs = remove_unreferenced_blobs(store, &freed)?;
    let _ = store.snapshots.cleanup_tmp();
    let _ = store.content.cleanup_stale_ingests();
    Ok(report)
}
