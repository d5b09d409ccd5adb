//! `container prune`: every container that is not running, with the size of its writable
//! layer as the space reclaimed (Docker's count: the layer, not the image under it).

use super::remove::remove;
use oci_model::Result;
use std::path::Path;
use store::Store;

/// What `prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Container IDs, newest first.
    pub deleted: Vec<String>,
    /// Bytes in their writable layers.
    pub reclaimed: u64,
}

/// The apparent size of the files under `p` (symlinks not followed); 0 when it is gone.
pub fn dir_size(p: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(p)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Removes every container that is not running.
pub fn prune(store: &Store) -> Result<PruneReport> {
    let mut report = PruneReport::default();
    // Bound first: the store's lock must not be held across the removals.
    let all = store.db().containers()?;
    for c in all {
        if !c.state.can_remove() {
            continue;
        }
        let size = dir_size(&runtime::upper_dir(store.root(), &c.id));
        remove(store, &c, false)?;
        report.reclaimed += size;
        report.deleted.push(c.id);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_size_counts_files_below_and_not_symlink_targets() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("d")).unwrap();
        std::fs::write(tmp.path().join("d/a"), b"12345").unwrap();
        std::fs::write(tmp.path().join("b"), b"123").unwrap();
        std::os::unix::fs::symlink("/etc", tmp.path().join("l")).unwrap();
        assert_eq!(dir_size(tmp.path()), 8 + 4);
        assert_eq!(dir_size(&tmp.path().join("gone")), 0);
    }
}
