//! `strata history [-H] [--no-trunc] [-q] [--format] IMAGE`

use super::Ctx;
use clap::{ArgAction, Args};
use oci_model::{Error, Result};

#[derive(Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    pub image: String,
}

pub fn run(_ctx: &Ctx, _a: HistoryArgs) -> Result<u8> {
    Err(Error::unsupported("history: in progress"))
}
