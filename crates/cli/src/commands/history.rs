//! `strata history [-H] [--no-trunc] [-q] [--format] IMAGE` — docker/cli's history formatter:
//! `CreatedBy` with tabs as spaces, cut to 45 columns with `…`; dates before 2000 as `N/A`;
//! `-H=false` prints RFC 3339 dates in the local zone and byte counts; `-q` applies only to
//! the default table format.

use super::Ctx;
use crate::format::template::{self, Format};
use crate::format::units::{human_duration, human_size_with_precision};
use crate::format::width::ellipsis;
use clap::{ArgAction, Args};
use engine::images::history::{self, HistoryRow};
use engine::images::query::lookup;
use oci_model::Result;
use serde_json::{Value, json};

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

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
const NON_HUMAN_TABLE: &str =
    "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
/// Placeholder → column header.
const HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];

/// Dates up to 2000-01-01 are not shown in human units.
const EPOCH_2000: i64 = 946_684_800;

/// Go's `time.Unix(s, 0).Format(time.RFC3339)` in the local zone (`Z` for UTC).
pub fn rfc3339_local(unix: i64) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(unix) else {
        return String::new();
    };
    let zoned = ts.to_zoned_datetime(jiff::tz::TimeZone::system());
    if zoned.offset().seconds() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

pub struct Fields {
    pub id: String,
    pub created_since: String,
    pub created_at: String,
    pub created_by: String,
    pub size: String,
    pub comment: String,
}

pub fn fields(r: &HistoryRow, trunc: bool, human: bool, now: i64) -> Fields {
    let id = if trunc {
        let hex = r.id.split_once(':').map_or(r.id.as_str(), |(_, h)| h);
        hex.chars().take(12).collect()
    } else {
        r.id.clone()
    };
    let created_at = rfc3339_local(r.created_unix);
    let created_since = if !human {
        created_at.clone()
    } else if r.created_unix <= EPOCH_2000 {
        "N/A".into()
    } else {
        let secs = (now - r.created_unix).max(0) as u64;
        format!(
            "{} ago",
            human_duration(std::time::Duration::from_secs(secs))
        )
    };
    let created_by = r.created_by.replace('\t', " ");
    let created_by = if trunc {
        ellipsis(&created_by, 45)
    } else {
        created_by
    };
    let size = if human {
        human_size_with_precision(r.size as f64, 3)
    } else {
        r.size.to_string()
    };
    Fields {
        id,
        created_since,
        created_at,
        created_by,
        size,
        comment: r.comment.clone(),
    }
}

impl Fields {
    /// The template context (keys sorted, as docker's `{{json .}}` prints them).
    pub fn to_json(&self) -> Value {
        json!({
            "Comment": self.comment,
            "CreatedAt": self.created_at,
            "CreatedBy": self.created_by,
            "CreatedSince": self.created_since,
            "ID": self.id,
            "Size": self.size,
        })
    }
}

pub fn run(ctx: &Ctx, a: HistoryArgs) -> Result<u8> {
    let store = ctx.store()?;
    let id = lookup::find_image(store.db(), &a.image)?;
    let rows = history::history(&store, &id)?;
    let now = jiff::Timestamp::now().as_second();
    let fields: Vec<Fields> = rows
        .iter()
        .map(|r| fields(r, !a.no_trunc, a.human, now))
        .collect();
    let format = Format::parse(a.format.as_deref().unwrap_or("table"));
    let out = match &format {
        Format::Table(None) if a.quiet => fields.iter().map(|f| format!("{}\n", f.id)).collect(),
        Format::Json => fields
            .iter()
            .map(|f| format!("{}\n", oci_model::gojson::marshal(&f.to_json())))
            .collect(),
        _ => {
            let default = if a.human {
                DEFAULT_TABLE
            } else {
                NON_HUMAN_TABLE
            };
            let rows: Vec<Value> = fields.iter().map(Fields::to_json).collect();
            template::render(&format, default, HEADERS, &rows)?
        }
    };
    print!("{out}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, created_unix: i64, created_by: &str, size: u64) -> HistoryRow {
        HistoryRow {
            id: id.into(),
            created_unix,
            created_by: created_by.into(),
            tags: vec![],
            size,
            comment: "c".into(),
        }
    }

    #[test]
    fn fields_like_docker() {
        let id = format!("sha256:{}", "ab".repeat(32));
        let now = 1_700_000_000 + 3 * 86_400;
        let f = fields(&row(&id, 1_700_000_000, "a\tb", 1500), true, true, now);
        assert_eq!(f.id, "abababababab");
        assert_eq!(f.created_since, "3 days ago");
        assert_eq!(f.created_by, "a b");
        assert_eq!(f.size, "1.5kB");
        let f = fields(
            &row(&id, 946_684_800, &"x".repeat(50), 1500),
            false,
            true,
            now,
        );
        assert_eq!(f.id, id);
        assert_eq!(f.created_since, "N/A");
        assert_eq!(f.created_by.len(), 50);
        let f = fields(&row("<missing>", 946_684_801, "x", 1500), true, false, now);
        assert_eq!(f.id, "<missing>");
        assert_eq!(f.size, "1500");
        assert_eq!(f.created_since, f.created_at);
        assert_eq!(
            oci_model::gojson::marshal(&serde_json::json!({"ID": "<missing>", "B": "a&b"})),
            r#"{"ID":"\u003cmissing\u003e","B":"a\u0026b"}"#
        );
    }
}
