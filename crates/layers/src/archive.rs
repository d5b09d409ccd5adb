//! A deterministic tar writer over a directory tree, with our own walk: entries in sorted
//! (byte) order, parents before children, symlinks stored as symlinks (never followed), hard
//! links inside the tree kept as hard links, character/block devices and FIFOs as such, xattrs
//! as PAX `SCHILY.xattr.*` records, sockets skipped (as Docker skips them).
//!
//! Two modes: [`TreeMode::Plain`] writes the tree as it is (`export` of a mounted root
//! filesystem). [`TreeMode::OverlayDiff`] reads an overlay upper directory (`commit`) and writes
//! it as an OCI layer: a whiteout (0/0 character device) becomes an empty `.wh.<name>` file, a
//! directory marked `trusted.overlay.opaque=y` is followed by a `.wh..wh..opq` entry, and
//! overlayfs' own `trusted.overlay.*` xattrs are left out.

use oci_model::{Error, Result};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

const OVERLAY_XATTR_PREFIX: &[u8] = b"trusted.overlay.";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// How [`write_tree`] reads the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeMode {
    /// The tree as it is.
    Plain,
    /// An overlay upper directory, converted to OCI whiteouts.
    OverlayDiff,
}

/// What [`write_tree`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Entries written (whiteout markers included).
    pub entries: u64,
    /// Bytes of regular file content.
    pub file_bytes: u64,
    /// Whiteouts and opaque markers written ([`TreeMode::OverlayDiff`] only).
    pub whiteouts: u64,
}

/// Writes the tree under `root` (not including `root` itself) as a tar stream to `out`, ends
/// the archive, and returns `out` with the stats.
pub fn write_tree<W: Write>(root: &Path, mode: TreeMode, out: W) -> Result<(W, TreeStats)> {
    let mut w = TreeWriter {
        builder: tar::Builder::new(out),
        mode,
        links: HashMap::new(),
        stats: TreeStats::default(),
    };
    w.builder.follow_symlinks(false);
    w.dir(root, Path::new(""))?;
    let out = w
        .builder
        .into_inner()
        .map_err(|e| Error::internal("finishing tar stream", e))?;
    Ok((out, w.stats))
}

struct TreeWriter<W: Write> {
    builder: tar::Builder<W>,
    mode: TreeMode,
    /// (dev, ino) of files with several links → the archive name of the first one written.
    links: HashMap<(u64, u64), PathBuf>,
    stats: TreeStats,
}

/// All xattrs of `path` (not following a symlink), sorted by name.
fn xattrs(path: &Path) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut names = vec![0u8; 1024];
    let n = loop {
        match rustix::fs::llistxattr(path, &mut names) {
            Ok(n) => break n,
            Err(rustix::io::Errno::RANGE) => names.resize(names.len() * 4, 0),
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::internal(
                    format_args!("listing xattrs of {}", path.display()),
                    std::io::Error::from(e),
                ));
            }
        }
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let cname = OsStr::from_bytes(name);
        let mut value = vec![0u8; 256];
        let len = loop {
            match rustix::fs::lgetxattr(path, cname, &mut value) {
                Ok(len) => break Some(len),
                Err(rustix::io::Errno::RANGE) => value.resize(value.len() * 4, 0),
                Err(rustix::io::Errno::NODATA) => break None,
                Err(e) => {
                    return Err(Error::internal(
                        format_args!("reading xattr of {}", path.display()),
                        std::io::Error::from(e),
                    ));
                }
            }
        };
        if let Some(len) = len {
            value.truncate(len);
            out.push((name.to_vec(), value));
        }
    }
    out.sort();
    Ok(out)
}

fn base_header(meta: &Metadata) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(meta.uid() as u64);
    h.set_gid(meta.gid() as u64);
    h.set_mtime(meta.mtime().max(0) as u64);
    h.set_size(0);
    h
}

fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

impl<W: Write> TreeWriter<W> {
    fn dir(&mut self, dir: &Path, rel: &Path) -> Result<()> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .map_err(|e| Error::internal(format_args!("reading {}", dir.display()), e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(|e| Error::internal(format_args!("reading {}", dir.display()), e))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let path = dir.join(&name);
            let rel = rel.join(&name);
            let meta = fs::symlink_metadata(&path)
                .map_err(|e| Error::internal(format_args!("stat {}", path.display()), e))?;
            self.entry(&path, &rel, &meta)?;
            if meta.is_dir() {
                self.dir(&path, &rel)?;
            }
        }
        Ok(())
    }

