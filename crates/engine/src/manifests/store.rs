//! The local manifest lists' own store, kept in the store root instead of `~/.docker/manifests`.
//!
//! Layout: `<root>/manifests/<list>/<manifest>`, one JSON file per entry, both names Docker's
//! file-safe form of the full reference (`:` → `%`, `/` → `#`, e.g.
//! `127.0.0.1%5000#app%latest`). An entry file holds what the docker CLI's `ImageManifest` holds:
//! `Ref`, the `Descriptor` (media type, digest, size, platform) and the manifest bytes as the
//! registry sent them (`Raw`, base64) — so a pushed list points at exactly the bytes that were
//! fetched. Entries are listed in the order Docker 28 reads its own directory (its file names
//! are `:` → `-`, `/` → `_`, which can collide — hence strata's older, unambiguous scheme).
//!
//! Writes are atomic: an entry is written to a temporary file, fsynced and renamed; a new list is
//! assembled in a temporary directory and renamed into place whole (two concurrent `create`s of
//! the same list: one wins, the other is told the list exists); `rm` renames the directory away
//! before deleting it. Temporary names start with `.` and are never read as lists or entries.

use super::inspect::Fetched;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use oci_model::platform::Platform;
use oci_model::reference::Reference;
use oci_model::{Digest, Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// docker/cli `makeFilesafeName`.
fn filesafe(reference: &str) -> String {
    reference.replace(':', "%").replace('/', "#")
}

/// The on-disk form of an entry.
#[derive(Serialize, Deserialize)]
struct EntryFile {
    #[serde(rename = "Ref")]
    reference: String,
    #[serde(rename = "Descriptor")]
    descriptor: DescriptorFile,
    #[serde(rename = "Raw")]
    raw: String,
}

#[derive(Serialize, Deserialize)]
struct DescriptorFile {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: Digest,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    platform: Option<Platform>,
}

fn encode(entry: &Fetched) -> Result<Vec<u8>> {
    let file = EntryFile {
        reference: entry.reference.clone(),
        descriptor: DescriptorFile {
            media_type: entry.media_type.clone(),
            digest: entry.digest.clone(),
            size: entry.bytes.len() as u64,
            platform: entry.platform.clone(),
        },
        raw: B64.encode(&entry.bytes),
    };
    let mut bytes = serde_json::to_vec(&file)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("encoding manifest entry: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Fetched> {
    let bad =
        |why: String| Error::corrupt(format!("invalid manifest file {}: {why}", path.display()));
    let file: EntryFile = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let raw = Bytes::from(B64.decode(&file.raw).map_err(|e| bad(e.to_string()))?);
    let digest = Digest::of(&raw);
    if digest != file.descriptor.digest || raw.len() as u64 != file.descriptor.size {
        return Err(bad(format!(
            "image manifest digest mismatch ({} != {digest})",
            file.descriptor.digest
        )));
    }
    Ok(Fetched {
        reference: file.reference,
        media_type: file.descriptor.media_type,
        digest,
        bytes: raw,
        platform: file.descriptor.platform,
    })
}

/// The local manifest lists of one store root.
#[derive(Debug, Clone)]
pub struct ManifestStore {
    dir: PathBuf,
}

impl ManifestStore {
    /// The lists under `<root>/manifests`. Nothing is created until a list is saved.
    pub fn new(root: &Path) -> ManifestStore {
        ManifestStore {
            dir: root.join("manifests"),
        }
    }

    fn list_dir(&self, list: &Reference) -> PathBuf {
        self.dir.join(filesafe(&list.to_string()))
    }

    fn entry_path(&self, list: &Reference, manifest: &Reference) -> PathBuf {
        self.list_dir(list).join(filesafe(&manifest.to_string()))
    }

    /// Whether a list of that name exists.
    pub fn exists(&self, list: &Reference) -> bool {
        self.list_dir(list).is_dir()
    }

    /// Every entry of `list`, in file-name order. A missing list is `No such manifest: <list>`.
    pub fn get_list(&self, list: &Reference) -> Result<Vec<Fetched>> {
        let dir = self.list_dir(list);
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::not_found(format!("No such manifest: {list}")));
            }
            Err(e) => return Err(Error::io(format_args!("reading {}", dir.display()), e)),
        };
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        let mut entries = names
            .into_iter()
            .map(|n| {
                let path = dir.join(n);
                let bytes = fs::read(&path)
                    .map_err(|e| Error::io(format_args!("reading {}", path.display()), e))?;
                decode(&path, &bytes)
            })
            .collect::<Result<Vec<Fetched>>>()?;
        // The order Docker 28 lists its own files in (it names them `:` → `-`, `/` → `_`).
        entries.sort_by_cached_key(|e| e.reference.replace(':', "-").replace('/', "_"));
        Ok(entries)
    }

    /// The entry for `manifest` in `list`: `No such manifest: <manifest>` when absent.
    pub fn get(&self, list: &Reference, manifest: &Reference) -> Result<Fetched> {
        let path = self.entry_path(list, manifest);
        match fs::read(&path) {
            Ok(bytes) => decode(&path, &bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Error::not_found(format!("No such manifest: {manifest}")))
            }
            Err(e) => Err(Error::io(format_args!("reading {}", path.display()), e)),
        }
    }

    /// Writes (or replaces) one entry of `list` atomically, creating the list if needed.
    pub fn save(&self, list: &Reference, manifest: &Reference, entry: &Fetched) -> Result<()> {
        let dir = self.list_dir(list);
        fsutil::private_dir(&dir)
            .map_err(|e| Error::io(format_args!("creating {}", dir.display()), e))?;
        write_entry(&dir, &filesafe(&manifest.to_string()), &encode(entry)?)
    }

    /// Creates `list` with `entries` in one step: the directory appears whole or not at all.
    /// Fails with [`ErrorKind::AlreadyExists`] when the list exists.
    pub fn create(&self, list: &Reference, entries: &[(Reference, Fetched)]) -> Result<()> {
        fsutil::private_dir(&self.dir)
            .map_err(|e| Error::io(format_args!("creating {}", self.dir.display()), e))?;
        let tmp = self.dir.join(fsutil::unique_name(".new"));
        fsutil::private_dir_new(&tmp)
            .map_err(|e| Error::io(format_args!("creating {}", tmp.display()), e))?;
        let result = (|| {
            for (manifest, entry) in entries {
                write_entry(&tmp, &filesafe(&manifest.to_string()), &encode(entry)?)?;
            }
            let dest = self.list_dir(list);
            // rename(2) replaces an empty directory; a list is never empty, but check first so
            // that a concurrent creation is reported rather than silently lost.
            if dest.exists() {
                return Err(Error::new(ErrorKind::AlreadyExists, "list exists"));
            }
            fs::rename(&tmp, &dest).map_err(|e| match e.raw_os_error() {
                Some(libc::EEXIST | libc::ENOTEMPTY) => {
                    Error::new(ErrorKind::AlreadyExists, "list exists")
                }
                _ => Error::io(format_args!("renaming into {}", dest.display()), e),
            })?;
            fsutil::fsync_dir(&self.dir)
                .map_err(|e| Error::io(format_args!("fsync {}", self.dir.display()), e))
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    /// Deletes `list` (no error when it does not exist; callers check first, as Docker does).
    pub fn remove(&self, list: &Reference) -> Result<()> {
        let dir = self.list_dir(list);
        let gone = self.dir.join(fsutil::unique_name(".rm"));
        match fs::rename(&dir, &gone) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(format_args!("removing {}", dir.display()), e)),
        }
        fs::remove_dir_all(&gone)
            .map_err(|e| Error::io(format_args!("removing {}", gone.display()), e))
    }
}

