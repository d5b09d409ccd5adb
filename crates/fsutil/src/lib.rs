//! File-system helpers shared by every part of the store.
//!
//! **Private directories.** The store holds unpacked image content: setuid-root binaries and
//! device nodes exactly as the images ship them. If an unprivileged user could walk into
//! `<root>/layers/<id>/diff/`, any pulled image would hand them root (moby CVE-2021-41091 is
//! this bug in Docker, which keeps its data root 0710 since; containerd keeps snapshots 0700).
//! So every directory that makes up the store's own structure is created `0700` by
//! [`private_dir`], whatever the caller's umask, and [`tighten`] narrows an existing one on
//! open. Directories *inside* image content keep the modes the image gives them.

use std::fs::{self, DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

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
}
