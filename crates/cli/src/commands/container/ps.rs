//! `ps`: the engine's list, rendered as Docker's table, template or JSON rows (Docker's STATUS
//! and COMMAND texts included).

use super::fail;
use crate::commands::Ctx;
use crate::format::template::{Format, render};
use crate::format::units::human_duration;
use crate::format::width::ellipsis;
use clap::Args;
use engine::containers::filter::Filter;
use engine::containers::list::list;
use oci_model::Result;
use serde_json::{Value, json};
use std::time::Duration;
use store::metadata::{ContainerRecord, ContainerState};

#[derive(Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (status, ancestor, name, id, label)
    #[arg(short, long, value_name = "filter", value_parser = crate::usage::filter_arg)]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
}

const PS_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
const PS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

/// Go's `strconv.Quote` for the text Docker shows.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn parse_time(s: Option<&str>) -> Option<jiff::Timestamp> {
    s.and_then(|t| t.parse::<jiff::Timestamp>().ok())
}

fn since(t: jiff::Timestamp, now: jiff::Timestamp) -> Duration {
    let secs = (now.as_millisecond() - t.as_millisecond()).max(0) as u64;
    Duration::from_millis(secs)
}

/// Docker's STATUS text: `Created`, `Up 3 seconds`, `Exited (0) 2 seconds ago`.
pub fn status_text(c: &ContainerRecord, now: jiff::Timestamp) -> String {
    match c.state {
        ContainerState::Running => match parse_time(c.started_at.as_deref()) {
            Some(t) => format!("Up {}", human_duration(since(t, now))),
            None => "Up Less than a second".into(),
        },
        ContainerState::Exited => {
            let code = c.exit_code.unwrap_or(0);
            match parse_time(c.finished_at.as_deref()) {
                Some(t) => format!("Exited ({code}) {} ago", human_duration(since(t, now))),
                None => format!("Exited ({code})"),
            }
        }
        _ => "Created".into(),
    }
}

/// The daemon's COMMAND text: the path, then the arguments, those with a space in single quotes.
fn ps_command(command: &[String]) -> String {
    command
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if i > 0 && a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One `ps` row as template data.
fn ps_row(c: &ContainerRecord, trunc: bool, now: jiff::Timestamp) -> Value {
    let command = ps_command(&c.command);
    let command = if trunc {
        ellipsis(&command, 20)
    } else {
        command
    };
    let id = if trunc {
        c.id[..12].to_string()
    } else {
        c.id.clone()
    };
    let labels = c
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    json!({
        "ID": id,
        "Image": c.image_ref,
        "Command": go_quote(&command),
        "CreatedAt": crate::commands::images::go_time_string(c.created_unix),
        "RunningFor": crate::commands::images::created_since(c.created_unix, now.as_second()),
        "Ports": "",
        "State": c.state.as_str(),
        "Status": status_text(c, now),
        "Size": "0B",
        "Names": c.name,
        "Labels": labels,
        "Mounts": "",
        "Networks": Some(c.config.network_mode.as_str()).filter(|n| !n.is_empty()).unwrap_or("none"),
        "LocalVolumes": "0",
    })
}

pub fn ps(ctx: &Ctx, a: PsArgs) -> Result<u8> {
    let store = ctx.store()?;
    let filter = match Filter::parse(&store, &a.filter) {
        Ok(f) => f,
        Err(e) => return fail(&e, 1),
    };
    // A status filter shows stopped containers without `-a`, as Docker's does.
    let show_all = a.all || a.filter.iter().any(|f| f.starts_with("status="));
    let now = jiff::Timestamp::now();
    let containers = list(&store, show_all, &filter)?;
    let trunc = !a.no_trunc;
    let format = match (&a.format, a.quiet) {
        (_, true) => Format::Raw("{{.ID}}".into()),
        (Some(f), false) if !f.is_empty() => Format::parse(f),
        _ => Format::Table(None),
    };
    let rows: Vec<Value> = containers.iter().map(|c| ps_row(c, trunc, now)).collect();
    match render(&format, PS_TABLE, PS_HEADERS, &rows) {
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

    fn rec(state: ContainerState) -> ContainerRecord {
        ContainerRecord {
            id: "0123456789ab".repeat(5) + "cdef",
            name: "web".into(),
            image_id: "sha256:x".into(),
            image_ref: "busybox".into(),
            command: vec![
                "sh".into(),
                "-c".into(),
                "echo \"hello world\"; sleep 1000".into(),
            ],
            created_unix: 1_700_000_000,
            state,
            pid: None,
            exit_code: Some(3),
            started_at: Some("2026-01-01T00:00:00Z".into()),
            finished_at: Some("2026-01-01T00:00:02Z".into()),
            config: Default::default(),
        }
    }

    #[test]
    fn statuses_like_docker() {
        let now: jiff::Timestamp = "2026-01-01T00:00:05Z".parse().unwrap();
        assert_eq!(
            status_text(&rec(ContainerState::Running), now),
            "Up 5 seconds"
        );
        assert_eq!(
            status_text(&rec(ContainerState::Exited), now),
            "Exited (3) 3 seconds ago"
        );
        assert_eq!(status_text(&rec(ContainerState::Created), now), "Created");
    }

    #[test]
    fn command_column_is_truncated_then_quoted() {
        let now: jiff::Timestamp = "2026-01-01T00:00:05Z".parse().unwrap();
        let row = ps_row(&rec(ContainerState::Running), true, now);
        assert_eq!(row["Command"], "\"sh -c 'echo \\\"hello …\"");
        assert_eq!(row["ID"], "0123456789ab");
        let full = ps_row(&rec(ContainerState::Running), false, now);
        assert_eq!(
            full["Command"],
            "\"sh -c 'echo \\\"hello world\\\"; sleep 1000'\""
        );
        assert_eq!(go_quote("a\tb\u{1}"), "\"a\\tb\\x01\"");
    }
}
