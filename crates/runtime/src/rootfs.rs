//! The container's root filesystem: a writable overlay of the image's layers with the
//! container's `upper/` and `work/`, or (where overlay cannot be used) the layers applied in
//! order into `upper/` and bound at `rootfs/`.

use super::{rootfs_dir, upper_dir, work_dir};
use layers::snapshot::{Driver, Snapshots, is_mount_point};
use oci_model::{Digest, Error, ErrorKind, Result};
use rustix::io::Errno;
use rustix::mount::UnmountFlags;
use std::path::Path;

fn errno(context: String, e: Errno) -> Error {
    Error::new(ErrorKind::Internal, format!("{context}: {e}"))
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false)
}

/// Mounts the rootfs of container `id` (a no-op when mounted already). `driver` is the driver
/// the container used before (`"overlay"`/`"copy"`), if any; the one used is returned.
pub fn mount(
    snapshots: &Snapshots,
    id: &str,
    layers: &[Digest],
    driver: Option<&str>,
) -> Result<Driver> {
    let root = snapshots.root();
    let (upper, work, target) = (
        upper_dir(root, id),
        work_dir(root, id),
        rootfs_dir(root, id),
    );
    // `upper/` becomes the container's `/` (its mode shows through the overlay); `work/` and the
    // mount point are the store's own.
    fsutil::private_dir(&crate::container_dir(root, id))
        .and_then(|()| fsutil::content_root_dir(&upper))
        .and_then(|()| fsutil::private_dir(&work))
        .and_then(|()| fsutil::private_dir(&target))
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("create {}: {e}", upper.display()),
            )
        })?;
    let wanted = driver
        .and_then(Driver::parse)
        .unwrap_or_else(|| Driver::detect(root));
    if is_mount_point(&target)? {
        return Ok(wanted);
    }
    if wanted == Driver::Overlay {
        match snapshots.mount_rw(layers, &upper, &work, &target) {
            Ok(()) => return Ok(Driver::Overlay),
            // A container that already wrote to an overlay upper cannot switch drivers.
            Err(e) if driver.is_some() || !is_empty_dir(&upper) => {
                return Err(errno(format!("mount overlay at {}", target.display()), e));
            }
            Err(_) => {}
        }
    }
    if driver != Some("copy") {
        // First use with the copy driver: the merged layers become the writable directory.
        let opts = layers::unpack::UnpackOptions::for_current_user();
        for chain_id in layers {
            layers::unpack::apply_dir_onto(&snapshots.layer_dir(chain_id), &upper, &opts)?;
        }
    }
    rustix::mount::mount_bind(&upper, &target).map_err(|e| {
        errno(
            format!("bind {} at {}", upper.display(), target.display()),
            e,
        )
    })?;
    Ok(Driver::Copy)
}

/// Unmounts the rootfs of container `id` (every stacked mount; lazily when busy). Not mounted
/// is not an error.
pub fn unmount(root: &Path, id: &str) -> Result<()> {
    let target = rootfs_dir(root, id);
    for _ in 0..16 {
        if !is_mount_point(&target)? {
            return Ok(());
        }
        match rustix::mount::unmount(&target, UnmountFlags::empty()) {
            Ok(()) => {}
            Err(Errno::BUSY) => rustix::mount::unmount(&target, UnmountFlags::DETACH)
                .map_err(|e| errno(format!("unmount {}", target.display()), e))?,
            Err(Errno::INVAL | Errno::NOENT) => return Ok(()),
            Err(e) => return Err(errno(format!("unmount {}", target.display()), e)),
        }
    }
    Err(Error::new(
        ErrorKind::Conflict,
        format!("{} is still mounted", target.display()),
    ))
}
