//! Applies tar entries into a layer directory, every path confined to it.

use super::fsops::{self, Root, XattrTarget};
use super::{OPAQUE_MARKER, UnpackOptions, WHITEOUT_META_PREFIX, WHITEOUT_PREFIX};
use oci_model::{Error, ErrorKind, Result};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use tar::EntryType;

/// Write buffer for file contents.
const COPY_BUFFER: usize = 256 * 1024;

/// Metadata of a directory, applied after all entries (children change a directory's mtime,
/// and a read-only mode would stop a non-root user from filling it).
struct DirMeta {
    rel: Vec<u8>,
    mode: u32,
    mtime: (i64, u32),
}

pub(crate) struct Applier<'a> {
    root: Root,
    opts: &'a UnpackOptions,
    dirs: Vec<DirMeta>,
    buf: Vec<u8>,
    pub(crate) content_size: u64,
    pub(crate) entries: u64,
    pub(crate) skipped_devices: u64,
}

/// What a tar header says about an entry, read before its body is consumed.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, u32),
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

fn fs_err(path: &str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("failed to {what} {path:?}: {e}"),
    )
}

fn corrupt(path: &str, e: impl std::fmt::Display) -> Error {
    Error::corrupt(format!("invalid tar entry {path:?}: {e}"))
}

