//! Content store: blobs by digest, ingests, atomic commit.
//!
//! Layout under the store root:
//! ```text
//! blobs/sha256/<hex>         verified blobs, read-only files
//! ingest/<hex>/lock          flock held by the one process (or thread) writing <hex>
//! ingest/<hex>/data          bytes received so far; kept when a writer dies, so it can resume
//! ```
//! Nothing partial is ever visible under `blobs/`: an ingest is verified against the expected
//! digest (and size), fsynced and renamed into place, then the directory is fsynced.

use oci_model::{Digest, Error, Result, Sha256Writer};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Ingests untouched for this long, and held by nobody, are removed by
/// [`ContentStore::cleanup_stale_ingests`].
pub const STALE_INGEST_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Content-addressed blob store shared by every strata process using the same root.
#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
}

/// The outcome of starting an ingest.
// Created once per blob and matched right away: boxing the writer would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum IngestStart {
    /// The blob is already committed; nothing to download.
    Present,
    /// This caller holds the exclusive right to write the blob.
    Writer(Ingest),
}

impl std::fmt::Debug for IngestStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IngestStart::Present => f.write_str("Present"),
            IngestStart::Writer(i) => write!(f, "Writer({} at {})", i.digest, i.offset()),
        }
    }
}

impl ContentStore {
    /// Opens (creating if needed) the content store under `root`.
    pub fn open(root: &Path) -> Result<ContentStore> {
        for dir in [root.join("blobs").join("sha256"), root.join("ingest")] {
            fsutil::private_dir(&dir)
                .map_err(|e| Error::io(format_args!("create {}", dir.display()), e))?;
        }
        Ok(ContentStore {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    fn ingest_root(&self) -> PathBuf {
        self.root.join("ingest")
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.blobs_dir().join(d.hex())
    }

    pub fn contains(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    /// Size in bytes of a committed blob.
    pub fn size(&self, d: &Digest) -> Result<u64> {
        fs::metadata(self.blob_path(d))
            .map(|m| m.len())
            .map_err(|e| blob_err(d, e))
    }

    /// Reads a whole blob into memory: for small blobs only (manifests, configs).
    pub fn read(&self, d: &Digest) -> Result<Vec<u8>> {
        fs::read(self.blob_path(d)).map_err(|e| blob_err(d, e))
    }

    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        File::open(self.blob_path(d)).map_err(|e| blob_err(d, e))
    }

    /// Stores `bytes` as blob `d` after checking that they hash to `d`. Idempotent: a blob
    /// that is already present is left alone.
    pub fn write_blob(&self, d: &Digest, bytes: &[u8]) -> Result<()> {
        let mut check = Sha256Writer::new();
        check.update(bytes);
        check.verify(d, Some(bytes.len() as u64))?;
        if self.contains(d) {
            return Ok(());
        }
        match self.ingest(d, Some(bytes.len() as u64))? {
            IngestStart::Present => Ok(()),
            IngestStart::Writer(mut w) => {
                w.reset()?;
                w.write_all(bytes)?;
                w.commit()
            }
        }
    }

    /// Stores the file at `path` (`size` bytes, hashed by the caller) as blob `d`. Idempotent
    /// like [`ContentStore::write_blob`]; the ingest's commit verifies digest and size.
    pub fn write_blob_from_file(&self, d: &Digest, size: u64, path: &Path) -> Result<()> {
        match self.ingest(d, Some(size))? {
            IngestStart::Present => Ok(()),
            IngestStart::Writer(mut w) => {
                w.reset()?;
                let mut f = File::open(path)
                    .map_err(|e| Error::io(format_args!("open {}", path.display()), e))?;
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = f
                        .read(&mut buf)
                        .map_err(|e| Error::io(format_args!("read {}", path.display()), e))?;
                    if n == 0 {
                        break;
                    }
                    w.write_all(&buf[..n])?;
                }
                w.commit()
            }
        }
    }

    /// Starts (or resumes) the exclusive ingest of `d`. Blocks while another process or
    /// thread holds it; once that one finishes, this returns [`IngestStart::Present`] if it
    /// committed the blob.
    pub fn ingest(&self, d: &Digest, expected_size: Option<u64>) -> Result<IngestStart> {
        self.start_ingest(d, expected_size, true)
            .map(|s| s.expect("blocking ingest always starts"))
    }

    /// Non-blocking [`ContentStore::ingest`]: `None` when someone else holds the ingest.
    pub fn try_ingest(
        &self,
        d: &Digest,
        expected_size: Option<u64>,
    ) -> Result<Option<IngestStart>> {
        self.start_ingest(d, expected_size, false)
    }

    fn start_ingest(
        &self,
        d: &Digest,
        expected_size: Option<u64>,
        block: bool,
    ) -> Result<Option<IngestStart>> {
        if self.contains(d) {
            return Ok(Some(IngestStart::Present));
        }
        let dir = self.ingest_root().join(d.hex());
        let lock_path = dir.join("lock");
        let lock = loop {
            fsutil::private_dir(&dir)
                .map_err(|e| Error::io(format_args!("create {}", dir.display()), e))?;
            let lock = match OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock_path)
            {
                Ok(f) => f,
                // The previous holder removed the directory between our mkdir and open.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format_args!("open {}", lock_path.display()), e)),
            };
            if block {
                lock.lock()
                    .map_err(|e| Error::io(format_args!("lock {}", lock_path.display()), e))?;
            } else {
                match lock.try_lock() {
                    Ok(()) => {}
                    Err(fs::TryLockError::WouldBlock) => return Ok(None),
                    Err(fs::TryLockError::Error(e)) => {
                        return Err(Error::io(format_args!("lock {}", lock_path.display()), e));
                    }
                }
            }
            // The holder we waited for may have removed the ingest (commit or abort) and
            // unlinked the lock file we locked; then the lock protects nothing: start over.
            let ours = lock
                .metadata()
                .map_err(|e| Error::io("stat ingest lock", e))?;
            match fs::metadata(&lock_path) {
                Ok(m) if m.ino() == ours.ino() && m.dev() == ours.dev() => break lock,
                _ => {
                    if self.contains(d) {
                        return Ok(Some(IngestStart::Present));
                    }
                    continue;
                }
            }
        };
        if self.contains(d) {
            // Killed after the rename but before removing the ingest: finish the cleanup.
            remove_ingest_dir(&dir);
            return Ok(Some(IngestStart::Present));
        }
        let data_path = dir.join("data");
        let data = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&data_path)
            .map_err(|e| Error::io(format_args!("open {}", data_path.display()), e))?;
        let mut ingest = Ingest {
            digest: d.clone(),
            expected_size,
            dir,
            data,
            hasher: Sha256Writer::new(),
            blobs: self.blobs_dir(),
            _lock: lock,
        };
        ingest.rehash()?;
        if let Some(size) = expected_size
            && ingest.offset() > size
        {
            ingest.reset()?;
        }
        Ok(Some(IngestStart::Writer(ingest)))
    }

