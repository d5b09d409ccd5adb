//! `history`: the rows of `docker history` from the image config's `history` list, newest first,
//! as the classic daemon builds them: every non-empty entry takes the next layer (in order) for its
//! size, empty-layer entries are 0 bytes, only the newest row carries the image's ID (the others
//! are `<missing>`: pulled images have no local parent chain), and an image whose config has no
//! `history` has no rows.

use super::query::familiar_repo;
use oci_model::{Digest, Error, Result};
use serde_json::Value;
use store::Store;

/// Go's zero `time.Time` as Unix seconds (0001-01-01T00:00:00Z): a missing `created`.
pub const GO_ZERO_UNIX: i64 = -62_135_596_800;

/// One row of `history`, the Engine API's `HistoryResponseItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The image ID (`sha256:…`) on the newest row, `<missing>` on the others.
    pub id: String,
    pub created_unix: i64,
    pub created_by: String,
    /// `repo:tag` names of the image, on the newest row only.
    pub tags: Vec<String>,
    pub size: u64,
    pub comment: String,
}

fn created_unix(v: Option<&Value>) -> i64 {
    v.and_then(Value::as_str)
        .and_then(oci_model::time::parse_rfc3339)
        .unwrap_or(GO_ZERO_UNIX)
}

/// Builds the rows from the raw config bytes of image `id`, the unpacked sizes of its layers
/// (bottom first) and its tags.
pub fn rows_from_config(
    id: &str,
    config: &[u8],
    layer_sizes: &[u64],
    tags: Vec<String>,
) -> Result<Vec<HistoryRow>> {
    let config: Value = serde_json::from_slice(config)
        .map_err(|e| Error::corrupt(format!("image config {id}: {e}")))?;
    let entries = config
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut layers = layer_sizes.iter();
    let mut rows = Vec::with_capacity(entries.len());
    for h in &entries {
        let empty = h
            .get("empty_layer")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let size = if empty {
            0
        } else {
            *layers
                .next()
                .ok_or_else(|| Error::corrupt("too many non-empty layers in History section"))?
        };
        let text = |k: &str| {
            h.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        rows.push(HistoryRow {
            id: "<missing>".into(),
            created_unix: created_unix(h.get("created")),
            created_by: text("created_by"),
            tags: Vec::new(),
            size,
            comment: text("comment"),
        });
    }
    rows.reverse();
    if let Some(top) = rows.first_mut() {
        top.id = id.to_string();
        top.tags = tags;
    }
    Ok(rows)
}

/// The history of image `id` (`sha256:<config digest>`).
pub fn history(store: &Store, id: &str) -> Result<Vec<HistoryRow>> {
    let (sizes, tags) = {
        let db = store.db();
        if db.image(id)?.is_none() {
            return Err(Error::not_found(format!("No such image: {id}")));
        }
        let tags: Vec<String> = db
            .tags_for(id)?
            .into_iter()
            .map(|(r, t)| format!("{}:{t}", familiar_repo(&r)))
            .collect();
        (db.image_layer_sizes(id)?, tags)
    };
    let raw = store.content.read(&Digest::parse(id)?)?;
    rows_from_config(id, &raw, &sizes, tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "sha256:7f00ce075e90edf11b13a75e9bd22efc3562650d5587857c678ab5f914eb1466";

    fn config(history: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux", "history": history}))
            .unwrap()
    }

    #[test]
    fn newest_first_with_layer_sizes_in_order() {
        let cfg = config(json!([
            {"created": "2021-06-01T10:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:x in / "},
            {"created": "2021-06-01T10:00:01Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": true},
            {"created": "2022-01-01T00:00:00Z", "created_by": "RUN x", "comment": "buildkit.dockerfile.v0"},
            {"created_by": "ENV A=b", "empty_layer": true},
        ]));
        let rows = rows_from_config(ID, &cfg, &[11, 1500], vec!["a:1".into()]).unwrap();
        let got: Vec<(&str, i64, &str, u64, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r.id.as_str(),
                    r.created_unix,
                    r.created_by.as_str(),
                    r.size,
                    r.comment.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (ID, GO_ZERO_UNIX, "ENV A=b", 0, ""),
                (
                    "<missing>",
                    1_640_995_200,
                    "RUN x",
                    1500,
                    "buildkit.dockerfile.v0"
                ),
                (
                    "<missing>",
                    1_622_541_601,
                    "/bin/sh -c #(nop)  CMD [\"sh\"]",
                    0,
                    ""
                ),
                (
                    "<missing>",
                    1_622_541_600,
                    "/bin/sh -c #(nop) ADD file:x in / ",
                    11,
                    ""
                ),
            ]
        );
        assert_eq!(rows[0].tags, vec!["a:1".to_string()]);
        assert!(rows[1].tags.is_empty());
    }

    #[test]
    fn no_history_no_rows_and_too_many_entries_is_an_error() {
        let cfg = serde_json::to_vec(&json!({"os": "linux"})).unwrap();
        assert!(
            rows_from_config(ID, &cfg, &[8, 8], vec![])
                .unwrap()
                .is_empty()
        );
        let cfg = config(json!([{"created_by": "a"}, {"created_by": "b"}]));
        let err = rows_from_config(ID, &cfg, &[8], vec![]).unwrap_err();
        assert_eq!(err.message, "too many non-empty layers in History section");
        assert!(rows_from_config(ID, b"not json", &[], vec![]).is_err());
    }
}
