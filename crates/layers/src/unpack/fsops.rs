//! Low-level filesystem operations that never leave a root directory.
//!
//! Every multi-component path is resolved with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//! relative to the root's fd, so `..`, absolute symlinks and symlink chains are all confined to the
//! root (an absolute symlink target means "the root", exactly like inside a container). Objects are
//! then created or changed with `*at` calls on a single final component that is never followed.

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, XattrFlags};
use rustix::io::Errno;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// Maximum symlinks followed while creating missing parent directories.
const MAX_SYMLINKS: u32 = 40;

/// A directory that all paths are resolved inside of.
pub(crate) struct Root {
    fd: OwnedFd,
}

impl Root {
    pub(crate) fn open(path: &Path) -> io::Result<Root> {
        let fd = rfs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd })
    }

    /// Opens the directory at `rel` (a cleaned, relative path; empty = the root) as an `O_PATH` fd.
    /// Symlinks along the way are followed, but inside the root.
    pub(crate) fn resolve_dir(&self, rel: &[u8]) -> io::Result<OwnedFd> {
        let path: &[u8] = if rel.is_empty() { b"." } else { rel };
        let mut tries = 0;
        loop {
            match rfs::openat2(
                &self.fd,
                path,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            ) {
                // The kernel asks for a retry when a rename raced with the lookup.
                Err(Errno::AGAIN) if tries < 16 => tries += 1,
                Err(Errno::NOSYS) => {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        "openat2 is not available (Linux 5.6 or later is required to unpack layers safely)",
                    ));
                }
                r => return r.map_err(io::Error::from),
            }
        }
    }

    /// Like [`Root::resolve_dir`], creating missing directories (mode 0755) on the way, the way
    /// `mkdir -p` would inside a chroot: a dangling symlink component gets its target created.
    pub(crate) fn ensure_dir(&self, rel: &[u8]) -> io::Result<OwnedFd> {
        self.ensure_dir_depth(rel, 0)
    }

    fn ensure_dir_depth(&self, rel: &[u8], depth: u32) -> io::Result<OwnedFd> {
        match self.resolve_dir(rel) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && !rel.is_empty() => {}
            r => return r,
        }
        let (parent_rel, name) = split_parent(rel);
        let parent = self.ensure_dir_depth(parent_rel, depth)?;
        match rfs::mkdirat(&parent, name, Mode::from_raw_mode(0o755)) {
            Ok(()) => {}
            Err(Errno::EXIST) => {
                let st = rfs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW)?;
                if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
                    if depth >= MAX_SYMLINKS {
                        return Err(Errno::LOOP.into());
                    }
                    let target = rfs::readlinkat(&parent, name, Vec::new())?;
                    let target = target.as_bytes();
                    // `..` stays in the path: the kernel needs every component before a `..`
                    // to exist, so each one is created in turn (a `..` itself never creates
                    // anything: `mkdirat(.., "..")` is EEXIST on a directory).
                    let joined = if target.starts_with(b"/") {
                        skip_empty(target)
                    } else {
                        let mut p = parent_rel.to_vec();
                        p.push(b'/');
                        p.extend_from_slice(target);
                        skip_empty(&p)
                    };
                    self.ensure_dir_depth(&joined, depth + 1)?;
                }
            }
            Err(e) => return Err(e.into()),
        }
        self.resolve_dir(rel)
    }
}

/// Splits a cleaned relative path into (parent, final component).
pub(crate) fn split_parent(rel: &[u8]) -> (&[u8], &[u8]) {
    match rel.iter().rposition(|b| *b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (&[], rel),
    }
}

/// Lexically cleans a path relative to a root: drops empty and `.` components, resolves `..`.
/// Returns `None` when a `..` would climb above the root (a breakout attempt).
pub(crate) fn clean_path(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out: Vec<&[u8]> = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop()?;
            }
            c => out.push(c),
        }
    }
    Some(out.join(&b'/'))
}

/// Drops empty and `.` components (and so a leading `/`), keeping `..`.
fn skip_empty(raw: &[u8]) -> Vec<u8> {
    let parts: Vec<&[u8]> = raw
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    parts.join(&b'/')
}

/// The type of `name` in `dir`, without following a symlink; `None` when it does not exist.
pub(crate) fn lstat_type(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Option<FileType>> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Removes `name` in `dir` whatever it is; a directory is removed with all its contents.
/// Symlinks are removed, never followed. A missing `name` is not an error.
pub(crate) fn remove_all_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a single path component",
        ));
    }
    match rfs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR) => {}
        Err(e) => return Err(e.into()),
    }
    let sub = rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    clear_dir(sub.as_fd())?;
    drop(sub);
    match rfs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes every entry inside the directory `dir` (which must be opened for reading).
pub(crate) fn clear_dir(dir: BorrowedFd<'_>) -> io::Result<()> {
    for name in list_dir(dir)? {
        remove_all_at(dir, &name)?;
    }
    Ok(())
}

/// The names in a directory (without `.` and `..`), sorted for a deterministic order.
pub(crate) fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    for entry in rfs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    names.sort();
    Ok(names)
}

