//! `strata image inspect [-f FORMAT] IMAGE...` — Docker's JSON array, 4-space indent; missing
//! images are reported on stderr after the found ones are printed, exit 1.
//!
//! `--format TEMPLATE` follows docker/cli's inspector: the template runs first against the typed
//! value (objects are Go structs: `{{.RootFS}}` prints `{layers [sha256:…]}`, `.ID` is the Go
//! field of `"Id"`, absent slices print `[]`), and when that fails, against the raw JSON map with
//! missingkey=error (so `{{.Id}}` works too). A template that does not parse exits 64.

use super::Ctx;
use crate::format::template::{Format, Parsed, from_json, go_json_of_serde, go_struct};
use clap::Args;
use engine::images::inspect;
use engine::images::query::lookup;
use gotmpl::Value;
use oci_model::Result;

#[derive(Args)]
pub struct InspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
    /// IMAGE [IMAGE...]
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// JSON objects that are Go maps (printed `map[k:v]`), not structs.
const MAP_KEYS: &[&str] = &["Labels", "ExposedPorts", "Volumes", "Data"];
/// Slice fields: `null` or absent prints `[]` in Go.
const SLICE_KEYS: &[&str] = &[
    "RepoTags",
    "RepoDigests",
    "Env",
    "Cmd",
    "Entrypoint",
    "OnBuild",
    "Shell",
    "Layers",
];

fn go_field_name(json_key: &str) -> &str {
    if json_key == "Id" { "ID" } else { json_key }
}

/// The typed view of an inspect object (see the module docs).
pub fn typed(v: &serde_json::Value, key: Option<&str>) -> Value {
    match v {
        serde_json::Value::Object(o) if key.is_some_and(|k| MAP_KEYS.contains(&k)) => {
            Value::Map(std::sync::Arc::new(
                o.iter()
                    .map(|(k, x)| (std::sync::Arc::from(k.as_str()), typed(x, None)))
                    .collect(),
            ))
        }
        serde_json::Value::Object(o) => {
            let mut fields: Vec<(&str, Value)> = o
                .iter()
                .map(|(k, x)| (go_field_name(k), typed(x, Some(k))))
                .collect();
            if key == Some("Config") {
                // container.Config fields that the daemon omits when empty.
                for k in ["User", "WorkingDir", "StopSignal"] {
                    if !o.contains_key(k) {
                        fields.push((k, Value::String("".into())));
                    }
                }
                for k in ["Env", "Cmd", "Entrypoint", "OnBuild", "Shell"] {
                    if !o.contains_key(k) {
                        fields.push((k, Value::List(Vec::new().into())));
                    }
                }
                for k in ["Labels", "Volumes", "ExposedPorts"] {
                    if !o.contains_key(k) {
                        fields.push((k, Value::Map(Default::default())));
                    }
                }
            }
            go_struct(fields, v)
        }
        serde_json::Value::Null if key.is_some_and(|k| SLICE_KEYS.contains(&k)) => {
            Value::List(Vec::new().into())
        }
        serde_json::Value::Array(a) => Value::List(a.iter().map(|x| typed(x, None)).collect()),
        other => from_json(other),
    }
}

fn render_template(
    src: &str,
    values: &[serde_json::Value],
) -> std::result::Result<String, (u8, String)> {
    let typed_t = Parsed::strict(src).map_err(|e| (64, e.to_string()))?;
    let raw_t = Parsed::strict(src).map_err(|e| (64, e.to_string()))?;
    let mut out = String::new();
    for v in values {
        match typed_t.execute(&typed(v, None)) {
            Ok(s) => out.push_str(&s),
            Err(_) => match raw_t.execute(&from_json(v)) {
                Ok(s) => out.push_str(&s),
                Err(e) => return Err((1, e.to_string())),
            },
        }
        out.push('\n');
    }
    Ok(out)
}

pub fn run(ctx: &Ctx, a: InspectArgs) -> Result<u8> {
    let store = ctx.store()?;
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for name in &a.images {
        let found = lookup::find_image(store.db(), name);
        match found.and_then(|id| inspect::inspect(&store, &id)) {
            Ok(v) => values.push(v),
            // `No such image: nope:latest`, as a docker 28 CLI and daemon print it.
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut code = 0;
    match a.format.as_deref().map(Format::parse) {
        None => println!("{}", inspect::to_docker_json(&values)),
        Some(Format::Json) => println!(
            "{}",
            go_json_of_serde(&serde_json::Value::Array(values.clone()))
        ),
        Some(Format::Raw(src)) | Some(Format::Table(Some(src))) => {
            match render_template(&src, &values) {
                Ok(out) => print!("{out}"),
                Err((c, msg)) => {
                    eprintln!("{msg}");
                    return Ok(c);
                }
            }
        }
        Some(Format::Table(None)) => println!("{}", inspect::to_docker_json(&values)),
    }
    for e in &errors {
        eprintln!("Error: {e}");
        code = 1;
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> serde_json::Value {
        json!({
            "Id": "sha256:abc",
            "RepoTags": ["x:1"],
            "RepoDigests": [],
            "Config": {"Env": ["PATH=/usr/bin"], "Cmd": ["/bin/tool"], "Labels": {"b": "2", "a": "1"}},
            "Architecture": "amd64",
            "RootFS": {"Type": "layers", "Layers": ["sha256:l1", "sha256:l2"]}
        })
    }

    fn run_t(t: &str) -> String {
        render_template(t, &[sample()]).unwrap()
    }

    #[test]
    fn typed_then_raw_like_docker() {
        assert_eq!(run_t("{{.RootFS}}"), "{layers [sha256:l1 sha256:l2]}\n");
        assert_eq!(run_t("{{.Config.Env}}"), "[PATH=/usr/bin]\n");
        assert_eq!(run_t("{{.Config.Entrypoint}}"), "[]\n");
        assert_eq!(run_t("{{.Config.Labels}}"), "map[a:1 b:2]\n");
        assert_eq!(
            run_t("{{json .Config}}"),
            "{\"Env\":[\"PATH=/usr/bin\"],\"Cmd\":[\"/bin/tool\"],\"Labels\":{\"b\":\"2\",\"a\":\"1\"}}\n"
        );
        assert_eq!(run_t("{{.ID}}"), "sha256:abc\n");
        assert_eq!(run_t("{{.Id}}"), "sha256:abc\n");
        assert_eq!(run_t("{{.Architecture}}"), "amd64\n");
        assert_eq!(
            run_t("{{json .RootFS}}"),
            "{\"Type\":\"layers\",\"Layers\":[\"sha256:l1\",\"sha256:l2\"]}\n"
        );
        let (code, msg) = render_template("{{.Nope}}", &[sample()]).unwrap_err();
        assert_eq!(code, 1);
        assert!(msg.contains("Nope"), "{msg}");
        let (code, msg) = render_template("{{.Id", &[sample()]).unwrap_err();
        assert_eq!(code, 64);
        assert_eq!(msg, "template parsing error: template: :1: unclosed action");
    }
}