impl<'a> Applier<'a> {
    pub(crate) fn new(root: Root, opts: &'a UnpackOptions) -> Applier<'a> {
        Applier {
            root,
            opts,
            dirs: Vec::new(),
            buf: vec![0u8; COPY_BUFFER],
            content_size: 0,
            entries: 0,
            skipped_devices: 0,
        }
    }

    pub(crate) fn apply<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let etype = entry.header().entry_type();
        if matches!(
            etype,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let rel = fsops::clean_path(&raw).ok_or_else(|| {
            Error::invalid(format!(
                "invalid tar entry {shown:?}: path escapes the layer root"
            ))
        })?;
        let meta = read_meta(entry).map_err(|e| corrupt(&shown, e))?;
        self.entries += 1;

        if rel.is_empty() {
            if etype != EntryType::Directory {
                return Err(Error::invalid(format!(
                    "invalid tar entry {shown:?}: the layer root must be a directory"
                )));
            }
            let dir = self
                .root
                .resolve_dir(b"")
                .and_then(|d| fsops::reopen_dir(d.as_fd()));
            let dir = dir.map_err(|e| fs_err(&shown, "open", e))?;
            self.dir_meta(dir.as_fd(), &meta)
                .map_err(|e| fs_err(&shown, "set metadata of", e))?;
            self.dirs.push(DirMeta {
                rel,
                mode: meta.mode,
                mtime: meta.mtime,
            });
            return Ok(());
        }

        let (parent_rel, name) = fsops::split_parent(&rel);
        let parent = self
            .root
            .ensure_dir(parent_rel)
            .map_err(|e| fs_err(&shown, "create the parent directory of", e))?;
        let parent = parent.as_fd();

        // Whiteouts.
        if name == OPAQUE_MARKER {
            return self.opaque(parent, &shown);
        }
        if name.starts_with(WHITEOUT_META_PREFIX) {
            return Ok(()); // AUFS hard-link metadata: meaningless outside AUFS.
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() || hidden == b"." || hidden == b".." {
                return Err(Error::invalid(format!("invalid whiteout {shown:?}")));
            }
            return self.whiteout(parent, name, hidden, &shown);
        }

        let link_rel = if etype == EntryType::Link {
            let target = entry.link_name_bytes().ok_or_else(|| {
                Error::invalid(format!(
                    "invalid tar entry {shown:?}: hard link without a target"
                ))
            })?;
            let target = fsops::clean_path(&target).ok_or_else(|| {
                Error::invalid(format!(
                    "invalid tar entry {shown:?}: hard link target {:?} escapes the layer root",
                    String::from_utf8_lossy(&target)
                ))
            })?;
            if target.is_empty() {
                return Err(Error::invalid(format!(
                    "invalid tar entry {shown:?}: hard link to the layer root"
                )));
            }
            if target == rel {
                return Ok(()); // A link to itself: the file is already there.
            }
            Some(target)
        } else {
            None
        };

        let existing = fsops::lstat_type(parent, name).map_err(|e| fs_err(&shown, "inspect", e))?;
        if etype == EntryType::Directory {
            if existing != Some(FileType::Directory) {
                if existing.is_some() {
                    fsops::remove_all_at(parent, name).map_err(|e| fs_err(&shown, "replace", e))?;
                }
                rfs::mkdirat(parent, name, Mode::from_raw_mode(0o700))
                    .map_err(|e| fs_err(&shown, "create directory", e))?;
            }
            let dir =
                fsops::open_dir_nofollow(parent, name).map_err(|e| fs_err(&shown, "open", e))?;
            self.dir_meta(dir.as_fd(), &meta)
                .map_err(|e| fs_err(&shown, "set metadata of", e))?;
            self.dirs.push(DirMeta {
                rel: rel.clone(),
                mode: meta.mode,
                mtime: meta.mtime,
            });
            return Ok(());
        }
        if existing.is_some() {
            fsops::remove_all_at(parent, name).map_err(|e| fs_err(&shown, "replace", e))?;
        }

        match etype {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.regular(parent, name, entry, &meta)
                    .map_err(|e| match e {
                        FileError::Read(e) => super::decompress::read_error(e),
                        FileError::Write(e) => fs_err(&shown, "write", e),
                    })?;
            }
            EntryType::Symlink => {
                let target = entry.link_name_bytes().ok_or_else(|| {
                    Error::invalid(format!(
                        "invalid tar entry {shown:?}: symlink without a target"
                    ))
                })?;
                // The target is data: absolute targets (`/var/run -> /run`) are kept as they are.
                rfs::symlinkat(target.as_ref(), parent, name)
                    .map_err(|e| fs_err(&shown, "create symlink", e))?;
                // Docker's layer size counts a symlink as its target's length (lstat size).
                self.content_size += target.len() as u64;
                self.node_meta(parent, name, &meta, false)
                    .map_err(|e| fs_err(&shown, "set metadata of", e))?;
            }
            EntryType::Link => {
                let target = link_rel.expect("set for links");
                let (tparent_rel, tname) = fsops::split_parent(&target);
                let res = self.root.resolve_dir(tparent_rel).and_then(|tparent| {
                    Ok(rfs::linkat(
                        &tparent,
                        tname,
                        parent,
                        name,
                        AtFlags::empty(),
                    )?)
                });
                res.map_err(|e| {
                    fs_err(
                        &shown,
                        &format!(
                            "create hard link to {:?} as",
                            String::from_utf8_lossy(&target)
                        ),
                        e,
                    )
                })?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (ftype, dev) = match etype {
                    EntryType::Fifo => (FileType::Fifo, 0),
                    t => {
                        let major = entry
                            .header()
                            .device_major()
                            .map_err(|e| corrupt(&shown, e))?
                            .unwrap_or(0);
                        let minor = entry
                            .header()
                            .device_minor()
                            .map_err(|e| corrupt(&shown, e))?
                            .unwrap_or(0);
                        let ft = if t == EntryType::Char {
                            FileType::CharacterDevice
                        } else {
                            FileType::BlockDevice
                        };
                        (ft, rfs::makedev(major, minor))
                    }
                };
                if ftype != FileType::Fifo && !self.opts.same_owner {
                    self.skipped_devices += 1;
                    return Ok(());
                }
                match rfs::mknodat(parent, name, ftype, Mode::from_raw_mode(0o600), dev) {
                    Ok(()) => {}
                    Err(Errno::PERM) if ftype != FileType::Fifo => {
                        // No CAP_MKNOD (e.g. in a user namespace): skipped, like Docker does.
                        self.skipped_devices += 1;
                        return Ok(());
                    }
                    Err(e) => return Err(fs_err(&shown, "create device node", e)),
                }
                self.node_meta(parent, name, &meta, true)
                    .map_err(|e| fs_err(&shown, "set metadata of", e))?;
            }
            other => {
                return Err(Error::unsupported(format!(
                    "invalid tar entry {shown:?}: unsupported entry type {:?}",
                    other.as_byte() as char
                )));
            }
        }
        Ok(())
    }

