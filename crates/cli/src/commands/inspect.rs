//! `strata image inspect IMAGE...` — Docker's JSON array, 4-space indent; missing images are
//! reported on stderr after the found ones are printed, exit 1.

use super::Ctx;
use clap::Args;
use image_store::images::{inspect, lookup};
use oci_model::Result;

#[derive(Args)]
pub struct InspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
    /// IMAGE [IMAGE...]
    #[arg(required = true)]
    pub images: Vec<String>,
}

pub fn run(ctx: &Ctx, a: InspectArgs) -> Result<u8> {
    let store = ctx.store()?;
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for name in &a.images {
        let found = lookup::find_image(&store.db(), name);
        match found.and_then(|id| inspect::inspect(&store, &id)) {
            Ok(v) => values.push(v),
            Err(e) => errors.push(e),
        }
    }
    println!("{}", inspect::to_docker_json(&values));
    for e in &errors {
        eprintln!("Error: {e}");
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}
