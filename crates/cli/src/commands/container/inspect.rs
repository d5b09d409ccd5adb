//! `container inspect`: the engine's Docker objects as a JSON array or through a template.

use crate::commands::Ctx;
use crate::format::template::render_one;
use clap::Args;
use engine::containers::find;
use engine::containers::inspect::inspect as inspect_op;
use oci_model::Result;

#[derive(Args)]
pub struct InspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn inspect(ctx: &Ctx, a: InspectArgs) -> Result<u8> {
    let store = ctx.store()?;
    let mut values = Vec::new();
    let mut failed = false;
    for n in &a.containers {
        match find(&store, n) {
            Ok(c) => values.push(inspect_op(&store, &c)),
            Err(e) => {
                eprintln!("Error: {}", e.message);
                failed = true;
            }
        }
    }
    match a.format.as_deref() {
        None | Some("") | Some("json") => {
            if a.format.is_none() || !values.is_empty() {
                println!("{}", engine::images::inspect::to_docker_json(&values));
            }
        }
        Some(t) => {
            for v in &values {
                match render_one(t, v) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("{e}");
                        return Ok(1);
                    }
                }
            }
        }
    }
    Ok(u8::from(failed))
}