    fn regular<R: Read>(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &[u8],
        entry: &mut tar::Entry<'_, R>,
        meta: &Meta,
    ) -> std::result::Result<(), FileError> {
        let fd = rfs::openat(
            parent,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| FileError::Write(e.into()))?;
        let mut file = File::from(fd);
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(FileError::Read(e)),
            };
            file.write_all(&self.buf[..n]).map_err(FileError::Write)?;
            self.content_size += n as u64;
        }
        let fd = file.as_fd();
        if self.opts.same_owner {
            fsops::fchown(fd, meta.uid, meta.gid).map_err(FileError::Write)?;
        }
        rfs::fchmod(fd, Mode::from_raw_mode(meta.mode)).map_err(|e| FileError::Write(e.into()))?;
        self.xattrs(&XattrTarget::Fd(fd), meta)
            .map_err(FileError::Write)?;
        let (s, ns) = meta.mtime;
        rfs::futimens(fd, &fsops::timestamps(s, ns)).map_err(|e| FileError::Write(e.into()))?;
        Ok(())
    }

    /// Owner and xattrs of a directory now; the exact mode and mtime at [`Applier::finish`].
    fn dir_meta(&self, dir: BorrowedFd<'_>, meta: &Meta) -> io::Result<()> {
        if self.opts.same_owner {
            fsops::fchown(dir, meta.uid, meta.gid)?;
        }
        rfs::fchmod(dir, Mode::from_raw_mode(meta.mode | 0o700))?;
        self.xattrs(&XattrTarget::Fd(dir), meta)
    }

    /// Metadata of a symlink, device or FIFO (objects that are not opened).
    fn node_meta(
        &self,
        parent: BorrowedFd<'_>,
        name: &[u8],
        meta: &Meta,
        chmod: bool,
    ) -> io::Result<()> {
        if self.opts.same_owner {
            fsops::chown_at(parent, name, meta.uid, meta.gid)?;
        }
        if chmod {
            // Only called right after mknodat created a non-symlink `name`: nothing to follow.
            rfs::chmodat(
                parent,
                name,
                Mode::from_raw_mode(meta.mode),
                AtFlags::empty(),
            )?;
        }
        self.xattrs(&XattrTarget::At(parent, name), meta)?;
        let (s, ns) = meta.mtime;
        rfs::utimensat(
            parent,
            name,
            &fsops::timestamps(s, ns),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
        Ok(())
    }

    fn xattrs(&self, target: &XattrTarget<'_>, meta: &Meta) -> io::Result<()> {
        for (name, value) in &meta.xattrs {
            if fsops::is_overlay_xattr(name) {
                continue;
            }
            match fsops::set_xattr(target, name, value) {
                Ok(()) => {}
                // Filesystems without xattr support, and (rootless) namespaces we may not write.
                Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
                Err(e) if e.raw_os_error() == Some(libc::EPERM) && !self.opts.same_owner => {}
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("set xattr {}: {e}", String::from_utf8_lossy(name)),
                    ));
                }
            }
        }
        Ok(())
    }

    fn opaque(&mut self, parent: BorrowedFd<'_>, shown: &str) -> Result<()> {
        if self.opts.overlay_whiteouts {
            let dir =
                fsops::reopen_dir(parent).map_err(|e| fs_err(shown, "open the directory of", e))?;
            fsops::set_xattr(
                &XattrTarget::Fd(dir.as_fd()),
                b"trusted.overlay.opaque",
                b"y",
            )
            .map_err(|e| fs_err(shown, "mark opaque the directory of", e))?;
            Ok(())
        } else {
            self.marker_file(parent, OPAQUE_MARKER, shown)
        }
    }

    fn whiteout(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &[u8],
        hidden: &[u8],
        shown: &str,
    ) -> Result<()> {
        // A whiteout hides lower layers; anything of that name written earlier in this layer goes.
        fsops::remove_all_at(parent, hidden).map_err(|e| fs_err(shown, "apply whiteout", e))?;
        if self.opts.overlay_whiteouts {
            rfs::mknodat(
                parent,
                hidden,
                FileType::CharacterDevice,
                Mode::empty(),
                rfs::makedev(0, 0),
            )
            .map_err(|e| fs_err(shown, "create whiteout device for", e))?;
            Ok(())
        } else {
            self.marker_file(parent, name, shown)
        }
    }

    /// An empty regular file (AUFS whiteout or opaque marker), replacing whatever had its name.
    fn marker_file(&mut self, parent: BorrowedFd<'_>, name: &[u8], shown: &str) -> Result<()> {
        fsops::remove_all_at(parent, name).map_err(|e| fs_err(shown, "replace", e))?;
        rfs::openat(
            parent,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| fs_err(shown, "create", e))?;
        Ok(())
    }

    /// Sets directories' final modes and mtimes, once all their children exist.
    pub(crate) fn finish(&mut self) -> Result<()> {
        for d in std::mem::take(&mut self.dirs) {
            let shown = String::from_utf8_lossy(&d.rel).into_owned();
            let dir = if d.rel.is_empty() {
                self.root
                    .resolve_dir(b"")
                    .and_then(|r| fsops::reopen_dir(r.as_fd()))
            } else {
                let (parent_rel, name) = fsops::split_parent(&d.rel);
                self.root
                    .resolve_dir(parent_rel)
                    .and_then(|p| fsops::open_dir_nofollow(p.as_fd(), name))
            };
            let dir = match dir {
                Ok(d) => d,
                // Replaced or removed by a later entry: nothing to do.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP)
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(fs_err(&shown, "open", e)),
            };
            rfs::fchmod(&dir, Mode::from_raw_mode(d.mode))
                .map_err(|e| fs_err(&shown, "chmod", e))?;
            rfs::futimens(&dir, &fsops::timestamps(d.mtime.0, d.mtime.1))
                .map_err(|e| fs_err(&shown, "set times of", e))?;
        }
        Ok(())
    }
}

