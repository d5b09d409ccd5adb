//! `image mount` / `image unmount`: the image's layers as one read-only filesystem.

use layers::snapshot::Driver;
use oci_model::{Digest, Error, Result};
use std::path::PathBuf;
use store::Store;

fn mount_name(id: &str) -> Result<String> {
    Ok(Digest::parse(id)?.hex().to_string())
}

/// Mounts image `id` (overlay, or a merged copy where overlay cannot be used) and returns the path.
/// Mounting an image that is already mounted returns the same path.
pub fn mount(store: &Store, id: &str) -> Result<PathBuf> {
    let image = store
        .db()
        .image(id)?
        .ok_or_else(|| Error::not_found(format!("No such image: {id}")))?;
    let name = mount_name(id)?;
    if let Some(existing) = store.db().get_mount(id)?
        && (store.snapshots.is_mounted(&name)?
            || existing.driver == Driver::Copy && existing.path.exists())
    {
        return Ok(existing.path);
    }
    let view = store
        .snapshots
        .mount(&name, &image.layers, Driver::detect(store.root()))?;
    store
        .db()
        .set_mount(id, &view.path.display().to_string(), view.driver)?;
    Ok(view.path)
}

pub fn unmount(store: &Store, id: &str) -> Result<()> {
    let name = mount_name(id)?;
    if store.db().get_mount(id)?.is_none() {
        return Err(Error::invalid(format!(
            "image {} is not mounted",
            &name[..12]
        )));
    }
    store.snapshots.unmount_view(&name)?;
    store.db().remove_mount(id)?;
    Ok(())
}
