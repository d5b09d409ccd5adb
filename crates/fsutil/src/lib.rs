//! File-system helpers written once for every crate: private directories, temporary names and
//! files, durable writes (fsync of files and directories) and atomic replacement.
//!
//! **Private directories.** The store holds unpacked image content: setuid-root binaries and
//! device nodes exactly as the images ship them. If an unprivileged user could walk into
//! `<root>/layers/<id>/diff/`, any pulled image would hand them root (moby CVE-2021-41091 is
//! this bug in Docker, which keeps its data root 0710 since; containerd keeps snapshots 0700).
//! So every directory that makes up the store's own structure is created `0700` by
//! [`private_dir`], whatever the caller's umask, and [`tighten`] narrows an existing one on
//! open. Directories *inside* image content keep the modes the image gives them.

use std::fs::{self, DirBuilder, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A name no other process and no other call of this process uses:
/// `<tag>-<pid>-<nanos hex>-<seq>`. The pid comes first so a sweeper can tell whose it was.
pub fn unique_name(tag: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{tag}-{}-{nanos:x}-{n}", std::process::id())
}

/// Makes the entries of `dir` (creations, renames, removals) durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `dir/name` with `bytes` atomically and durably: a hidden temporary file next to it,
/// written and fsynced, renamed over the name, then the directory fsynced. Readers see the old
/// content or the new, never a part; a crash leaves at most a `.tmp-…` file behind.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(unique_name(".tmp"));
    let result = (|| {
        let mut f = File::options().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join(name))?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A file that is removed when dropped unless [`TempFile::keep`] took it.
#[derive(Debug)]
pub struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    /// Creates `dir/<what>-<unique>` (read-write, new), making `dir` private if needed.
    pub fn create_in(dir: &Path, what: &str) -> io::Result<(TempFile, File)> {
        private_dir(dir)?;
        let path = dir.join(unique_name(what));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok((TempFile { path: Some(path) }, file))
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Stops removing the file on drop (it was renamed into place); returns its path.
    pub fn keep(mut self) -> PathBuf {
        self.path.take().unwrap_or_default()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = fs::remove_file(p);
        }
    }
}

/// The mode of every directory of the store's structure.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// Creates `path` (and missing parents) as a private directory and makes sure `path` itself
/// is `0700` even when it existed or the umask took owner bits away.
pub fn private_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR_MODE)
        .create(path)?;
    tighten(path)
}

/// Creates one private directory; `AlreadyExists` when it exists (for exclusive creation).
pub fn private_dir_new(path: &Path) -> io::Result<()> {
    DirBuilder::new().mode(PRIVATE_DIR_MODE).create(path)?;
    tighten(path)
}

/// Creates the root directory of a file tree that belongs to image content (a layer's `diff/`,
/// a container's `upper/`): `0755` like the `/` of an image, whatever the umask, since it
/// becomes the container's `/`. Existing directories are left as they are.
pub fn content_root_dir(path: &Path) -> io::Result<()> {
    match DirBuilder::new().mode(0o755).create(path) {
        Ok(()) => fs::set_permissions(path, Permissions::from_mode(0o755)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes an existing directory `0700` if it is not already (one `stat`, a `chmod` only when
/// needed).
pub fn tighten(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() && meta.permissions().mode() & 0o7777 != PRIVATE_DIR_MODE {
        fs::set_permissions(path, Permissions::from_mode(PRIVATE_DIR_MODE))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn private_dirs_ignore_the_umask_and_tighten_existing_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let nested = tmp.path().join("a/b/c");
        private_dir(&nested).unwrap();
        for p in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&tmp.path().join(p)), 0o700, "{p}");
        }
        let open = tmp.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, Permissions::from_mode(0o4777)).unwrap();
        private_dir(&open).unwrap();
        assert_eq!(mode(&open), 0o700);
        assert_eq!(
            private_dir_new(&open).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
    }

    #[test]
    fn unique_names_differ_and_name_the_process() {
        let (a, b) = (unique_name("x"), unique_name("x"));
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("x-{}-", std::process::id())), "{a}");
    }

    #[test]
    fn atomic_writes_replace_whole_and_leave_no_temp_files() {
        let tmp = tempfile::tempdir().unwrap();
        write_atomic(tmp.path(), "f", b"one").unwrap();
        write_atomic(tmp.path(), "f", b"two").unwrap();
        assert_eq!(fs::read(tmp.path().join("f")).unwrap(), b"two");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
        let err = write_atomic(&tmp.path().join("missing"), "f", b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn temp_files_go_away_unless_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("t");
        let (t, _) = TempFile::create_in(&dir, "a").unwrap();
        let p = t.path().to_path_buf();
        assert!(p.exists());
        drop(t);
        assert!(!p.exists());
        let (t, _) = TempFile::create_in(&dir, "b").unwrap();
        let kept = t.keep();
        assert!(kept.exists());
        assert_eq!(mode(&dir), 0o700);
    }
}
