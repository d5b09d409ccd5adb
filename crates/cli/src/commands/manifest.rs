//! `strata manifest inspect [--insecure] [-v] [MANIFEST_LIST] MANIFEST`

use super::Ctx;
use clap::Args;
use image_store::images::manifest_inspect;
use image_store::registry_client::{ClientOptions, RegistryClient};
use oci_model::Result;
use oci_model::reference::Reference;
use std::io::Write as _;

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

/// Docker's `normalizeReference`: the default tag unless there is a digest.
fn normalize(s: &str) -> Result<Reference> {
    let r = Reference::parse_normalized(s)?;
    Ok(if r.digest().is_some() {
        r
    } else {
        r.with_default_tag()
    })
}

pub fn inspect(ctx: &Ctx, a: InspectArgs) -> Result<u8> {
    let text = match a.refs.as_slice() {
        [list, manifest] => {
            let list = normalize(list)?;
            let manifest = normalize(manifest)?;
            manifest_inspect::inspect_local_entry(&list, &manifest)?
        }
        [manifest] => {
            let reference = normalize(manifest)?;
            let mut insecure = ctx.config.insecure_registries.clone();
            if a.insecure {
                insecure.push(reference.domain().to_string());
            }
            let client = RegistryClient::new(ClientOptions {
                insecure_registries: insecure,
                ..ClientOptions::default()
            })?;
            super::runtime()?.block_on(manifest_inspect::inspect(&client, &reference, a.verbose))?
        }
        _ => unreachable!("clap takes one or two references"),
    };
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    Ok(0)
}
