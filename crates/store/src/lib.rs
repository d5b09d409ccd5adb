//! The local store: one root directory holding the content store, the layer snapshots and the
//! metadata database, shared by every strata process that uses the same root; with the leases
//! and the garbage collector that keep them consistent.

pub mod config;
pub mod content;
pub mod gc;
pub mod leases;
pub mod metadata;

use crate::config::Config;
use crate::content::ContentStore;
use crate::metadata::Db;
use layers::snapshot::Snapshots;
use oci_model::{Digest, Error, Result};
use std::fs::File;
use std::path::{Path, PathBuf};

pub struct Store {
    root: PathBuf,
    pub config: Config,
    pub content: ContentStore,
    pub snapshots: Snapshots,
    db: Db,
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path, config: Config) -> Result<Store> {
        fsutil::private_dir(root).map_err(|e| {
            Error::invalid(format!("cannot create store root {}: {e}", root.display()))
        })?;
        let root = root.canonicalize().map_err(|e| {
            Error::invalid(format!("cannot open store root {}: {e}", root.display()))
        })?;
        tighten_store(&root)?;
        fsutil::private_dir(&root.join("locks"))
            .map_err(|e| Error::internal("creating locks dir", e))?;
        let content = ContentStore::open(&root)?;
        let snapshots = Snapshots::open(&root)?;
        let db = Db::open(&root.join("metadata.db"))?;
        Ok(Store {
            root,
            config,
            content,
            snapshots,
            db,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The metadata database. Its one connection is locked per statement (see [`Db`]), so
    /// threads share it through this reference and no lock is held across I/O on layers.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// An exclusive, cross-process lock on unpacking one layer (by ChainID), so two pulls of images
    /// that share a layer unpack it once: the second waits, then finds it present. Blocking.
    pub fn lock_layer(&self, chain_id: &Digest) -> Result<File> {
        let path = self
            .root
            .join("locks")
            .join(format!("layer-{}", chain_id.hex()));
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::internal("opening layer lock", e))?;
        f.lock().map_err(|e| Error::internal("locking layer", e))?;
        Ok(f)
    }
}

/// The store's own directories: private (see [`fsutil`]). A store made by an older strata
/// (0755 directories) is narrowed here, on every open, before anything reads from it.
fn tighten_store(root: &Path) -> Result<()> {
    fsutil::tighten(root).map_err(|e| Error::internal("making the store root private", e))?;
    let entries =
        std::fs::read_dir(root).map_err(|e| Error::internal("reading the store root", e))?;
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            fsutil::tighten(&entry.path()).map_err(|e| {
                Error::internal(format!("making {} private", entry.path().display()), e)
            })?;
        }
    }
    Ok(())
}