    fn pax_xattrs(&mut self, attrs: &[(Vec<u8>, Vec<u8>)]) -> Result<()> {
        let records: Vec<(String, &[u8])> = attrs
            .iter()
            .filter(|(n, _)| {
                !(self.mode == TreeMode::OverlayDiff && n.starts_with(OVERLAY_XATTR_PREFIX))
            })
            .filter_map(|(n, v)| {
                std::str::from_utf8(n)
                    .ok()
                    .map(|n| (format!("SCHILY.xattr.{n}"), v.as_slice()))
            })
            .collect();
        if records.is_empty() {
            return Ok(());
        }
        self.builder
            .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))
            .map_err(|e| Error::internal("writing xattrs", e))
    }

    fn entry(&mut self, path: &Path, rel: &Path, meta: &Metadata) -> Result<()> {
        let ft = meta.file_type();
        if ft.is_socket() {
            return Ok(());
        }
        if self.mode == TreeMode::OverlayDiff && is_whiteout(meta) {
            let mut name = b".wh.".to_vec();
            name.extend_from_slice(rel.file_name().unwrap_or_default().as_bytes());
            let wh = rel.with_file_name(OsStr::from_bytes(&name));
            let mut h = base_header(meta);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o600);
            self.append(&mut h, &wh, io::empty())?;
            self.stats.whiteouts += 1;
            return Ok(());
        }
        let attrs = xattrs(path)?;
        let mut h = base_header(meta);
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            self.pax_xattrs(&attrs)?;
            self.append(&mut h, rel, io::empty())?;
            let opaque = self.mode == TreeMode::OverlayDiff
                && attrs
                    .iter()
                    .any(|(n, v)| n == OPAQUE_XATTR.as_bytes() && v == b"y");
            if opaque {
                let mut o = base_header(meta);
                o.set_entry_type(tar::EntryType::Regular);
                o.set_mode(meta.mode() & 0o777);
                self.append(&mut o, &rel.join(".wh..wh..opq"), io::empty())?;
                self.stats.whiteouts += 1;
            }
            return Ok(());
        }
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key).cloned() {
                h.set_entry_type(tar::EntryType::Link);
                self.builder
                    .append_link(&mut h, rel, &first)
                    .map_err(|e| Error::internal(format_args!("writing {}", rel.display()), e))?;
                self.stats.entries += 1;
                return Ok(());
            }
            self.links.insert(key, rel.to_path_buf());
        }
        self.pax_xattrs(&attrs)?;
        if ft.is_symlink() {
            let target = fs::read_link(path)
                .map_err(|e| Error::internal(format_args!("readlink {}", path.display()), e))?;
            h.set_entry_type(tar::EntryType::Symlink);
            self.builder
                .append_link(&mut h, rel, &target)
                .map_err(|e| Error::internal(format_args!("writing {}", rel.display()), e))?;
            self.stats.entries += 1;
        } else if ft.is_file() {
            let file = File::open(path)
                .map_err(|e| Error::internal(format_args!("open {}", path.display()), e))?;
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(meta.len());
            // A file that changes size while being read would corrupt the stream: read exactly
            // the stated length, padding with zeros if it shrank.
            let reader = io::Read::take(
                io::Read::chain(io::Read::take(file, meta.len()), io::repeat(0)),
                meta.len(),
            );
            self.append(&mut h, rel, reader)?;
            self.stats.file_bytes += meta.len();
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            h.set_entry_type(if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            });
            if !ft.is_fifo() {
                let rdev = meta.rdev();
                h.set_device_major(rustix::fs::major(rdev))
                    .and_then(|()| h.set_device_minor(rustix::fs::minor(rdev)))
                    .map_err(|e| Error::internal(format_args!("device {}", rel.display()), e))?;
            }
            self.append(&mut h, rel, io::empty())?;
        }
        Ok(())
    }

    fn append(&mut self, h: &mut tar::Header, name: &Path, data: impl io::Read) -> Result<()> {
        self.builder
            .append_data(h, name, data)
            .map_err(|e| Error::internal(format_args!("writing {}", name.display()), e))?;
        self.stats.entries += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn entries(tar_bytes: &[u8]) -> Vec<(String, tar::EntryType, Vec<u8>, Option<String>)> {
        let mut a = tar::Archive::new(tar_bytes);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = e.path().unwrap().to_string_lossy().into_owned();
                let kind = e.header().entry_type();
                let link = e
                    .link_name()
                    .unwrap()
                    .map(|l| l.to_string_lossy().into_owned());
                let mut data = Vec::new();
                io::Read::read_to_end(&mut e, &mut data).unwrap();
                (name, kind, data, link)
            })
            .collect()
    }

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    #[test]
    fn plain_tree_sorted_with_links_and_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        fs::create_dir_all(r.join("b/sub")).unwrap();
        fs::write(r.join("b/sub/z"), b"zz").unwrap();
        fs::write(r.join("a"), b"hello").unwrap();
        fs::hard_link(r.join("a"), r.join("c-link")).unwrap();
        symlink("/etc/passwd", r.join("s")).unwrap();
        fs::set_permissions(r.join("a"), fs::Permissions::from_mode(0o4755)).unwrap();
        let (out, stats) = write_tree(r, TreeMode::Plain, Vec::new()).unwrap();
        let e = entries(&out);
        let names: Vec<&str> = e.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(names, ["a", "b", "b/sub", "b/sub/z", "c-link", "s"]);
        assert_eq!(e[0].2, b"hello");
        assert_eq!(e[4].1, tar::EntryType::Link);
        assert_eq!(e[4].3.as_deref(), Some("a"));
        assert_eq!(e[5].1, tar::EntryType::Symlink);
        assert_eq!(e[5].3.as_deref(), Some("/etc/passwd"));
        assert_eq!(stats.file_bytes, 7);
        let mut a = tar::Archive::new(out.as_slice());
        let first = a.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(first.header().mode().unwrap(), 0o4755);
        // Deterministic: the same tree gives the same bytes.
        let (again, _) = write_tree(r, TreeMode::Plain, Vec::new()).unwrap();
        assert_eq!(out, again);
    }

    #[test]
    fn long_names_and_long_link_targets() {
        let tmp = tempfile::tempdir().unwrap();
        let long = "d".repeat(120);
        fs::create_dir_all(tmp.path().join(&long)).unwrap();
        fs::write(tmp.path().join(&long).join(&long), b"x").unwrap();
        symlink("t".repeat(150), tmp.path().join("ln")).unwrap();
        let (out, _) = write_tree(tmp.path(), TreeMode::Plain, Vec::new()).unwrap();
        let e = entries(&out);
        assert_eq!(e[0].0, long);
        assert_eq!(e[1].0, format!("{long}/{long}"));
        assert_eq!(e[2].3.as_deref(), Some("t".repeat(150).as_str()));
    }

    #[test]
    fn xattrs_become_pax_records() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("f");
        fs::write(&f, b"x").unwrap();
        if rustix::fs::setxattr(&f, "user.demo", b"v1", rustix::fs::XattrFlags::empty()).is_err() {
            eprintln!("skipped: filesystem without user xattrs");
            return;
        }
        let (out, _) = write_tree(tmp.path(), TreeMode::Plain, Vec::new()).unwrap();
        let mut a = tar::Archive::new(out.as_slice());
        let mut e = a.entries().unwrap().next().unwrap().unwrap();
        let pax: Vec<(String, Vec<u8>)> = e
            .pax_extensions()
            .unwrap()
            .unwrap()
            .map(|x| {
                let x = x.unwrap();
                (x.key().unwrap().to_string(), x.value_bytes().to_vec())
            })
            .collect();
        assert_eq!(
            pax,
            [("SCHILY.xattr.user.demo".to_string(), b"v1".to_vec())]
        );
    }

    #[test]
    fn overlay_upper_dir_becomes_oci_whiteouts() {
        if !is_root() {
            eprintln!("skipped: mknod of whiteouts and trusted xattrs need root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::write(r.join("etc/new"), b"new").unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            r.join("etc/gone"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0),
            0,
        )
        .unwrap();
        fs::create_dir_all(r.join("opq")).unwrap();
        fs::write(r.join("opq/only"), b"o").unwrap();
        rustix::fs::setxattr(
            r.join("opq"),
            OPAQUE_XATTR,
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        // A real device stays a device.
        rustix::fs::mknodat(
            rustix::fs::CWD,
            r.join("null"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
        let (out, stats) = write_tree(r, TreeMode::OverlayDiff, Vec::new()).unwrap();
        let e = entries(&out);
        let names: Vec<(&str, tar::EntryType)> = e.iter().map(|x| (x.0.as_str(), x.1)).collect();
        assert_eq!(
            names,
            [
                ("etc", tar::EntryType::Directory),
                ("etc/.wh.gone", tar::EntryType::Regular),
                ("etc/new", tar::EntryType::Regular),
                ("null", tar::EntryType::Char),
                ("opq", tar::EntryType::Directory),
                ("opq/.wh..wh..opq", tar::EntryType::Regular),
                ("opq/only", tar::EntryType::Regular),
            ]
        );
        assert_eq!(stats.whiteouts, 2);
        // overlayfs' own xattr is not carried into the layer.
        let mut a = tar::Archive::new(out.as_slice());
        for entry in a.entries().unwrap() {
            let mut entry = entry.unwrap();
            if let Some(pax) = entry.pax_extensions().unwrap() {
                for x in pax {
                    assert!(!x.unwrap().key().unwrap().contains("trusted.overlay"));
                }
            }
        }
        // The plain mode keeps the 0/0 device as a device.
        let (plain, _) = write_tree(r, TreeMode::Plain, Vec::new()).unwrap();
        assert!(
            entries(&plain)
                .iter()
                .any(|x| x.0 == "etc/gone" && x.1 == tar::EntryType::Char)
        );
    }
}
