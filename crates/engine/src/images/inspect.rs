//! `image inspect`: Docker's JSON object for one image, fields in Docker's order (§4.2).

use super::query::familiar_repo;
use oci_model::{Digest, Error, Result};
use serde_json::{Map, Value, json};
use store::Store;

/// The Docker-shaped inspect object for image `id` (`sha256:<config digest>`).
pub fn inspect(store: &Store, id: &str) -> Result<Value> {
    let (image, tags, digests) = {
        let db = store.db();
        let image = db
            .image(id)?
            .ok_or_else(|| Error::not_found(format!("No such image: {id}")))?;
        (image, db.tags_for(id)?, db.repo_digests_for(id)?)
    };
    let config_digest = Digest::parse(id)?;
    let raw = store.content.read(&config_digest)?;
    let config: Value = serde_json::from_slice(&raw)
        .map_err(|e| Error::corrupt(format!("image config {id}: {e}")))?;
    let get = |k: &str| config.get(k).cloned();
    let str_of = |k: &str| {
        get(k)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };

    let mut repo_tags: Vec<String> = tags
        .iter()
        .map(|(r, t)| format!("{}:{t}", familiar_repo(r)))
        .collect();
    repo_tags.sort();
    let mut repo_digests: Vec<String> = digests
        .iter()
        .map(|(r, d)| format!("{}@{d}", familiar_repo(r)))
        .collect();
    repo_digests.sort();

    let layer_dirs: Vec<String> = image
        .layers
        .iter()
        .rev()
        .map(|c| store.snapshots.layer_dir(c).display().to_string())
        .collect();
    let mut graph = Map::new();
    if let Some((upper, lower)) = layer_dirs.split_first() {
        if !lower.is_empty() {
            graph.insert("LowerDir".into(), Value::String(lower.join(":")));
        }
        graph.insert("UpperDir".into(), Value::String(upper.clone()));
    }

    let mut o = Map::new();
    o.insert("Id".into(), json!(id));
    o.insert("RepoTags".into(), json!(repo_tags));
    o.insert("RepoDigests".into(), json!(repo_digests));
    o.insert("Parent".into(), json!(""));
    o.insert("Comment".into(), json!(str_of("comment")));
    o.insert("Created".into(), json!(image.created));
    o.insert("DockerVersion".into(), json!(str_of("docker_version")));
    o.insert("Author".into(), json!(str_of("author")));
    o.insert("Config".into(), get("config").unwrap_or(Value::Null));
    o.insert("Architecture".into(), json!(image.architecture));
    if let Some(v) = image.variant.as_deref().filter(|v| !v.is_empty()) {
        o.insert("Variant".into(), json!(v));
    }
    o.insert("Os".into(), json!(image.os));
    if let Some(v) = config
        .get("os.version")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
    {
        o.insert("OsVersion".into(), json!(v));
    }
    o.insert("Size".into(), json!(image.size));
    o.insert(
        "GraphDriver".into(),
        json!({"Data": graph, "Name": layers::snapshot::Driver::detect(store.root()).name()}),
    );
    let diff_ids = config
        .get("rootfs")
        .and_then(|r| r.get("diff_ids"))
        .cloned()
        .unwrap_or_else(|| json!([]));
    o.insert(
        "RootFS".into(),
        json!({"Type": "layers", "Layers": diff_ids}),
    );
    o.insert(
        "Metadata".into(),
        json!({"LastTagTime": image.last_tag_time.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into())}),
    );
    Ok(Value::Object(o))
}

/// Docker's rendering: a JSON array indented with 4 spaces.
pub fn to_docker_json(values: &[Value]) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    let arr = Value::Array(values.to_vec());
    if arr.serialize(&mut ser).is_err() {
        return "[]".into();
    }
    String::from_utf8(out).unwrap_or_default()
}
