//! Layer snapshots by ChainID and union views.
//!
//! Layout under the store root:
//! ```text
//! layers/<chainid-hex>/diff/     a committed layer, unpacked in overlay form (read-only by convention)
//! layers/tmp/<name>.lock         flock held by the process that owns layers/tmp/<name>
//! layers/tmp/<name>/diff/        a layer being unpacked; invisible until renamed to layers/<hex>
//! mounts/<name>/merged           a union view (overlay mount, read-only bind mount, or a copy)
//! driver                         cached result of the overlay probe ("overlay" or "copy")
//! ```
//! A temporary directory always has its lock file while it is alive: the lock file is
//! created (and locked) before the directory and unlinked after the directory is renamed or
//! removed. So [`Snapshots::cleanup_tmp`] removes directories whose lock it can take, and
//! directories without a lock file, and never touches one that a live process uses.
//!
//! **Overlay option length.** `mount(2)` copies at most one page of option data, and 40
//! lower directories at `<root>/layers/<64 hex>/diff` exceed it. Instead of absolute paths the
//! option string names each lower directory as `/proc/self/fd/<n>`, where `<n>` is an
//! `O_PATH` descriptor opened on that directory just before the mount (the kernel resolves the
//! magic link to the directory while it parses the options). That is about 18 bytes per layer
//! whatever the root path, enough for 200+ layers, and needs neither `chdir` (process-wide,
//! unsafe with threads) nor a directory of short symlinks.

use oci_model::{Digest, Error, ErrorKind, Result};
use rustix::fs::{AtFlags, CWD, Mode, OFlags, RenameFlags, StatxAttributes, StatxFlags};
use rustix::io::Errno;
use rustix::mount::{MountFlags, UnmountFlags};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Environment variable forcing a driver: `overlay` or `copy`.
pub const SNAPSHOTTER_ENV: &str = "STRATA_SNAPSHOTTER";

/// Image views (`image mount`) are for looking at an image from the host: read-only, and
/// `nosuid,nodev` so a setuid binary or a device node an image ships gives nobody anything
/// there. (Container root filesystems keep setuid, as Docker's do: programs in the container
/// rely on it; they are reachable only through the private store directory.)
const VIEW_FLAGS: MountFlags = MountFlags::RDONLY
    .union(MountFlags::NOSUID)
    .union(MountFlags::NODEV);

/// The kernel copies at most one page of mount option data.
const MAX_MOUNT_DATA: usize = 4095;

fn errno_err(context: impl std::fmt::Display, e: Errno) -> Error {
    Error::io(context, e.into())
}

/// How a union view is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Driver {
    /// Kernel overlayfs (a read-only bind mount for a single layer).
    Overlay,
    /// A plain directory into which every layer is applied in order.
    Copy,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::Overlay => "overlay",
            Driver::Copy => "copy",
        }
    }

    pub fn parse(s: &str) -> Option<Driver> {
        match s.trim() {
            "overlay" | "overlay2" | "overlayfs" => Some(Driver::Overlay),
            "copy" | "native" | "vfs" => Some(Driver::Copy),
            _ => None,
        }
    }

    /// The driver to use for views under `root`: `STRATA_SNAPSHOTTER` if set, otherwise the
    /// cached result (`<root>/driver`) of probing an overlay mount of two tiny directories.
    pub fn detect(root: &Path) -> Driver {
        if let Some(d) = std::env::var(SNAPSHOTTER_ENV)
            .ok()
            .as_deref()
            .and_then(Driver::parse)
        {
            return d;
        }
        let cache = root.join("driver");
        if let Some(d) = fs::read_to_string(&cache)
            .ok()
            .as_deref()
            .and_then(Driver::parse)
        {
            return d;
        }
        let driver = if probe_overlay(root) {
            Driver::Overlay
        } else {
            Driver::Copy
        };
        let tmp = root.join(fsutil::unique_name(".driver"));
        if fs::write(&tmp, driver.name())
            .and_then(|_| fs::rename(&tmp, &cache))
            .is_err()
        {
            let _ = fs::remove_file(&tmp);
        }
        driver
    }
}

