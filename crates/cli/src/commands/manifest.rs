//! `strata manifest inspect [--insecure] [-v] [MANIFEST_LIST] MANIFEST`

use super::Ctx;
use clap::Args;
use oci_model::{Error, Result};

#[derive(Args)]
pub struct InspectArgs {
    /// Allow communication with an insecure registry
    #[arg(long)]
    pub insecure: bool,
    /// Output additional info including layers and platform
    #[arg(short, long)]
    pub verbose: bool,
    /// [MANIFEST_LIST] MANIFEST
    #[arg(required = true, num_args = 1..=2)]
    pub refs: Vec<String>,
}

pub fn inspect(_ctx: &Ctx, _a: InspectArgs) -> Result<u8> {
    Err(Error::unsupported("manifest inspect: in progress"))
}
