//! Merges an unpacked layer directory (either whiteout form) onto a copy of the layers below it.
//!
//! Both trees are walked with directory fds and single-component, never-followed names: a
//! symlink in either tree is copied as a symlink and never traversed.

use super::fsops::{self, Root, XattrTarget};
use super::{OPAQUE_MARKER, UnpackOptions, WHITEOUT_META_PREFIX, WHITEOUT_PREFIX};
use oci_model::{Error, ErrorKind, Result};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

pub(crate) struct Onto<'a> {
    opts: &'a UnpackOptions,
    target_root: Root,
    /// Layer inode (dev, ino) → its path in the target, for files with several links.
    links: HashMap<(u64, u64), Vec<u8>>,
    layer_display: String,
}

struct Info {
    ftype: FileType,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    dev: u64,
    ino: u64,
    rdev: u64,
    mtime: (i64, u32),
}

#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn info(st: &Stat) -> Info {
    Info {
        ftype: FileType::from_raw_mode(st.st_mode as _),
        mode: (st.st_mode as u32) & 0o7777,
        uid: st.st_uid as u32,
        gid: st.st_gid as u32,
        nlink: st.st_nlink as u64,
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        rdev: st.st_rdev as u64,
        mtime: (st.st_mtime as i64, st.st_mtime_nsec as u32),
    }
}

