//! `strata system df [-v] [--format]`

use super::Ctx;
use clap::Args;
use oci_model::{Error, Result};

#[derive(Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
}

pub fn df(_ctx: &Ctx, _a: DfArgs) -> Result<u8> {
    Err(Error::unsupported("system df: in progress"))
}
