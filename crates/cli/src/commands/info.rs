//! `strata info [--format]`: the lines of `docker info`'s server section that apply to strata
//! (same labels and indentation, so scripts that grep them work), with `Strata Root Dir` for
//! Docker's root dir and the `Registry:` line older docker CLIs printed. `--format` runs over an
//! object with the Engine API's `/info` key names.

use super::Ctx;
use crate::format::template::render_one;
use crate::format::units::bytes_size;
use clap::Args;
use engine::images::info::{self, INDEX_SERVER_ADDRESS, Info};
use oci_model::Result;

#[derive(Args)]
pub struct InfoArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
}

pub fn render(i: &Info) -> String {
    let mut o = String::new();
    let mut line = |s: String| {
        o.push_str(&s);
        o.push('\n');
    };
    line(format!(" Containers: {}", i.containers));
    line("  Running: 0".into());
    line("  Paused: 0".into());
    line("  Stopped: 0".into());
    line(format!(" Images: {}", i.images));
    line(format!(" Storage Driver: {}", i.driver));
    let names: Vec<&str> = i.runtimes.iter().map(|(n, _)| n.as_str()).collect();
    line(
        format!(" Runtimes: {}", names.join(" "))
            .trim_end()
            .to_string(),
    );
    line(format!(" Default Runtime: {}", i.default_runtime));
    line(format!(" Kernel Version: {}", i.kernel_version));
    line(format!(" Operating System: {}", i.operating_system));
    line(format!(" OSType: {}", i.os_type));
    line(format!(" Architecture: {}", i.architecture));
    line(format!(" CPUs: {}", i.ncpu));
    line(format!(" Total Memory: {}", bytes_size(i.mem_total as f64)));
    line(format!(" Name: {}", i.name));
    line(format!(" Strata Root Dir: {}", i.root_dir.display()));
    line(format!(" Registry: {INDEX_SERVER_ADDRESS}"));
    line(" Insecure Registries:".into());
    for r in i
        .insecure_registries
        .iter()
        .chain(&i.insecure_registry_cidrs)
    {
        line(format!("  {r}"));
    }
    if !i.mirrors.is_empty() {
        line(" Registry Mirrors:".into());
        for m in &i.mirrors {
            line(format!("  {m}"));
        }
    }
    o
}

pub fn run(ctx: &Ctx, a: InfoArgs) -> Result<u8> {
    let store = ctx.store()?;
    let info = info::info(&store)?;
    match a.format.as_deref() {
        None => print!("{}", render(&info)),
        Some("json") => println!("{}", info.to_json()),
        Some(t) => {
            let t = t
                .trim_matches(' ')
                .replace("\\t", "\t")
                .replace("\\n", "\n");
            println!("{}", render_one(&t, &info.to_json())?);
        }
    }
    Ok(0)
}
