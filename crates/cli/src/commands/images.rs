//! `strata images [-a] [-q] [--digests] [--no-trunc] [REPOSITORY[:TAG]]` — Docker's classic table.

use super::Ctx;
use crate::format::template::{Format, render};
use crate::format::units::{human_duration, human_size_with_precision};
use clap::Args;
use engine::images::list::{self, ImageRow};
use engine::images::query::filter::ImageFilter;
use oci_model::Result;

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
    #[arg(short, long, value_name = "filter", value_parser = crate::usage::filter_arg)]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
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

/// Go's `time.Time.String()` of a Unix time in the local zone: `2023-11-14 22:13:20 +0000 UTC`.
pub fn go_time_string(unix: i64) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(unix) else {
        return String::new();
    };
    let tz = jiff::tz::TimeZone::system();
    let info = tz.to_offset_info(ts);
    let secs = info.offset().seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let offset = format!(
        "{sign}{:02}{:02}",
        secs.abs() / 3600,
        secs.abs() % 3600 / 60
    );
    let abbr = match info.abbreviation() {
        "" => offset.clone(),
        a => a.to_string(),
    };
    let dt = tz.to_datetime(ts);
    format!("{} {offset} {abbr}", dt.strftime("%Y-%m-%d %H:%M:%S"))
}

const DEFAULT_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}";
const DEFAULT_TABLE_DIGEST: &str = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}";
const HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("VirtualSize", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
];

/// docker/cli `NewImageFormat`: `table` and `raw` stand for the command's own formats; a user
/// table without `{{.Digest}}` gets the digest column appended under `--digests`.
fn image_format(source: &str, quiet: bool, digests: bool) -> Format {
    match source {
        "table" => {
            if quiet {
                Format::parse("{{.ID}}")
            } else if digests {
                Format::parse(DEFAULT_TABLE_DIGEST)
            } else {
                Format::parse(DEFAULT_TABLE)
            }
        }
        "raw" => Format::parse(if quiet {
            "image_id: {{.ID}}"
        } else if digests {
            "repository: {{ .Repository }}\\ntag: {{.Tag}}\\ndigest: {{.Digest}}\\nimage_id: {{.ID}}\\ncreated_at: {{.CreatedAt}}\\nvirtual_size: {{.Size}}\\n"
        } else {
            "repository: {{ .Repository }}\\ntag: {{.Tag}}\\nimage_id: {{.ID}}\\ncreated_at: {{.CreatedAt}}\\nvirtual_size: {{.Size}}\\n"
        }),
        _ => {
            let mut f = Format::parse(source);
            if let Format::Table(Some(t)) = &mut f
                && digests
                && !t.contains("{{.Digest}}")
            {
                t.push_str("\t{{.Digest}}");
            }
            f
        }
    }
}

/// One row as docker/cli's `imageContext` shows it.
/// `show_digest`: docker/cli fills `.Digest` only with `--digests` or a format naming it.
fn short_id(r: &ImageRow, no_trunc: bool) -> String {
    if no_trunc {
        r.image.id.clone()
    } else {
        r.image
            .id
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect()
    }
}

/// `images`, `images -q` and `images --digests` without `--format`.
fn default_view(rows: &[ImageRow], quiet: bool, digests: bool, no_trunc: bool, now: i64) -> String {
    let mut out = String::with_capacity(rows.len() * 96);
    if quiet {
        for r in rows {
            out.push_str(&short_id(r, no_trunc));
            out.push('\n');
        }
        return out;
    }
    out.push_str(if digests {
        "REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tCREATED\tSIZE\n"
    } else {
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\n"
    });
    for r in rows {
        let cells = [
            r.repository.as_str(),
            r.tag.as_str(),
            if digests { r.digest.as_str() } else { "" },
        ];
        for (i, c) in cells.iter().enumerate() {
            if i < 2 || digests {
                out.push_str(c);
                out.push('\t');
            }
        }
        out.push_str(&short_id(r, no_trunc));
        out.push('\t');
        out.push_str(&created_since(r.image.created_unix, now));
        out.push('\t');
        out.push_str(&human_size_with_precision(r.image.size as f64, 3));
        out.push('\n');
    }
    crate::format::table::tabwrite(&out)
}

