//! `strata search [--filter F] [--format F] [--limit N] [--no-trunc] TERM` — docker/cli's search
//! command and formatter (28.2): columns NAME DESCRIPTION STARS OFFICIAL; descriptions with line
//! breaks as spaces, cut to 45 columns with `…` unless `--no-trunc`; `.IsOfficial` is `[OK]` or
//! empty in templates and `"true"`/`"false"` in JSON; `.StarCount` a string. The search itself
//! (registry from the term, filters, limit, catalog fallback) is image-store's.

use super::Ctx;
use crate::format::template::{self, Format};
use crate::format::width::ellipsis;
use clap::Args;
use engine::images::search::{self, SearchFilter, SearchRow};
use gotmpl::Value;
use oci_model::Result;
use serde_json::json;
use std::io::Write as _;
use std::sync::Arc;

#[derive(Args)]
pub struct SearchArgs {
    /// Filter output based on conditions provided
    #[arg(short, long, value_name = "filter", value_parser = crate::usage::filter_arg)]
    pub filter: Vec<String>,
    /// Pretty-print search using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Max number of search results
    #[arg(
        long,
        value_name = "int",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub limit: i64,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    pub term: String,
}

const DEFAULT_TABLE: &str = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}";
const HEADERS: &[(&str, &str)] = &[
    ("Name", "NAME"),
    ("Description", "DESCRIPTION"),
    ("StarCount", "STARS"),
    ("IsOfficial", "OFFICIAL"),
];

/// The formatter's view of a row: the template fields, and `{{json .}}` giving Docker's
/// marshalled context (booleans as `"true"`/`"false"`, HTML characters escaped).
fn context(r: &SearchRow, trunc: bool) -> Value {
    let desc = r.description.replace(['\n', '\r'], " ");
    let desc = if trunc { ellipsis(&desc, 45) } else { desc };
    let stars = r.star_count.to_string();
    let as_json = json!({
        "Description": desc,
        "IsOfficial": if r.is_official { "true" } else { "false" },
        "Name": r.name,
        "StarCount": stars,
    });
    match template::context_row(&as_json) {
        Value::Map(m) => {
            let mut m = (*m).clone();
            let official = if r.is_official { "[OK]" } else { "" };
            m.insert(Arc::from("IsOfficial"), Value::String(official.into()));
            Value::Map(Arc::new(m))
        }
        other => other,
    }
}

pub fn run(ctx: &Ctx, a: SearchArgs) -> Result<u8> {
    let automated = a.filter.iter().any(|f| {
        f.split_once('=')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("is-automated"))
    });
    if automated {
        eprintln!(
            "WARNING: the \"is-automated\" filter is deprecated, and searching for \"is-automated=true\" will not yield any results in future."
        );
    }
    let filter = SearchFilter::parse(&a.filter)?;
    let client = ctx.client()?;
    let outcome = super::runtime()?.block_on(search::search(&client, &a.term, a.limit, &filter))?;
    if let Some(notice) = &outcome.notice {
        eprintln!("WARNING: {notice}");
    }
    let format = match a.format.as_deref() {
        None | Some("") => Format::Table(None),
        Some(f) => Format::parse(f),
    };
    let rows: Vec<Value> = outcome
        .rows
        .iter()
        .map(|r| context(r, !a.no_trunc))
        .collect();
    let out = template::render_values(&format, DEFAULT_TABLE, HEADERS, &rows)?;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(desc: &str, official: bool) -> SearchRow {
        SearchRow {
            name: "a/b".into(),
            description: desc.into(),
            star_count: 7,
            is_official: official,
        }
    }

    fn render(format: &str, rows: &[SearchRow], trunc: bool) -> String {
        let values: Vec<Value> = rows.iter().map(|r| context(r, trunc)).collect();
        template::render_values(&Format::parse(format), DEFAULT_TABLE, HEADERS, &values).unwrap()
    }

    #[test]
    fn table_like_docker() {
        let rows = [
            row("Official build", true),
            row(
                "a very long description\nthat goes on and on past forty-five columns",
                false,
            ),
        ];
        assert_eq!(
            render("table", &rows, true),
            "NAME      DESCRIPTION                                     STARS     OFFICIAL\n\
             a/b       Official build                                  7         [OK]\n\
             a/b       a very long description that goes on and on …   7         \n"
        );
    }

    #[test]
    fn json_and_templates() {
        let rows = [row("x <y> & z", true)];
        assert_eq!(
            render("json", &rows, true),
            "{\"Description\":\"x \\u003cy\\u003e \\u0026 z\",\"IsOfficial\":\"true\",\"Name\":\"a/b\",\"StarCount\":\"7\"}\n"
        );
        assert_eq!(
            render("{{.Name}}:{{.StarCount}}:{{.IsOfficial}}", &rows, true),
            "a/b:7:[OK]\n"
        );
        let rows = [row("d", false)];
        assert_eq!(
            render(
                "{{.Name}}|{{.IsOfficial}}|{{json .IsOfficial}}",
                &rows,
                true
            ),
            "a/b||\"\"\n"
        );
    }
}
