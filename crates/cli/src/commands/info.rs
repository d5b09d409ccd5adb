//! `strata info [--format]`

use super::Ctx;
use clap::Args;
use oci_model::{Error, Result};

#[derive(Args)]
pub struct InfoArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
}

pub fn run(_ctx: &Ctx, _a: InfoArgs) -> Result<u8> {
    Err(Error::unsupported("info: in progress"))
}