/// Writes `dir/name` atomically and durably.
fn write_entry(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    fsutil::write_atomic(dir, name, bytes)
        .map_err(|e| Error::io(format_args!("writing {}", dir.join(name).display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::testing::{entry, r};

    #[test]
    fn file_names_like_docker() {
        assert_eq!(
            filesafe("127.0.0.1:5000/a/b:latest"),
            "127.0.0.1%5000#a#b%latest"
        );
        assert_eq!(
            filesafe(&r("alpine").to_string()),
            "docker.io#library#alpine%latest"
        );
    }

    #[test]
    fn entries_round_trip_with_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = ManifestStore::new(dir.path());
        let list = r("127.0.0.1:5000/l");
        let (a, b) = (r("127.0.0.1:5000/a"), r("127.0.0.1:5000/b:1"));
        let ea = entry(
            &a.to_string(),
            "{\n  \"x\": 1 }",
            Some(Platform::new("linux", "arm64", Some("v8"))),
        );
        let eb = entry(&b.to_string(), "{}", None);
        assert_eq!(
            store.get_list(&list).unwrap_err().message,
            format!("No such manifest: {list}")
        );
        store
            .create(&list, &[(b.clone(), eb.clone()), (a.clone(), ea.clone())])
            .unwrap();
        assert_eq!(store.get_list(&list).unwrap(), vec![ea.clone(), eb.clone()]);
        assert_eq!(store.get(&list, &a).unwrap(), ea);
        assert_eq!(
            store
                .get(&list, &r("127.0.0.1:5000/c"))
                .unwrap_err()
                .message,
            "No such manifest: 127.0.0.1:5000/c:latest"
        );
        // A second create of the same list is refused, and leaves nothing behind.
        let err = store.create(&list, &[(a.clone(), ea.clone())]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::AlreadyExists);
        let names: Vec<_> = fs::read_dir(dir.path().join("manifests"))
            .unwrap()
            .collect();
        assert_eq!(names.len(), 1);
        store.remove(&list).unwrap();
        assert!(!store.exists(&list));
        assert_eq!(
            fs::read_dir(dir.path().join("manifests")).unwrap().count(),
            0
        );
    }

    #[test]
    fn tampered_entries_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = ManifestStore::new(dir.path());
        let list = r("127.0.0.1:5000/l");
        let a = r("127.0.0.1:5000/a");
        store
            .save(&list, &a, &entry(&a.to_string(), "{}", None))
            .unwrap();
        let path = store.entry_path(&list, &a);
        let text = fs::read_to_string(&path)
            .unwrap()
            .replace(&B64.encode(b"{}"), &B64.encode(b"[]"));
        fs::write(&path, text).unwrap();
        assert!(
            store
                .get(&list, &a)
                .unwrap_err()
                .message
                .contains("digest mismatch")
        );
    }
}
