//! The filesystem backend.
//!
//! ```text
//! <root>/blobs/sha256/<hex>                          blob bytes, shared by every repository
//! <root>/repositories/<name>/_layers/<hex>           blob links
//! <root>/repositories/<name>/_manifests/revisions/<hex>   manifest links (value: media type)
//! <root>/repositories/<name>/_manifests/tags/<tag>   tags (value: digest)
//! <root>/repositories/<name>/_referrers/<subject hex>/<hex>   referrer descriptors
//! <root>/repositories/<name>/_meta/<key>             metadata objects
//! <root>/uploads/<id>/{data,info}                    upload sessions
//! <root>/tmp/                                        scratch for atomic writes
//! ```
//! Repository directories nest (`a/b` lives inside `a`'s directory); the `_`-prefixed entries
//! cannot collide with name components, which start with an alphanumeric. Every file that
//! becomes visible is written elsewhere, fsynced and renamed into place.

use super::{Backend, Link, UploadInfo};
use crate::names;
use oci_model::Digest;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct FsBackend {
    root: PathBuf,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A single path component that cannot climb out of its directory or hide as a temp file.
fn check_key(key: &str) -> io::Result<&str> {
    if key.is_empty() || key.len() > 255 || key.starts_with('.') || key.contains(['/', '\\', '\0'])
    {
        return Err(invalid(format!("invalid storage key {key:?}")));
    }
    Ok(key)
}

fn not_found_is_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Sorted names of a directory's entries (no dot-files); an absent directory is empty.
fn list_dir(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for e in rd {
        let e = e?;
        if let Ok(name) = e.file_name().into_string()
            && !name.starts_with('.')
        {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

impl FsBackend {
    /// Opens (creating when needed) a registry rooted at `root`.
    pub fn new(root: &Path) -> io::Result<FsBackend> {
        for d in ["blobs/sha256", "repositories", "uploads", "tmp"] {
            fs::create_dir_all(root.join(d))?;
        }
        Ok(FsBackend {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob's bytes live.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    fn repo_dir(&self, repo: &str) -> io::Result<PathBuf> {
        if !names::valid_repo(repo) {
            return Err(invalid(format!("invalid repository name {repo:?}")));
        }
        Ok(self.root.join("repositories").join(repo))
    }

    fn link_dir(&self, repo: &str, link: &Link) -> io::Result<PathBuf> {
        let dir = self.repo_dir(repo)?;
        Ok(match link {
            Link::Layer => dir.join("_layers"),
            Link::Manifest => dir.join("_manifests/revisions"),
            Link::Tag => dir.join("_manifests/tags"),
            Link::Referrer(subject) => dir.join("_referrers").join(subject.hex()),
            Link::Meta => dir.join("_meta"),
        })
    }

    fn upload_dir(&self, id: &str) -> io::Result<PathBuf> {
        if !names::valid_upload_id(id) {
            return Err(invalid(format!("invalid upload id {id:?}")));
        }
        Ok(self.root.join("uploads").join(id))
    }

    /// Writes `bytes` to `dir/name` atomically and durably (temp file in `tmp/`, fsync, rename).
    fn write_atomic(&self, dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        let tmp =
            self.root
                .join("tmp")
                .join(format!("{}-{}", names::new_upload_id(), check_key(name)?));
        let result = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, dir.join(name))?;
            fsutil::fsync_dir(dir)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn walk_repos(&self, dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
        for name in list_dir(dir)? {
            if name.starts_with('_') {
                continue;
            }
            let path = dir.join(&name);
            if !path.is_dir() {
                continue;
            }
            let repo = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if path.join("_layers").is_dir() || path.join("_manifests").is_dir() {
                out.push(repo.clone());
            }
            self.walk_repos(&path, &repo, out)?;
        }
        Ok(())
    }
}

impl Backend for FsBackend {
    fn blob_size(&self, digest: &Digest) -> io::Result<Option<u64>> {
        Ok(not_found_is_none(fs::metadata(self.blob_path(digest)))?.map(|m| m.len()))
    }

    fn blob_open(&self, digest: &Digest, offset: u64) -> io::Result<Box<dyn Read + Send>> {
        let mut f = File::open(self.blob_path(digest))?;
        if offset > 0 {
            f.seek(SeekFrom::Start(offset))?;
        }
        Ok(Box::new(f))
    }

    fn blob_put(&self, digest: &Digest, bytes: &[u8]) -> io::Result<()> {
        if self.blob_size(digest)? == Some(bytes.len() as u64) {
            return Ok(());
        }
        self.write_atomic(&self.root.join("blobs/sha256"), digest.hex(), bytes)
    }

    fn blob_delete(&self, digest: &Digest) -> io::Result<bool> {
        Ok(not_found_is_none(fs::remove_file(self.blob_path(digest)))?.is_some())
    }

    fn blob_list(&self) -> io::Result<Vec<Digest>> {
        Ok(list_dir(&self.root.join("blobs/sha256"))?
            .into_iter()
            .filter_map(|n| Digest::from_hex(&n).ok())
            .collect())
    }

    fn upload_create(&self, id: &str, repo: &str) -> io::Result<()> {
        if !names::valid_repo(repo) {
            return Err(invalid(format!("invalid repository name {repo:?}")));
        }
        let dir = self.upload_dir(id)?;
        fs::create_dir(&dir)?;
        File::create(dir.join("data"))?;
        let info = serde_json::json!({ "repo": repo, "started": now_secs() }).to_string();
        self.write_atomic(&dir, "info", info.as_bytes())
    }

    fn upload_info(&self, id: &str) -> io::Result<Option<UploadInfo>> {
        let Some(bytes) = not_found_is_none(fs::read(self.upload_dir(id)?.join("info")))? else {
            return Ok(None);
        };
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(Some(UploadInfo {
            repo: v["repo"].as_str().unwrap_or_default().to_string(),
            started: v["started"].as_u64().unwrap_or(0),
        }))
    }

    fn upload_size(&self, id: &str) -> io::Result<u64> {
        Ok(fs::metadata(self.upload_dir(id)?.join("data"))?.len())
    }

    fn upload_writer(&self, id: &str, offset: u64) -> io::Result<Box<dyn Write + Send>> {
        let mut f = OpenOptions::new()
            .write(true)
            .open(self.upload_dir(id)?.join("data"))?;
        f.set_len(offset)?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(BufWriter::with_capacity(1 << 20, f)))
    }

    fn upload_reader(&self, id: &str) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(self.upload_dir(id)?.join("data"))?))
    }

    fn upload_commit(&self, id: &str, digest: &Digest) -> io::Result<()> {
        let dir = self.upload_dir(id)?;
        let data = dir.join("data");
        File::open(&data)?.sync_all()?;
        let blobs = self.root.join("blobs/sha256");
        fs::create_dir_all(&blobs)?;
        // Concurrent commits of the same digest rename identical bytes over each other;
        // readers holding the old file keep reading it.
        fs::rename(&data, blobs.join(digest.hex()))?;
        fsutil::fsync_dir(&blobs)?;
        fs::remove_dir_all(&dir)
    }

    fn upload_delete(&self, id: &str) -> io::Result<()> {
        not_found_is_none(fs::remove_dir_all(self.upload_dir(id)?))?;
        Ok(())
    }

    fn upload_list(&self) -> io::Result<Vec<(String, UploadInfo)>> {
        let mut out = Vec::new();
        for id in list_dir(&self.root.join("uploads"))? {
            if !names::valid_upload_id(&id) {
                continue;
            }
            let info = match self.upload_info(&id) {
                Ok(Some(i)) => i,
                // A session whose record never made it to disk: date it by its directory.
                _ => {
                    let started = fs::metadata(self.root.join("uploads").join(&id))
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    UploadInfo {
                        repo: String::new(),
                        started,
                    }
                }
            };
            out.push((id, info));
        }
        Ok(out)
    }

    fn link_get(&self, repo: &str, link: &Link, key: &str) -> io::Result<Option<Vec<u8>>> {
        not_found_is_none(fs::read(self.link_dir(repo, link)?.join(check_key(key)?)))
    }

    fn link_put(&self, repo: &str, link: &Link, key: &str, value: &[u8]) -> io::Result<()> {
        let dir = self.link_dir(repo, link)?;
        self.write_atomic(&dir, check_key(key)?, value)
    }

    fn link_delete(&self, repo: &str, link: &Link, key: &str) -> io::Result<bool> {
        let path = self.link_dir(repo, link)?.join(check_key(key)?);
        Ok(not_found_is_none(fs::remove_file(path))?.is_some())
    }

    fn link_list(&self, repo: &str, link: &Link) -> io::Result<Vec<String>> {
        list_dir(&self.link_dir(repo, link)?)
    }

    fn repo_exists(&self, repo: &str) -> io::Result<bool> {
        let dir = self.repo_dir(repo)?;
        Ok(dir.join("_layers").is_dir() || dir.join("_manifests").is_dir())
    }

    fn repo_list(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        self.walk_repos(&self.root.join("repositories"), "", &mut out)?;
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_commit_into_blobs_and_links_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let b = FsBackend::new(dir.path()).unwrap();
        let id = names::new_upload_id();
        b.upload_create(&id, "lib/a").unwrap();
        assert_eq!(b.upload_info(&id).unwrap().unwrap().repo, "lib/a");
        {
            let mut w = b.upload_writer(&id, 0).unwrap();
            w.write_all(b"hello world").unwrap();
            w.flush().unwrap();
        }
        // Rewriting from an offset discards what followed it.
        {
            let mut w = b.upload_writer(&id, 5).unwrap();
            w.write_all(b"!").unwrap();
            w.flush().unwrap();
        }
        assert_eq!(b.upload_size(&id).unwrap(), 6);
        let d = Digest::of(b"hello!");
        b.upload_commit(&id, &d).unwrap();
        assert!(b.upload_info(&id).unwrap().is_none());
        assert_eq!(b.blob_size(&d).unwrap(), Some(6));
        let mut s = String::new();
        b.blob_open(&d, 2).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "llo!");
        assert_eq!(b.blob_list().unwrap(), vec![d.clone()]);

        b.link_put("lib/a", &Link::Tag, "v1", d.to_string().as_bytes())
            .unwrap();
        b.link_put("lib/a/b", &Link::Layer, d.hex(), b"").unwrap();
        assert_eq!(
            b.link_get("lib/a", &Link::Tag, "v1").unwrap().unwrap(),
            d.to_string().as_bytes()
        );
        assert_eq!(b.link_list("lib/a", &Link::Tag).unwrap(), vec!["v1"]);
        assert_eq!(b.repo_list().unwrap(), vec!["lib/a", "lib/a/b"]);
        assert!(b.repo_exists("lib/a").unwrap());
        assert!(!b.repo_exists("lib").unwrap());
        assert!(b.link_delete("lib/a", &Link::Tag, "v1").unwrap());
        assert!(!b.link_delete("lib/a", &Link::Tag, "v1").unwrap());
        assert!(
            fs::read_dir(dir.path().join("tmp"))
                .unwrap()
                .next()
                .is_none()
        );
    }

    #[test]
    fn nothing_outside_the_root_is_addressable() {
        let dir = tempfile::tempdir().unwrap();
        let b = FsBackend::new(&dir.path().join("root")).unwrap();
        for repo in ["..", "../x", "/etc", "a/../../b", "A"] {
            assert!(b.link_put(repo, &Link::Tag, "t", b"x").is_err(), "{repo}");
            assert!(b.repo_exists(repo).is_err(), "{repo}");
        }
        for key in ["..", ".", "../x", "a/b", ".hidden", ""] {
            assert!(b.link_put("a", &Link::Tag, key, b"x").is_err(), "{key}");
            assert!(b.link_get("a", &Link::Tag, key).is_err(), "{key}");
        }
        for id in ["..", "../../etc", "x"] {
            assert!(b.upload_create(id, "a").is_err());
            assert!(b.upload_info(id).is_err());
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