fn join(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = rel.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

impl<'a> Onto<'a> {
    pub(crate) fn run(layer: &Path, target: &Path, opts: &'a UnpackOptions) -> Result<()> {
        let open = |p: &Path| {
            rfs::open(
                p,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("failed to open {}: {e}", p.display()),
                )
            })
        };
        let lfd = open(layer)?;
        let tfd = open(target)?;
        let target_root = Root::open(target).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("failed to open {}: {e}", target.display()),
            )
        })?;
        let mut this = Onto {
            opts,
            target_root,
            links: HashMap::new(),
            layer_display: layer.display().to_string(),
        };
        this.merge_dir(lfd.as_fd(), tfd.as_fd(), b"")?;
        // The layer's root directory attributes win, as with overlayfs' upper dir.
        let st = rfs::fstat(&lfd).map_err(|e| this.err(b"", "stat", e))?;
        this.meta_fd(lfd.as_fd(), tfd.as_fd(), &info(&st))
            .map_err(|e| this.err(b"", "set metadata of", e))?;
        Ok(())
    }

    fn err(&self, rel: &[u8], what: &str, e: impl std::fmt::Display) -> Error {
        Error::new(
            ErrorKind::Internal,
            format!(
                "failed to {what} {:?} of layer {}: {e}",
                String::from_utf8_lossy(rel),
                self.layer_display
            ),
        )
    }

    fn merge_dir(&mut self, l: BorrowedFd<'_>, t: BorrowedFd<'_>, rel: &[u8]) -> Result<()> {
        let names = fsops::list_dir(l).map_err(|e| self.err(rel, "list", e))?;
        let mut opaque = names.iter().any(|n| n == OPAQUE_MARKER);
        if !opaque {
            let mut v = [0u8; 2];
            opaque = matches!(rfs::fgetxattr(l, "trusted.overlay.opaque", &mut v[..]), Ok(1) if v[0] == b'y');
        }
        if opaque {
            fsops::clear_dir(t).map_err(|e| self.err(rel, "clear opaque directory", e))?;
        }

        // Whiteouts first: they only hide what is below this layer.
        let mut rest = Vec::with_capacity(names.len());
        for name in names {
            if name == OPAQUE_MARKER || name.starts_with(WHITEOUT_META_PREFIX) {
                continue;
            }
            if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
                fsops::remove_all_at(t, hidden)
                    .map_err(|e| self.err(&join(rel, &name), "apply whiteout", e))?;
                continue;
            }
            let st = rfs::statat(l, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| self.err(&join(rel, &name), "stat", e))?;
            let inf = info(&st);
            if inf.ftype == FileType::CharacterDevice && inf.rdev == 0 {
                fsops::remove_all_at(t, &name)
                    .map_err(|e| self.err(&join(rel, &name), "apply whiteout", e))?;
                continue;
            }
            rest.push((name, inf));
        }

        for (name, inf) in rest {
            let path = join(rel, &name);
            self.merge_entry(l, t, &name, &path, &inf)?;
        }
        Ok(())
    }

    fn merge_entry(
        &mut self,
        l: BorrowedFd<'_>,
        t: BorrowedFd<'_>,
        name: &[u8],
        path: &[u8],
        inf: &Info,
    ) -> Result<()> {
        let existing = fsops::lstat_type(t, name).map_err(|e| self.err(path, "inspect", e))?;
        if inf.ftype == FileType::Directory {
            if existing != Some(FileType::Directory) {
                if existing.is_some() {
                    fsops::remove_all_at(t, name).map_err(|e| self.err(path, "replace", e))?;
                }
                rfs::mkdirat(t, name, Mode::from_raw_mode(0o700))
                    .map_err(|e| self.err(path, "create directory", e))?;
            }
            let lsub = fsops::open_dir_nofollow(l, name).map_err(|e| self.err(path, "open", e))?;
            let tsub = fsops::open_dir_nofollow(t, name).map_err(|e| self.err(path, "open", e))?;
            // Writable while filling it; the real mode comes with the mtime afterwards.
            rfs::fchmod(&tsub, Mode::from_raw_mode(inf.mode | 0o700))
                .map_err(|e| self.err(path, "chmod", e))?;
            self.merge_dir(lsub.as_fd(), tsub.as_fd(), path)?;
            return self
                .meta_fd(lsub.as_fd(), tsub.as_fd(), inf)
                .map_err(|e| self.err(path, "set metadata of", e));
        }
        if existing.is_some() {
            fsops::remove_all_at(t, name).map_err(|e| self.err(path, "replace", e))?;
        }
        match inf.ftype {
            FileType::RegularFile => self.copy_file(l, t, name, path, inf),
            FileType::Symlink => {
                let target = rfs::readlinkat(l, name, Vec::new())
                    .map_err(|e| self.err(path, "read symlink", e))?;
                rfs::symlinkat(target.as_bytes(), t, name)
                    .map_err(|e| self.err(path, "create symlink", e))?;
                self.meta_at(l, t, name, inf, false)
                    .map_err(|e| self.err(path, "set metadata of", e))
            }
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
                if inf.ftype != FileType::Fifo && !self.opts.same_owner {
                    return Ok(());
                }
                match rfs::mknodat(
                    t,
                    name,
                    inf.ftype,
                    Mode::from_raw_mode(0o600),
                    inf.rdev as _,
                ) {
                    Ok(()) => {}
                    Err(Errno::PERM) if inf.ftype != FileType::Fifo => return Ok(()),
                    Err(e) => return Err(self.err(path, "create device node", e)),
                }
                self.meta_at(l, t, name, inf, true)
                    .map_err(|e| self.err(path, "set metadata of", e))
            }
            // Sockets are not image content.
            _ => Ok(()),
        }
    }

    fn copy_file(
        &mut self,
        l: BorrowedFd<'_>,
        t: BorrowedFd<'_>,
        name: &[u8],
        path: &[u8],
        inf: &Info,
    ) -> Result<()> {
        if inf.nlink > 1 {
            if let Some(first) = self.links.get(&(inf.dev, inf.ino)) {
                let (fparent, fname) = fsops::split_parent(first);
                let linked = self
                    .target_root
                    .resolve_dir(fparent)
                    .and_then(|p| Ok(rfs::linkat(&p, fname, t, name, AtFlags::empty())?));
                if linked.is_ok() {
                    return Ok(());
                }
                // The first copy is gone or on another filesystem: fall back to a copy.
            } else {
                self.links.insert((inf.dev, inf.ino), path.to_vec());
            }
        }
        let src = rfs::openat(
            l,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.err(path, "open", e))?;
        let dst = rfs::openat(
            t,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| self.err(path, "create", e))?;
        let (mut src, mut dst) = (File::from(src), File::from(dst));
        io::copy(&mut src, &mut dst).map_err(|e| self.err(path, "copy", e))?;
        self.meta_fd(src.as_fd(), dst.as_fd(), inf)
            .map_err(|e| self.err(path, "set metadata of", e))
    }

    /// Owner, mode, xattrs and times from an open layer object onto an open target object.
    fn meta_fd(&self, src: BorrowedFd<'_>, dst: BorrowedFd<'_>, inf: &Info) -> io::Result<()> {
        if self.opts.same_owner {
            fsops::fchown(dst, inf.uid, inf.gid)?;
        }
        rfs::fchmod(dst, Mode::from_raw_mode(inf.mode))?;
        self.copy_xattrs(&XattrTarget::Fd(src), &XattrTarget::Fd(dst))?;
        rfs::futimens(dst, &fsops::timestamps(inf.mtime.0, inf.mtime.1))?;
        Ok(())
    }

    /// The same for objects that are not opened (symlinks, devices, FIFOs).
    fn meta_at(
        &self,
        l: BorrowedFd<'_>,
        t: BorrowedFd<'_>,
        name: &[u8],
        inf: &Info,
        chmod: bool,
    ) -> io::Result<()> {
        if self.opts.same_owner {
            fsops::chown_at(t, name, inf.uid, inf.gid)?;
        }
        if chmod {
            // `name` was just created by mknodat: not a symlink, nothing to follow.
            rfs::chmodat(t, name, Mode::from_raw_mode(inf.mode), AtFlags::empty())?;
        }
        self.copy_xattrs(&XattrTarget::At(l, name), &XattrTarget::At(t, name))?;
        rfs::utimensat(
            t,
            name,
            &fsops::timestamps(inf.mtime.0, inf.mtime.1),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
        Ok(())
    }

    fn copy_xattrs(&self, src: &XattrTarget<'_>, dst: &XattrTarget<'_>) -> io::Result<()> {
        for (name, value) in fsops::get_xattrs(src)? {
            if fsops::is_overlay_xattr(&name) {
                continue;
            }
            match fsops::set_xattr(dst, &name, &value) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
                Err(e) if e.raw_os_error() == Some(libc::EPERM) && !self.opts.same_owner => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