impl std::fmt::Display for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn mount_data(s: String) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Tries one read-only overlay mount of two empty directories.
fn probe_overlay(root: &Path) -> bool {
    if !rustix::process::geteuid().is_root() {
        return false;
    }
    let dir = root.join(fsutil::unique_name(".overlay-probe"));
    let ok = (|| -> io::Result<bool> {
        fsutil::private_dir(&dir)?;
        for sub in ["a", "b", "m"] {
            fs::create_dir(dir.join(sub))?;
        }
        let data = mount_data(format!(
            "lowerdir={}:{}",
            dir.join("a").display(),
            dir.join("b").display()
        ))?;
        match rustix::mount::mount(
            "overlay",
            dir.join("m"),
            "overlay",
            MountFlags::RDONLY,
            Some(data.as_c_str()),
        ) {
            Ok(()) => {
                let _ = rustix::mount::unmount(dir.join("m"), UnmountFlags::DETACH);
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    })()
    .unwrap_or(false);
    let _ = fs::remove_dir_all(&dir);
    ok
}

/// A union view that [`Snapshots::mount_view`] built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// `<root>/mounts/<name>/merged`.
    pub path: PathBuf,
    /// The driver actually used (overlay falls back to copy when the kernel refuses).
    pub driver: Driver,
}

/// Committed layers by ChainID, and union views over them.
#[derive(Debug, Clone)]
pub struct Snapshots {
    root: PathBuf,
}

/// A temporary directory under `layers/tmp/` held by this process through its lock file.
struct TmpEntry {
    dir: PathBuf,
    lock_path: PathBuf,
    _lock: File,
}

impl TmpEntry {
    /// Creates and locks `<tmp>/<name>.lock` (checking that the file we locked is still the
    /// one on disk), then returns; the caller creates or renames in `dir`.
    fn new(tmp: &Path, tag: &str) -> Result<TmpEntry> {
        loop {
            let name = fsutil::unique_name(tag);
            let lock_path = tmp.join(format!("{name}.lock"));
            let lock = match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock_path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(format_args!("create {}", lock_path.display()), e)),
            };
            lock.lock()
                .map_err(|e| Error::io(format_args!("lock {}", lock_path.display()), e))?;
            // A cleanup may have locked and unlinked the fresh file before we locked it.
            let ours = lock.metadata().map_err(|e| Error::io("stat lock", e))?;
            match fs::metadata(&lock_path) {
                Ok(m) if m.ino() == ours.ino() && m.dev() == ours.dev() => {
                    return Ok(TmpEntry {
                        dir: tmp.join(name),
                        lock_path,
                        _lock: lock,
                    });
                }
                _ => continue,
            }
        }
    }

    /// Removes the directory (if any) and then the lock file.
    fn remove(&self) -> Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format_args!("remove {}", self.dir.display()), e)),
        }
        let _ = fs::remove_file(&self.lock_path);
        Ok(())
    }
}

/// A fresh directory to unpack one layer into; removed on drop unless committed.
pub struct Prepared {
    entry: Option<TmpEntry>,
    diff: PathBuf,
}

impl Prepared {
    /// The directory to unpack the layer into.
    pub fn path(&self) -> &Path {
        &self.diff
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("path", &self.path())
            .finish()
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            let _ = entry.remove();
        }
    }
}

