//! `export CONTAINER`: the container's flattened root filesystem as one tar stream.
//!
//! A running (or mounted) container's `rootfs/` is read as it is. Otherwise a private,
//! read-only view is built for the export: an overlay mount whose lower layers are the
//! container's upper directory over the image's layers (overlayfs honours the whiteouts and
//! opaque directories of lower layers), or, where overlay cannot be mounted, a copy made by
//! applying the layers and the upper directory in order. The view is removed afterwards.

use layers::archive::{self, TreeMode};
use layers::unpack::{self, UnpackOptions};
use oci_model::{Error, Result};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use store::Store;
use store::metadata::ContainerRecord;

/// Whether `path` is a mount point of this process's mount namespace.
pub fn is_mount_point(path: &Path) -> bool {
    let Ok(path) = path.canonicalize() else {
        return false;
    };
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    info.lines().any(|l| {
        l.split(' ')
            .nth(4)
            .is_some_and(|mp| Path::new(&unescape_mountinfo(mp)) == path)
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A temporary flattened view, removed on drop.
struct TempView {
    dir: PathBuf,
    mounted: bool,
}

impl TempView {
    fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TempView {
    fn drop(&mut self) {
        if self.mounted {
            let _ = rustix::mount::unmount(&self.dir, rustix::mount::UnmountFlags::DETACH);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Builds a read-only flattened view of `upper` over `layers` (layer directories, bottom first).
fn flattened_view(root: &Path, layers: &[PathBuf], upper: &Path) -> Result<TempView> {
    let tmp = root.join("tmp");
    fsutil::private_dir(&tmp)
        .map_err(|e| Error::internal(format!("create {}", tmp.display()), e))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = tmp.join(format!("export-{}-{nanos}", std::process::id()));
    fsutil::private_dir_new(&dir)
        .map_err(|e| Error::internal(format!("create {}", dir.display()), e))?;
    let mut view = TempView {
        dir,
        mounted: false,
    };
    if rustix::process::geteuid().is_root() {
        let mut lowers: Vec<String> = vec![upper.display().to_string()];
        lowers.extend(layers.iter().rev().map(|l| l.display().to_string()));
        if let Ok(data) = std::ffi::CString::new(format!("lowerdir={}", lowers.join(":")))
            && rustix::mount::mount(
                "overlay",
                &view.dir,
                "overlay",
                rustix::mount::MountFlags::RDONLY,
                Some(data.as_c_str()),
            )
            .is_ok()
        {
            view.mounted = true;
            return Ok(view);
        }
    }
    // Copy fallback: every layer, then the container's own changes.
    let opts = UnpackOptions::for_current_user();
    for layer in layers.iter().chain(std::iter::once(&upper.to_path_buf())) {
        unpack::apply_dir_onto(layer, &view.dir, &opts)?;
    }
    Ok(view)
}

/// Writes the flattened root filesystem of container `c` to `out` as a tar stream.
pub fn export_container<W: Write>(store: &Store, c: &ContainerRecord, out: W) -> Result<W> {
    let rootfs = runtime::rootfs_dir(store.root(), &c.id);
    if is_mount_point(&rootfs) {
        return archive::write_tree(&rootfs, TreeMode::Plain, out).map(|(w, _)| w);
    }
    let upper = runtime::upper_dir(store.root(), &c.id);
    if c.config.driver == "copy" {
        // The copy driver's writable directory is the whole root filesystem.
        return archive::write_tree(&upper, TreeMode::Plain, out).map(|(w, _)| w);
    }
    let image = store
        .db()
        .image(&c.image_id)?
        .ok_or_else(|| Error::not_found(format!("No such image: {}", c.image_id)))?;
    let layers: Vec<PathBuf> = image
        .layers
        .iter()
        .map(|l| store.snapshots.layer_dir(l))
        .collect();
    export_layers(store.root(), &layers, &upper, out)
}

/// [`export_container`] from its parts: image layer directories (bottom first) and the
/// container's upper directory.
pub fn export_layers<W: Write>(root: &Path, layers: &[PathBuf], upper: &Path, out: W) -> Result<W> {
    let view = flattened_view(root, layers, upper)?;
    let out = archive::write_tree(view.path(), TreeMode::Plain, out).map(|(w, _)| w);
    drop(view);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut a = tar::Archive::new(tar_bytes);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let n = e.path().unwrap().to_string_lossy().into_owned();
                let mut d = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut d).unwrap();
                (n, d)
            })
            .collect()
    }

    #[test]
    fn mountinfo_unescape() {
        assert_eq!(unescape_mountinfo(r"/a\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert!(is_mount_point(Path::new("/")));
    }

    #[test]
    fn upper_over_layers_flattened() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let l1 = tmp.path().join("l1");
        let upper = tmp.path().join("upper");
        fs::create_dir_all(l1.join("etc")).unwrap();
        fs::write(l1.join("etc/a"), b"base").unwrap();
        fs::write(l1.join("etc/b"), b"b").unwrap();
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::write(upper.join("etc/a"), b"changed").unwrap();
        if rustix::process::geteuid().is_root() {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                upper.join("etc/b"),
                rustix::fs::FileType::CharacterDevice,
                rustix::fs::Mode::from_raw_mode(0),
                0,
            )
            .unwrap();
        } else {
            fs::write(upper.join("etc/.wh.b"), b"").unwrap();
        }
        let out = export_layers(&root, &[l1], &upper, Vec::new()).unwrap();
        let n = names(&out);
        assert_eq!(
            n,
            [
                ("etc".to_string(), vec![]),
                ("etc/a".to_string(), b"changed".to_vec())
            ]
        );
        // The view is gone.
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    }
}
