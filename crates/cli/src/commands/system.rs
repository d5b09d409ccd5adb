//! `strata system df [-v] [--format]`: docker/cli's disk usage tables (`formatter/disk_usage.go`)
//! over the numbers image-store computes from the metadata database.

use super::Ctx;
use super::images::created_since;
use crate::format::table::tabwrite;
use crate::format::template::{self, Format};
use crate::format::units::{human_size, human_size_with_precision};
use clap::Args;
use engine::images::df::{self, DiskUsage, ImageUsage};
use oci_model::Result;
use oci_model::gojson::marshal as go_marshal;
use serde_json::{Value, json};

#[derive(Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
}

const DEFAULT_TABLE: &str =
    "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
const HEADERS: &[(&str, &str)] = &[
    ("Type", "TYPE"),
    ("TotalCount", "TOTAL"),
    ("Active", "ACTIVE"),
    ("Size", "SIZE"),
    ("Reclaimable", "RECLAIMABLE"),
];

/// `HumanSize(reclaimable)` with the percentage of `total` Docker adds when `total` is non-zero.
pub fn reclaimable(reclaimable: u64, total: u64) -> String {
    if total > 0 {
        format!(
            "{} ({}%)",
            human_size(reclaimable),
            reclaimable as u128 * 100 / total as u128
        )
    } else {
        human_size(reclaimable)
    }
}

fn summary_row(kind: &str, total: usize, active: usize, size: u64, recl: String) -> Value {
    json!({
        "Active": active.to_string(),
        "Reclaimable": recl,
        "Size": human_size(size),
        "TotalCount": total.to_string(),
        "Type": kind,
    })
}

/// The four summary rows: Images, Containers, Local Volumes, Build Cache.
pub fn summary(du: &DiskUsage) -> Vec<Value> {
    vec![
        summary_row(
            "Images",
            du.images.len(),
            du.active_images(),
            du.layers_size,
            reclaimable(du.reclaimable(), du.layers_size),
        ),
        summary_row("Containers", 0, 0, 0, human_size(0)),
        summary_row("Local Volumes", 0, 0, 0, human_size(0)),
        summary_row("Build Cache", 0, 0, 0, human_size(0)),
    ]
}

/// Go's `time.Time.String()` of a Unix time in the local zone (`2023-11-14 22:13:21 +0000 UTC`).
fn go_time_string(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| {
            t.to_zoned_datetime(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S %z %Z")
                .to_string()
        })
        .unwrap_or_default()
}

fn image_json(i: &ImageUsage, now: i64) -> Value {
    json!({
        "Containers": i.containers.to_string(),
        "CreatedAt": go_time_string(i.created_unix),
        "CreatedSince": created_since(i.created_unix, now),
        "Digest": "",
        "ID": i.id,
        "Repository": i.repository,
        "SharedSize": human_size(i.shared_size),
        "Size": human_size_with_precision(i.size as f64, 3),
        "Tag": i.tag,
        "UniqueSize": human_size(i.unique_size()),
        "VirtualSize": human_size(i.size),
    })
}

/// `system df -v` as a table: the images, then the (empty) containers, volumes and build cache.
pub fn verbose(du: &DiskUsage, now: i64) -> String {
    let mut t = String::from("Images space usage:\n\n");
    t.push_str("REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n");
    for i in &du.images {
        let short: String =
            i.id.trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect();
        t.push_str(&format!(
            "{}\t{}\t{short}\t{}\t{}\t{}\t{}\t{}\n",
            i.repository,
            i.tag,
            created_since(i.created_unix, now),
            human_size_with_precision(i.size as f64, 3),
            human_size(i.shared_size),
            human_size(i.unique_size()),
            i.containers
        ));
    }
    t.push_str("\nContainers space usage:\n\n");
    t.push_str("CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n");
    t.push_str("\nLocal Volumes space usage:\n\n");
    t.push_str("VOLUME NAME\tLINKS\tSIZE\n");
    t.push_str(&format!("\nBuild cache usage: {}\n\n", human_size(0)));
    t.push_str("CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED\n");
    tabwrite(&t)
}

pub fn df(ctx: &Ctx, a: DfArgs) -> Result<u8> {
    let store = ctx.store()?;
    let du = df::disk_usage(store.db())?;
    let now = jiff::Timestamp::now().as_second();
    let out = match (a.verbose, a.format.as_deref()) {
        (true, None) => verbose(&du, now),
        (true, Some(f)) => {
            let images: Vec<Value> = du.images.iter().map(|i| image_json(i, now)).collect();
            let v = json!({"Images": images, "Containers": [], "Volumes": [], "BuildCache": []});
            match Format::parse(f) {
                Format::Table(None) => verbose(&du, now),
                Format::Json => go_marshal(&v),
                Format::Table(Some(t)) | Format::Raw(t) => template::render_one(&t, &v)?,
            }
        }
        (false, f) => {
            let format = Format::parse(f.unwrap_or("table"));
            let rows = summary(&du);
            match format {
                Format::Json => rows
                    .iter()
                    .map(|r| format!("{}\n", go_marshal(r)))
                    .collect(),
                _ => template::render(&format, DEFAULT_TABLE, HEADERS, &rows)?,
            }
        }
    };
    print!("{out}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaimable_percentages() {
        assert_eq!(reclaimable(0, 0), "0B");
        assert_eq!(reclaimable(1547, 1547), "1.547kB (100%)");
        assert_eq!(reclaimable(1, 3), "1B (33%)");
        assert_eq!(reclaimable(0, 10), "0B (0%)");
    }

    #[test]
    fn summary_and_verbose_tables() {
        let du = DiskUsage {
            layers_size: 1547,
            images: vec![ImageUsage {
                id: format!("sha256:{}", "7f".repeat(32)),
                repository: "127.0.0.1:5000/hist/history".into(),
                tag: "1".into(),
                created_unix: 1_700_000_000,
                size: 1515,
                shared_size: 0,
                containers: 0,
            }],
        };
        let out =
            template::render(&Format::Table(None), DEFAULT_TABLE, HEADERS, &summary(&du)).unwrap();
        assert_eq!(
            out,
            "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n\
             Images          1         0         1.547kB   1.547kB (100%)\n\
             Containers      0         0         0B        0B\n\
             Local Volumes   0         0         0B        0B\n\
             Build Cache     0         0         0B        0B\n"
        );
        let v = verbose(&du, 1_700_000_000 + 3 * 365 * 86_400);
        assert!(v.starts_with("Images space usage:\n\nREPOSITORY                    TAG       IMAGE ID       CREATED       SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS\n127.0.0.1:5000/hist/history   1         7f7f7f7f7f7f   3 years ago   1.51kB    0B            1.515kB       0\n\nContainers space usage:\n"), "{v}");
        assert!(v.ends_with("Build cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n"));
    }
}
