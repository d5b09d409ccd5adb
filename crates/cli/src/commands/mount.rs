//! `strata image mount IMAGE` / `strata image unmount IMAGE`

use super::Ctx;
use clap::Args;
use engine::images::mount as mount_op;
use engine::images::query::lookup;
use oci_model::Result;

#[derive(Args)]
pub struct MountArgs {
    pub image: String,
}

pub fn mount(ctx: &Ctx, a: MountArgs) -> Result<u8> {
    let store = ctx.store()?;
    let id = lookup::find_image(store.db(), &a.image)?;
    let path = mount_op::mount(&store, &id)?;
    println!("{}", path.display());
    Ok(0)
}

pub fn unmount(ctx: &Ctx, a: MountArgs) -> Result<u8> {
    let store = ctx.store()?;
    let id = lookup::find_image(store.db(), &a.image)?;
    mount_op::unmount(&store, &id)?;
    Ok(0)
}
