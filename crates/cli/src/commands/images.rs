//! `strata images [-a] [-q] [--digests] [--no-trunc] [REPOSITORY[:TAG]]` — Docker's classic table.

use super::Ctx;
use crate::format::table::Table;
use crate::format::units::{human_duration, human_size_with_precision};
use clap::Args;
use image_store::list::{self, ImageRow};
use oci_model::Result;
use oci_model::reference::Reference;

#[derive(Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (dangling, reference, label, before, since, until)
    #[arg(short, long, value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

fn matches(row: &ImageRow, want: &Reference) -> bool {
    if row.repository != want.familiar_name() {
        return false;
    }
    want.tag().is_none_or(|t| t == row.tag)
}

pub fn created_since(created_unix: i64, now: i64) -> String {
    if created_unix <= 0 {
        return "N/A".into();
    }
    let secs = (now - created_unix).max(0) as u64;
    format!(
        "{} ago",
        human_duration(std::time::Duration::from_secs(secs))
    )
}

pub fn run(ctx: &Ctx, a: ImagesArgs) -> Result<u8> {
    let want = a
        .reference
        .as_deref()
        .map(Reference::parse_normalized)
        .transpose()?;
    let store = ctx.store()?;
    let rows = list::rows(&store.db(), a.all)?;
    let rows: Vec<ImageRow> = rows
        .into_iter()
        .filter(|r| want.as_ref().is_none_or(|w| matches(r, w)))
        .collect();
    let id_of = |r: &ImageRow| {
        if a.no_trunc {
            r.image.id.clone()
        } else {
            r.image
                .id
                .trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect()
        }
    };
    if a.quiet {
        let mut out = String::new();
        for r in &rows {
            out.push_str(&id_of(r));
            out.push('\n');
        }
        print!("{out}");
        return Ok(0);
    }
    let now = jiff::Timestamp::now().as_second();
    let mut t = Table::new();
    let mut header = vec!["REPOSITORY", "TAG"];
    if a.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    t.row(header);
    for r in &rows {
        let mut cells = vec![r.repository.clone(), r.tag.clone()];
        if a.digests {
            cells.push(r.digest.clone());
        }
        cells.push(id_of(r));
        cells.push(created_since(r.image.created_unix, now));
        cells.push(human_size_with_precision(r.image.size as f64, 3));
        t.row(cells);
    }
    print!("{}", t.render());
    Ok(0)
}