    /// Removes ingests that nobody holds and that have not been written for
    /// [`STALE_INGEST_AGE`], plus leftovers of ingests whose blob was committed.
    pub fn cleanup_stale_ingests(&self) -> Result<()> {
        self.cleanup_stale_ingests_older_than(STALE_INGEST_AGE)
    }

    /// [`ContentStore::cleanup_stale_ingests`] with an explicit age.
    pub fn cleanup_stale_ingests_older_than(&self, age: Duration) -> Result<()> {
        let root = self.ingest_root();
        let entries = fs::read_dir(&root)
            .map_err(|e| Error::io(format_args!("read {}", root.display()), e))?;
        let now = SystemTime::now();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format_args!("read {}", root.display()), e))?;
            let dir = entry.path();
            let lock_path = dir.join("lock");
            let Ok(lock) = OpenOptions::new().read(true).write(true).open(&lock_path) else {
                // No lock file: a directory in the middle of creation or removal. Leave it
                // unless it is old, which means its creator died before creating the lock.
                if is_older(&dir, now, age) {
                    let _ = fs::remove_dir_all(&dir);
                }
                continue;
            };
            match lock.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => continue,
                Err(fs::TryLockError::Error(e)) => {
                    return Err(Error::io(format_args!("lock {}", lock_path.display()), e));
                }
            }
            let committed = entry
                .file_name()
                .to_str()
                .and_then(|hex| Digest::from_hex(hex).ok())
                .is_some_and(|d| self.contains(&d));
            let data_path = dir.join("data");
            let stale = if data_path.exists() {
                is_older(&data_path, now, age)
            } else {
                is_older(&lock_path, now, age)
            };
            if committed || stale {
                remove_ingest_dir(&dir);
            }
        }
        Ok(())
    }
}