enum FileError {
    Read(io::Error),
    Write(io::Error),
}

fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
    let h = entry.header();
    let mode = h.mode()? & 0o7777;
    let uid = u32::try_from(h.uid()?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "uid out of range"))?;
    let gid = u32::try_from(h.gid()?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "gid out of range"))?;
    let mut mtime = (i64::try_from(h.mtime()?).unwrap_or(i64::MAX), 0u32);
    let mut xattrs = Vec::new();
    if let Some(pax) = entry.pax_extensions()? {
        for ext in pax {
            let ext = ext?;
            let key = ext.key_bytes();
            if key == b"mtime" {
                if let Some(t) = std::str::from_utf8(ext.value_bytes())
                    .ok()
                    .and_then(parse_pax_time)
                {
                    mtime = t;
                }
            } else if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                xattrs.push((name.to_vec(), ext.value_bytes().to_vec()));
            }
        }
    }
    Ok(Meta {
        mode,
        uid,
        gid,
        mtime,
        xattrs,
    })
}

/// A PAX time: decimal seconds with an optional fraction (`1700000000.123456789`, may be negative).
fn parse_pax_time(s: &str) -> Option<(i64, u32)> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut secs: i64 = secs.parse().ok()?;
    if frac.is_empty() {
        return Some((secs, 0));
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let mut nanos: u32 = digits.parse().ok()?;
    if s.starts_with('-') && nanos > 0 {
        // -1.25 means 1.25 s before the epoch: (-2 s) + 0.75 s.
        secs -= 1;
        nanos = 1_000_000_000 - nanos;
    }
    Some((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::parse_pax_time;

    #[test]
    fn pax_times() {
        assert_eq!(parse_pax_time("1700000000"), Some((1700000000, 0)));
        assert_eq!(
            parse_pax_time("1700000000.5"),
            Some((1700000000, 500_000_000))
        );
        assert_eq!(parse_pax_time("1.123456789999"), Some((1, 123_456_789)));
        assert_eq!(parse_pax_time("-1.25"), Some((-2, 750_000_000)));
        assert_eq!(parse_pax_time("x"), None);
    }
}