/// Opens `name` in `dir` as a directory for reading, never following a symlink.
pub(crate) fn open_dir_nofollow(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<OwnedFd> {
    Ok(rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Re-opens an (`O_PATH`) directory fd for reading, so that fd-based calls (`fchown`, `fsetxattr`,
/// `futimens`) work on it.
pub(crate) fn reopen_dir(dir: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    open_dir_nofollow(dir, b".")
}

/// The `/proc/self/fd/<dir>/<name>` path: with the `l*xattr` calls the final component is not
/// followed, and the directory part is a fixed directory, so this reaches exactly `name` in `dir`.
/// Used for objects that cannot be opened for fd-based xattr calls (symlinks, devices, FIFOs).
pub(crate) fn proc_path(dir: BorrowedFd<'_>, name: &[u8]) -> Vec<u8> {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(name);
    p
}

/// Where an xattr is set: an open file or directory, or a name in a directory (not followed).
pub(crate) enum XattrTarget<'a> {
    Fd(BorrowedFd<'a>),
    At(BorrowedFd<'a>, &'a [u8]),
}

/// Xattrs that only Strata itself may set: overlayfs interprets them (opaque dirs, redirects,
/// metacopy, origin), so a layer tar or layer dir must never smuggle them in.
pub(crate) fn is_overlay_xattr(name: &[u8]) -> bool {
    name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.")
}

pub(crate) fn set_xattr(target: &XattrTarget<'_>, name: &[u8], value: &[u8]) -> io::Result<()> {
    let r = match target {
        XattrTarget::Fd(fd) => rfs::fsetxattr(fd, name, value, XattrFlags::empty()),
        XattrTarget::At(dir, entry) => rfs::lsetxattr(
            proc_path(*dir, entry).as_slice(),
            name,
            value,
            XattrFlags::empty(),
        ),
    };
    Ok(r?)
}

/// All xattrs of an object as (name, value) pairs.
pub(crate) fn get_xattrs(target: &XattrTarget<'_>) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let path = match target {
        XattrTarget::At(dir, entry) => Some(proc_path(*dir, entry)),
        XattrTarget::Fd(_) => None,
    };
    let list = |buf: &mut [u8]| -> Result<usize, Errno> {
        match (target, &path) {
            (XattrTarget::Fd(fd), _) => rfs::flistxattr(fd, buf),
            (_, Some(p)) => rfs::llistxattr(p.as_slice(), buf),
            _ => unreachable!("path is set for At"),
        }
    };
    let get = |name: &[u8], buf: &mut [u8]| -> Result<usize, Errno> {
        match (target, &path) {
            (XattrTarget::Fd(fd), _) => rfs::fgetxattr(fd, name, buf),
            (_, Some(p)) => rfs::lgetxattr(p.as_slice(), name, buf),
            _ => unreachable!("path is set for At"),
        }
    };
    let names = match read_sized(|b| list(b)) {
        Ok(n) => n,
        Err(Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        match read_sized(|b| get(name, b)) {
            Ok(value) => out.push((name.to_vec(), value)),
            // Removed in between, or not readable by us (e.g. trusted.* when rootless).
            Err(Errno::NODATA) | Err(Errno::PERM) | Err(Errno::ACCESS) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Calls a list/get xattr function with a growing buffer until the value fits.
fn read_sized(mut f: impl FnMut(&mut [u8]) -> Result<usize, Errno>) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; 256];
    loop {
        match f(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(Errno::RANGE) if buf.len() < (1 << 20) => {
                let len = buf.len() * 4;
                buf.resize(len, 0);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sets the owner of `name` in `dir` (not following a symlink). Callers chown before chmod and
/// before setting xattrs: chown clears setuid/setgid bits and file capabilities.
pub(crate) fn chown_at(dir: BorrowedFd<'_>, name: &[u8], uid: u32, gid: u32) -> io::Result<()> {
    let (u, g) = ids(uid, gid);
    Ok(rfs::chownat(
        dir,
        name,
        Some(u),
        Some(g),
        AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

pub(crate) fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    let (u, g) = ids(uid, gid);
    Ok(rfs::fchown(fd, Some(u), Some(g))?)
}

fn ids(uid: u32, gid: u32) -> (rfs::Uid, rfs::Gid) {
    // `u32::MAX` would mean "leave unchanged" to the kernel; map it to the overflow id instead.
    let uid = if uid == u32::MAX { 65534 } else { uid };
    let gid = if gid == u32::MAX { 65534 } else { gid };
    (rfs::Uid::from_raw(uid), rfs::Gid::from_raw(gid))
}

/// A timestamp for both atime and mtime.
pub(crate) fn timestamps(secs: i64, nsecs: u32) -> rfs::Timestamps {
    let t = rfs::Timespec {
        tv_sec: secs,
        tv_nsec: nsecs.min(999_999_999) as _,
    };
    rfs::Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Syncs the filesystem holding `path` (one `syncfs` instead of an fsync per file).
pub fn sync_dir_tree(path: &Path) -> io::Result<()> {
    let fd = rfs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(rfs::syncfs(&fd)?)
}