fn is_older(path: &Path, now: SystemTime, age: Duration) -> bool {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .map(|t| now.duration_since(t).unwrap_or_default() >= age)
        .unwrap_or(false)
}

fn blob_err(d: &Digest, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        Error::not_found(format!("content digest {d}: not found"))
    } else {
        Error::io(format_args!("blob {d}"), e)
    }
}

/// Removes an ingest directory while its lock is held: data first, the lock file last, so a
/// waiter that then locks the unlinked file notices (inode check) and starts over.
fn remove_ingest_dir(dir: &Path) {
    let _ = fs::remove_file(dir.join("data"));
    let _ = fs::remove_file(dir.join("lock"));
    // Fails harmlessly if another process already re-created a lock file in it.
    let _ = fs::remove_dir(dir);
}

/// An exclusive, resumable write of one blob. Dropping it without [`Ingest::commit`] keeps
/// the bytes written so far for a later attempt (as a killed process would).
pub struct Ingest {
    digest: Digest,
    expected_size: Option<u64>,
    dir: PathBuf,
    blobs: PathBuf,
    data: File,
    hasher: Sha256Writer,
    _lock: File,
}

impl Ingest {
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// Bytes already on disk (from an earlier, interrupted attempt, plus this one's writes).
    pub fn offset(&self) -> u64 {
        self.hasher.len()
    }

    /// A fresh reader positioned at 0 over the data already on disk, so a streaming consumer
    /// can replay the first [`Ingest::offset`] bytes before new ones arrive. Read at most
    /// `offset()` bytes from it (e.g. `existing_data()?.take(offset)`).
    pub fn existing_data(&self) -> Result<File> {
        let path = self.dir.join("data");
        File::open(&path).map_err(|e| Error::io(format_args!("open {}", path.display()), e))
    }