fn row_value(r: &ImageRow, no_trunc: bool, show_digest: bool, now: i64) -> serde_json::Value {
    let id = if no_trunc {
        r.image.id.clone()
    } else {
        r.image
            .id
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect()
    };
    serde_json::json!({
        "Containers": "N/A",
        "CreatedAt": go_time_string(r.image.created_unix),
        "CreatedSince": created_since(r.image.created_unix, now),
        "Digest": if show_digest { r.digest.as_str() } else { "<none>" },
        "ID": id,
        "Repository": r.repository,
        "SharedSize": "N/A",
        "Size": human_size_with_precision(r.image.size as f64, 3),
        "Tag": r.tag,
        "UniqueSize": "N/A",
        // Docker 28's CLI still has `.VirtualSize` (= Size); removed in 29.
        "VirtualSize": human_size_with_precision(r.image.size as f64, 3),
    })
}

pub fn run(ctx: &Ctx, a: ImagesArgs) -> Result<u8> {
    let mut filters = a.filter.clone();
    if let Some(r) = &a.reference {
        filters.push(format!("reference={r}"));
    }
    let store = ctx.store()?;
    let now_ts = jiff::Timestamp::now();
    let filter = ImageFilter::parse(&filters, store.db(), now_ts.as_nanosecond())?;
    let rows = list::rows_filtered(store.db(), a.all, &filter)?;
    let now = now_ts.as_second();
    let source = a.format.clone().unwrap_or_else(|| "table".to_string());
    let format = image_format(&source, a.quiet, a.digests);
    let show_digest = a.digests || format.contains("{{.Digest}}");
    let mut rows = rows;
    if !show_digest {
        // One row per repository:tag; a repository with only digests shows TAG <none>.
        rows.dedup_by(|b, a| {
            a.image.id == b.image.id && a.repository == b.repository && a.tag == b.tag
        });
    }
    if a.format.is_none() {
        // The default views render straight to text: running the template engine per row costs
        // ~10 ms on 1,000 images. Same output (checked against the template path in tests).
        print!(
            "{}",
            default_view(&rows, a.quiet, a.digests, a.no_trunc, now)
        );
        return Ok(0);
    }
    let values: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| row_value(r, a.no_trunc, show_digest, now))
        .collect();
    match render(&format, DEFAULT_TABLE, HEADERS, &values) {
        Ok(out) => {
            print!("{out}");
            Ok(0)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_new_image_format() {
        assert_eq!(
            image_format("table", true, true),
            Format::Raw("{{.ID}}".into())
        );
        assert_eq!(
            image_format("table {{.ID}}", false, true),
            Format::Table(Some("{{.ID}}\t{{.Digest}}".into()))
        );
        assert_eq!(
            image_format("table {{.ID}} {{.Digest}}", false, true),
            Format::Table(Some("{{.ID}} {{.Digest}}".into()))
        );
        assert!(
            matches!(image_format("raw", false, false), Format::Raw(t) if t.starts_with("repository: "))
        );
        assert_eq!(
            image_format("{{.Tag}}", true, false),
            Format::Raw("{{.Tag}}".into())
        );
    }

    #[test]
    fn default_view_matches_the_template_path() {
        use std::sync::Arc;
        use store::metadata::ImageRecord;
        let image = |id: &str, size: u64, created: i64| {
            Arc::new(ImageRecord {
                id: format!("sha256:{id:0>64}"),
                size,
                created_unix: created,
                ..ImageRecord::default()
            })
        };
        let rows = vec![
            ImageRow {
                repository: "127.0.0.1:5000/some/long/repository".into(),
                tag: "1.0".into(),
                digest: format!("sha256:{:0>64}", "d1"),
                image: image("abc", 1_234_567, 1_700_000_000),
            },
            ImageRow {
                repository: "<none>".into(),
                tag: "<none>".into(),
                digest: "<none>".into(),
                image: image("def", 999_500, 0),
            },
        ];
        let now = 1_760_000_000;
        for (quiet, digests, no_trunc) in [
            (false, false, false),
            (false, true, false),
            (true, false, true),
            (false, false, true),
        ] {
            let values: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| row_value(r, no_trunc, digests, now))
                .collect();
            let format = image_format("table", quiet, digests);
            let via_template = render(&format, DEFAULT_TABLE, HEADERS, &values).unwrap();
            assert_eq!(
                default_view(&rows, quiet, digests, no_trunc, now),
                via_template,
                "{quiet} {digests} {no_trunc}"
            );
        }
    }

    #[test]
    fn created_at_is_go_time_string() {
        let s = go_time_string(1_700_000_000);
        // `YYYY-MM-DD HH:MM:SS +ZZZZ NAME`, in the local zone.
        let parts: Vec<&str> = s.split(' ').collect();
        assert_eq!(parts.len(), 4, "{s}");
        assert_eq!(parts[0].len(), 10);
        assert!(parts[2].starts_with('+') || parts[2].starts_with('-'));
    }
}
