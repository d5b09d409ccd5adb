//! `strata tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`

use super::Ctx;
use clap::Args;
use oci_model::{Error, Result};

#[derive(Args)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG]
    pub source: String,
    /// TARGET_IMAGE[:TAG]
    pub target: String,
}

pub fn run(_ctx: &Ctx, _a: TagArgs) -> Result<u8> {
    Err(Error::unsupported("tag: in progress"))
}