    fn rehash(&mut self) -> Result<()> {
        let mut reader = self.existing_data()?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut hasher = Sha256Writer::new();
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(format_args!("read ingest of {}", self.digest), e)),
            };
            hasher.update(&buf[..n]);
        }
        // Whatever reached the file (even a torn final write) is what we resume from: the
        // hash covers exactly those bytes, and commit verifies the whole.
        self.hasher = hasher;
        Ok(())
    }

    /// Appends `buf` to the ingest and hashes it.
    pub fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        if let Some(size) = self.expected_size
            && self.offset() + buf.len() as u64 > size
        {
            return Err(Error::corrupt(format!(
                "failed to verify {}: size mismatch: expected {size} bytes, got at least {}",
                self.digest,
                self.offset() + buf.len() as u64
            )));
        }
        Write::write_all(&mut self.data, buf)
            .map_err(|e| Error::io(format_args!("write ingest of {}", self.digest), e))?;
        self.hasher.update(buf);
        Ok(())
    }

    /// Discards everything written so far (the server ignored a Range request).
    pub fn reset(&mut self) -> Result<()> {
        self.data
            .set_len(0)
            .map_err(|e| Error::io(format_args!("truncate ingest of {}", self.digest), e))?;
        self.data
            .seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("seek ingest", e))?;
        self.hasher = Sha256Writer::new();
        Ok(())
    }

    /// Verifies digest and size, then makes the blob visible atomically. On a mismatch the
    /// ingested bytes are deleted and the error names the digest.
    pub fn commit(self) -> Result<()> {
        if let Err(e) = self.hasher.verify(&self.digest, self.expected_size) {
            remove_ingest_dir(&self.dir);
            return Err(e);
        }
        let data_path = self.dir.join("data");
        let target = self.blobs.join(self.digest.hex());
        self.data
            .sync_all()
            .map_err(|e| Error::io(format_args!("fsync ingest of {}", self.digest), e))?;
        fs::set_permissions(&data_path, fs::Permissions::from_mode(0o444))
            .map_err(|e| Error::io(format_args!("chmod {}", data_path.display()), e))?;
        fs::rename(&data_path, &target)
            .map_err(|e| Error::io(format_args!("commit {}", self.digest), e))?;
        fsutil::fsync_dir(&self.blobs)
            .map_err(|e| Error::io(format_args!("fsync {}", self.blobs.display()), e))?;
        remove_ingest_dir(&self.dir);
        Ok(())
    }

    /// Gives up on this ingest and deletes its data.
    pub fn abort(self) -> Result<()> {
        remove_ingest_dir(&self.dir);
        Ok(())
    }
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ingest::write_all(self, buf).map_err(|e| io::Error::other(e.message))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_model::ErrorKind;
    use std::sync::mpsc;

    fn blob(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn writer(s: IngestStart) -> Ingest {
        match s {
            IngestStart::Writer(w) => w,
            IngestStart::Present => panic!("expected a writer"),
        }
    }

    fn blob_count(root: &Path) -> usize {
        fs::read_dir(root.join("blobs/sha256")).unwrap().count()
    }

    #[test]
    fn resume_after_killed_writer() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ContentStore::open(tmp.path()).unwrap();
        let bytes = blob(100_000);
        let d = Digest::of(&bytes);
        let half = bytes.len() / 2;

        let mut w = writer(store.ingest(&d, Some(bytes.len() as u64)).unwrap());
        assert_eq!(w.offset(), 0);
        w.write_all(&bytes[..half]).unwrap();
        drop(w); // killed: no commit, no abort
        assert!(!store.contains(&d));

        let mut w = writer(store.ingest(&d, Some(bytes.len() as u64)).unwrap());
        assert_eq!(w.offset(), half as u64);
        let mut replay = Vec::new();
        w.existing_data()
            .unwrap()
            .take(w.offset())
            .read_to_end(&mut replay)
            .unwrap();
        assert_eq!(replay, &bytes[..half]);
        // Through the io::Write impl.
        io::copy(&mut &bytes[half..], &mut w).unwrap();
        w.commit().unwrap();

        assert!(store.contains(&d));
        assert_eq!(store.read(&d).unwrap(), bytes);
        let mode = fs::metadata(store.blob_path(&d))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o222, 0, "blob must be read-only");
        assert!(
            !tmp.path().join("ingest").join(d.hex()).exists(),
            "ingest dir removed"
        );
    }

    #[test]
    fn reset_discards_partial_data() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ContentStore::open(tmp.path()).unwrap();
        let bytes = blob(1000);
        let d = Digest::of(&bytes);
        let mut w = writer(store.ingest(&d, None).unwrap());
        w.write_all(b"garbage").unwrap();
        drop(w);
        let mut w = writer(store.ingest(&d, None).unwrap());
        assert_eq!(w.offset(), 7);
        w.reset().unwrap();
        assert_eq!(w.offset(), 0);
        w.write_all(&bytes).unwrap();
        w.commit().unwrap();
        assert_eq!(store.read(&d).unwrap(), bytes);
    }

    #[test]
    fn mismatch_leaves_nothing_visible() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ContentStore::open(tmp.path()).unwrap();
        let d = Digest::of(b"expected content");
        let mut w = writer(store.ingest(&d, None).unwrap());
        w.write_all(b"something else").unwrap();
        let err = w.commit().unwrap_err();
        assert_eq!(err.kind, ErrorKind::DataCorrupt);
        assert!(
            err.message.contains(&format!("failed to verify {d}")),
            "{}",
            err.message
        );
        assert!(err.message.contains("digest mismatch"), "{}", err.message);
        assert_eq!(blob_count(tmp.path()), 0);
        assert!(!tmp.path().join("ingest").join(d.hex()).exists());
        // A new attempt starts from scratch.
        let w = writer(store.ingest(&d, None).unwrap());
        assert_eq!(w.offset(), 0);
    }

    #[test]
    fn size_mismatch_is_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ContentStore::open(tmp.path()).unwrap();
        let bytes = blob(10);
        let d = Digest::of(&bytes);
        let mut w = writer(store.ingest(&d, Some(5)).unwrap());
        assert!(
            w.write_all(&bytes)
                .unwrap_err()
                .message
                .contains("size mismatch")
        );
        drop(w);
        let mut w = writer(store.ingest(&d, Some(11)).unwrap());
        w.write_all(&bytes).unwrap();
        assert!(w.commit().unwrap_err().message.contains("size mismatch"));
        assert_eq!(blob_count(tmp.path()), 0);
    }

    #[test]
    fn two_threads_ingest_once() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ContentStore::open(tmp.path()).unwrap();
        let bytes = blob(50_000);
        let d = Digest::of(&bytes);

        let first = writer(store.ingest(&d, Some(bytes.len() as u64)).unwrap());
        // While held, the non-blocking variant reports it as busy.
        assert!(store.try_ingest(&d, None).unwrap().is_none());

        let (started_tx, started_rx) = mpsc::channel();
        let second = {
            let store = store.clone();
            let d = d.clone();
            std::thread::spawn(move || {
                started_tx.send(()).unwrap();
                store.ingest(&d, None).unwrap()
            })
        };
        started_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !second.is_finished(),
            "second ingest must wait for the first"
        );
        let mut first = first;
        first.write_all(&bytes).unwrap();
        first.commit().unwrap();
        assert!(matches!(second.join().unwrap(), IngestStart::Present));
        assert_eq!(store.read(&d).unwrap(), bytes);
    }

    #[test]
    fn waiter_after_abort_gets_a_fresh_writer() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ContentStore::open(tmp.path()).unwrap();
        let d = Digest::of(b"abc");
        let mut first = writer(store.ingest(&d, None).unwrap());
        first.write_all(b"ab").unwrap();
        let second = {
            let store = store.clone();
            let d = d.clone();
            std::thread::spawn(move || writer(store.ingest(&d, None).unwrap()))
        };
        std::thread::sleep(Duration::from_millis(100));
        first.abort().unwrap();
        let mut second = second.join().unwrap();
        assert_eq!(second.offset(), 0);
        second.write_all(b"abc").unwrap();
        // The lock we hold is the one on disk: nobody else can start meanwhile.
        assert!(store.try_ingest(&d, None).unwrap().is_none());
        second.commit().unwrap();
        assert_eq!(store.read(&d).unwrap(), b"abc");
    }

    #[test]
    fn write_blob_is_idempotent_and_verified() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ContentStore::open(tmp.path()).unwrap();
        let d = Digest::of(b"{\"config\":1}");
        store.write_blob(&d, b"{\"config\":1}").unwrap();
        store.write_blob(&d, b"{\"config\":1}").unwrap();
        assert_eq!(store.read(&d).unwrap(), b"{\"config\":1}");
        assert_eq!(store.size(&d).unwrap(), 12);
        assert_eq!(blob_count(tmp.path()), 1);
        let err = store.write_blob(&Digest::of(b"x"), b"y").unwrap_err();
        assert!(err.message.contains("digest mismatch"));
        assert_eq!(blob_count(tmp.path()), 1);
        assert_eq!(
            store.read(&Digest::of(b"x")).unwrap_err().kind,
            ErrorKind::NotFound
        );
        assert!(matches!(
            store.ingest(&d, None).unwrap(),
            IngestStart::Present
        ));
    }

    #[test]
    fn cleanup_removes_only_unheld_stale_ingests() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ContentStore::open(tmp.path()).unwrap();
        let dead = Digest::of(b"dead");
        let live = Digest::of(b"live");
        let mut w = writer(store.ingest(&dead, None).unwrap());
        w.write_all(b"de").unwrap();
        drop(w);
        let mut held = writer(store.ingest(&live, None).unwrap());
        held.write_all(b"li").unwrap();

        // Not old enough yet: both kept.
        store.cleanup_stale_ingests().unwrap();
        assert!(tmp.path().join("ingest").join(dead.hex()).exists());

        store
            .cleanup_stale_ingests_older_than(Duration::ZERO)
            .unwrap();
        assert!(!tmp.path().join("ingest").join(dead.hex()).exists());
        assert!(
            tmp.path()
                .join("ingest")
                .join(live.hex())
                .join("data")
                .exists()
        );
        held.write_all(b"ve").unwrap();
        held.commit().unwrap();
        assert!(store.contains(&live));
    }
}