impl Snapshots {
    /// Opens (creating directories if needed) the snapshots under `root`.
    pub fn open(root: &Path) -> Result<Snapshots> {
        for dir in [root.join("layers").join("tmp"), root.join("mounts")] {
            fsutil::private_dir(&dir)
                .map_err(|e| Error::io(format_args!("create {}", dir.display()), e))?;
        }
        Ok(Snapshots {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn layers(&self) -> PathBuf {
        self.root.join("layers")
    }

    fn tmp(&self) -> PathBuf {
        self.root.join("layers").join("tmp")
    }

    /// `<root>/layers/<hex>/diff`: the unpacked files of a committed layer.
    pub fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.layers().join(chain_id.hex()).join("diff")
    }

    pub fn exists(&self, chain_id: &Digest) -> bool {
        self.layer_dir(chain_id).is_dir()
    }

    /// A fresh, invisible directory to unpack a layer into.
    pub fn prepare(&self) -> Result<Prepared> {
        let entry = TmpEntry::new(&self.tmp(), "prepare")?;
        let (dir, diff) = (entry.dir.clone(), entry.dir.join("diff"));
        let prepared = Prepared {
            entry: Some(entry),
            diff: diff.clone(),
        };
        fsutil::private_dir_new(&dir)
            .and_then(|()| fsutil::content_root_dir(&diff))
            .map_err(|e| Error::io(format_args!("create {}", diff.display()), e))?;
        Ok(prepared)
    }

    /// Makes a prepared layer visible as `chain_id`: syncs its filesystem, then renames it
    /// into place atomically. If the layer already exists (another process unpacked it
    /// first), ours is discarded and this still succeeds.
    pub fn commit(&self, mut p: Prepared, chain_id: &Digest) -> Result<()> {
        let Some(entry) = p.entry.take() else {
            return Err(Error::new(
                ErrorKind::Internal,
                "prepared snapshot already consumed",
            ));
        };
        let result = (|| {
            let dir = File::open(&entry.dir)
                .map_err(|e| Error::io(format_args!("open {}", entry.dir.display()), e))?;
            rustix::fs::syncfs(&dir)
                .map_err(|e| errno_err(format_args!("syncfs {}", entry.dir.display()), e))?;
            let target = self.layers().join(chain_id.hex());
            match rustix::fs::renameat_with(CWD, &entry.dir, CWD, &target, RenameFlags::NOREPLACE) {
                Ok(()) => {
                    let _ = fs::remove_file(&entry.lock_path);
                    File::open(self.layers())
                        .and_then(|d| d.sync_all())
                        .map_err(|e| Error::io("fsync layers dir", e))?;
                    Ok(())
                }
                Err(Errno::EXIST | Errno::NOTEMPTY) => entry.remove(),
                Err(e) => Err(errno_err(format_args!("commit layer {chain_id}"), e)),
            }
        })();
        if result.is_err() {
            let _ = entry.remove();
        }
        result
    }

    /// Removes a committed layer: it disappears atomically (renamed into `layers/tmp/`),
    /// then its files are deleted. Removing a missing layer is not an error.
    pub fn remove(&self, chain_id: &Digest) -> Result<()> {
        let entry = TmpEntry::new(&self.tmp(), "remove")?;
        let source = self.layers().join(chain_id.hex());
        match fs::rename(&source, &entry.dir) {
            Ok(()) => entry.remove(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => entry.remove(),
            Err(e) => {
                let _ = entry.remove();
                Err(Error::io(format_args!("remove layer {chain_id}"), e))
            }
        }
    }

    /// Removes temporary directories left by killed processes. Live ones are kept: their
    /// owners hold the lock.
    pub fn cleanup_tmp(&self) -> Result<()> {
        let tmp = self.tmp();
        let entries =
            fs::read_dir(&tmp).map_err(|e| Error::io(format_args!("read {}", tmp.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format_args!("read {}", tmp.display()), e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(base) = name.strip_suffix(".lock") {
                let Ok(lock) = OpenOptions::new().write(true).open(&path) else {
                    continue;
                };
                if lock.try_lock().is_ok() {
                    let dir = tmp.join(base);
                    if fs::remove_dir_all(&dir).is_ok() || !dir.exists() {
                        let _ = fs::remove_file(&path);
                    }
                }
            } else if !tmp.join(format!("{name}.lock")).exists() {
                // No lock file: its owner is gone (a live owner creates the lock first and
                // removes it last).
                let _ = fs::remove_dir_all(&path);
            }
        }
        Ok(())
    }

    fn view_dir(&self, name: &str) -> Result<PathBuf> {
        if name.is_empty()
            || name == "."
            || name == ".."
            || name.contains('/')
            || name.contains('\0')
        {
            return Err(Error::invalid(format!("invalid view name {name:?}")));
        }
        Ok(self.root.join("mounts").join(name))
    }

    /// The driver views of this store use ([`Driver::detect`]), by name.
    pub fn driver_name(&self) -> &'static str {
        Driver::detect(&self.root).name()
    }

    /// [`Snapshots::mount`], returning only the view's path.
    pub fn mount_view(&self, name: &str, lowers: &[Digest], driver: Driver) -> Result<PathBuf> {
        self.mount(name, lowers, driver).map(|v| v.path)
    }

    /// Builds a read-only union view of `lowers` (bottom layer first) at
    /// `<root>/mounts/<name>/merged`. With [`Driver::Overlay`], two or more layers are an
    /// overlay mount (`lowerdir=top:…:bottom`, see the module docs for the option length)
    /// and a single layer a read-only bind mount; when the kernel refuses overlay (EPERM,
    /// ENODEV) it falls back to the copy driver. The returned [`View`] says which was used.
    pub fn mount(&self, name: &str, lowers: &[Digest], driver: Driver) -> Result<View> {
        let dir = self.view_dir(name)?;
        let merged = dir.join("merged");
        for chain_id in lowers {
            if !self.exists(chain_id) {
                return Err(Error::not_found(format!(
                    "layer {chain_id} is not unpacked"
                )));
            }
        }
        if merged.exists() {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("view {name} already exists"),
            ));
        }
        fsutil::private_dir(&dir)
            .and_then(|()| fs::create_dir(&merged))
            .map_err(|e| Error::io(format_args!("create {}", merged.display()), e))?;
        let result = match driver {
            Driver::Overlay => match self.mount_overlay(lowers, &merged) {
                Ok(()) => Ok(Driver::Overlay),
                Err(Errno::PERM | Errno::NODEV | Errno::ACCESS) => {
                    self.copy_view(lowers, &merged).map(|()| Driver::Copy)
                }
                Err(e) => Err(errno_err(
                    format_args!("mount overlay at {}", merged.display()),
                    e,
                )),
            },
            Driver::Copy => self.copy_view(lowers, &merged).map(|()| Driver::Copy),
        };
        match result {
            Ok(driver) => Ok(View {
                path: merged,
                driver,
            }),
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// `lowerdir=` for `lowers` (bottom first): each layer dir as a path-only descriptor, named
    /// `/proc/self/fd/N` (~18 bytes a layer, so 200+ layers fit the mount data page). The
    /// descriptors must stay open until mount(2) has resolved the paths.
    fn lowerdir_fds(
        &self,
        lowers: &[Digest],
    ) -> std::result::Result<(Vec<OwnedFd>, String), Errno> {
        let mut fds: Vec<OwnedFd> = Vec::with_capacity(lowers.len());
        for chain_id in lowers.iter().rev() {
            fds.push(rustix::fs::open(
                self.layer_dir(chain_id),
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?);
        }
        let lowerdir = fds
            .iter()
            .map(|fd| format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .collect::<Vec<_>>()
            .join(":");
        Ok((fds, lowerdir))
    }

    fn mount_overlay(&self, lowers: &[Digest], merged: &Path) -> std::result::Result<(), Errno> {
        match lowers {
            [] => Ok(()),
            [only] => {
                rustix::mount::mount_bind(self.layer_dir(only), merged)?;
                if let Err(e) =
                    rustix::mount::mount_remount(merged, MountFlags::BIND | VIEW_FLAGS, "")
                {
                    let _ = rustix::mount::unmount(merged, UnmountFlags::DETACH);
                    return Err(e);
                }
                Ok(())
            }
            _ => {
                // Keep the descriptors open until mount(2) has resolved every path.
                let (_fds, lowerdir) = self.lowerdir_fds(lowers)?;
                let data = format!("lowerdir={lowerdir}");
                if data.len() > MAX_MOUNT_DATA {
                    return Err(Errno::TOOBIG);
                }
                let data = mount_data(data).map_err(|_| Errno::INVAL)?;
                rustix::mount::mount(
                    "overlay",
                    merged,
                    "overlay",
                    VIEW_FLAGS,
                    Some(data.as_c_str()),
                )
            }
        }
    }

    fn copy_view(&self, lowers: &[Digest], merged: &Path) -> Result<()> {
        let opts = crate::unpack::UnpackOptions::for_current_user();
        for chain_id in lowers {
            crate::unpack::apply_dir_onto(&self.layer_dir(chain_id), merged, &opts)?;
        }
        // Read-only like an overlay view: a read-only bind mount of the copy onto itself. Without
        // the privilege to mount (rootless), the copy stays writable: it is a private copy anyway.
        match rustix::mount::mount_bind(merged, merged) {
            Ok(()) => {
                if let Err(e) =
                    rustix::mount::mount_remount(merged, MountFlags::BIND | VIEW_FLAGS, "")
                {
                    let _ = rustix::mount::unmount(merged, UnmountFlags::DETACH);
                    return Err(errno_err(
                        format_args!("remount {} read-only", merged.display()),
                        e,
                    ));
                }
                Ok(())
            }
            Err(Errno::PERM | Errno::ACCESS) => Ok(()),
            Err(e) => Err(errno_err(format_args!("bind {}", merged.display()), e)),
        }
    }

    /// Unmounts a view (lazily detaching it if busy) and removes its directory. Unknown
    /// views are not an error.
    pub fn unmount_view(&self, name: &str) -> Result<()> {
        let dir = self.view_dir(name)?;
        let merged = dir.join("merged");
        if !dir.exists() {
            return Ok(());
        }
        // Mounts may be stacked; peel them all.
        for _ in 0..16 {
            if !is_mount_root(&merged)? {
                break;
            }
            match rustix::mount::unmount(&merged, UnmountFlags::empty()) {
                Ok(()) => {}
                Err(Errno::BUSY) => rustix::mount::unmount(&merged, UnmountFlags::DETACH)
                    .map_err(|e| errno_err(format_args!("unmount {}", merged.display()), e))?,
                Err(e) => return Err(errno_err(format_args!("unmount {}", merged.display()), e)),
            }
        }
        if is_mount_root(&merged)? {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("{} is still mounted", merged.display()),
            ));
        }
        fs::remove_dir_all(&dir).map_err(|e| Error::io(format_args!("remove {}", dir.display()), e))
    }

    /// Mounts a writable overlay at `target`: `lowers` (ChainIDs, bottom first; read-only,
    /// named through `/proc/self/fd` as for views) under `upper` with overlay's `work` dir.
    /// Errors are returned as is (the caller decides whether to fall back to a copy).
    pub fn mount_rw(
        &self,
        lowers: &[Digest],
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> std::result::Result<(), Errno> {
        if lowers.is_empty() {
            return rustix::mount::mount_bind(upper, target);
        }
        let (_fds, lowerdir) = self.lowerdir_fds(lowers)?;
        let data = format!(
            "lowerdir={lowerdir},upperdir={},workdir={}",
            upper.display(),
            work.display()
        );
        if data.len() > MAX_MOUNT_DATA {
            return Err(Errno::TOOBIG);
        }
        let data = mount_data(data).map_err(|_| Errno::INVAL)?;
        rustix::mount::mount(
            "overlay",
            target,
            "overlay",
            MountFlags::empty(),
            Some(data.as_c_str()),
        )
    }

    /// Whether `mounts/<name>/merged` is currently a mount point.
    pub fn is_mounted(&self, name: &str) -> Result<bool> {
        is_mount_root(&self.view_dir(name)?.join("merged"))
    }
}

/// Whether `path` is the root of a mount (statx `STATX_ATTR_MOUNT_ROOT`, Linux ≥ 5.8).
/// A missing path is not a mount root.
pub fn is_mount_point(path: &Path) -> Result<bool> {
    is_mount_root(path)
}

fn is_mount_root(path: &Path) -> Result<bool> {
    match rustix::fs::statx(
        CWD,
        path,
        AtFlags::NO_AUTOMOUNT | AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::BASIC_STATS,
    ) {
        Ok(st) if st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT) => {
            Ok(st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT))
        }
        Ok(_) => Err(Error::unsupported(
            "this kernel cannot report mount points (statx STATX_ATTR_MOUNT_ROOT)",
        )),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(errno_err(format_args!("statx {}", path.display()), e)),
    }
}

#[cfg(test)]
mod tests;
