//! `strata tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`: prints nothing on success. Errors the
//! docker CLI raises itself (reference syntax, a digest in the target) are printed as it prints
//! them, without the `Error: ` prefix of the errors its daemon returns.

use super::Ctx;
use clap::Args;
use engine::images::tag;
use oci_model::Result;

#[derive(Args)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG]
    pub source: String,
    /// TARGET_IMAGE[:TAG]
    pub target: String,
}

pub fn run(ctx: &Ctx, a: TagArgs) -> Result<u8> {
    let target = match tag::parse_source(&a.source).and_then(|()| tag::parse_target(&a.target)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}", e.message);
            return Ok(1);
        }
    };
    let store = ctx.store()?;
    tag::tag(store.db(), &a.source, &target)?;
    Ok(0)
}
