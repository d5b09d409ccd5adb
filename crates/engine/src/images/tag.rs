//! `tag`: point `repo:tag` at a local image, with Docker's checks in Docker's order. The CLI
//! checks (source and target syntax, no digest in the target) are [`parse_source`] and
//! [`parse_target`]; their messages are printed by docker without a prefix. The daemon checks
//! (a repository named `sha256`, a missing source) are in [`tag`].

use super::query::lookup;
use oci_model::reference::Reference;
use oci_model::{Error, Result};
use store::metadata::Db;

fn parse_error(input: &str, e: &Error) -> Error {
    Error::invalid(format!(
        "Error parsing reference: {input:?} is not a valid repository/tag: {}",
        e.message
    ))
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The source is any reference (`reference.ParseAnyReference`): a 64-hex ID, `sha256:<hex>`,
/// or a name.
pub fn parse_source(source: &str) -> Result<()> {
    if is_hex64(source) || source.strip_prefix("sha256:").is_some_and(is_hex64) {
        return Ok(());
    }
    Reference::parse_normalized(source)
        .map(|_| ())
        .map_err(|e| parse_error(source, &e))
}

/// The target: a normalized name, `latest` when no tag is given; a digest is refused.
pub fn parse_target(target: &str) -> Result<Reference> {
    let r = Reference::parse_normalized(target).map_err(|e| parse_error(target, &e))?;
    if r.digest().is_some() {
        return Err(Error::invalid(
            "refusing to create a tag with a digest reference",
        ));
    }
    Ok(r.with_default_tag())
}

/// Points `target` (from [`parse_target`]) at the image `source` names. Returns the image the
/// tag pointed at before, when it moved (that image may now be dangling).
pub fn tag(db: &Db, source: &str, target: &Reference) -> Result<Option<String>> {
    if target.familiar_name() == "sha256" {
        return Err(Error::invalid(
            "refusing to create an ambiguous tag using digest algorithm as name",
        ));
    }
    let id = lookup::find_image(db, source)?;
    let tag = target.tag().unwrap_or("latest");
    db.add_tag(&target.name(), tag, &id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_model::Digest;
    use store::metadata::{ImageRecord, LayerRecord, WhiteoutForm};

    fn db_with_image(seed: &str) -> (tempfile::TempDir, Db, String) {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("metadata.db")).unwrap();
        let id = add_image(&db, seed);
        (tmp, db, id)
    }

    fn add_image(db: &Db, seed: &str) -> String {
        let layer = LayerRecord {
            chain_id: Digest::of(seed.as_bytes()),
            diff_id: Digest::of(seed.as_bytes()),
            parent: None,
            blob_digest: Digest::of(seed.as_bytes()),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            compressed_size: 1,
            size: 2,
            whiteout_form: WhiteoutForm::Overlay,
        };
        db.insert_layer(&layer).unwrap();
        let id = Digest::of(format!("config {seed}").as_bytes()).to_string();
        let image = ImageRecord {
            id: id.clone(),
            manifest_digest: Digest::of(b"m").to_string(),
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            config_size: 1,
            created: "2023-11-14T22:13:20Z".into(),
            created_unix: 1_700_000_000,
            architecture: "amd64".into(),
            os: "linux".into(),
            labels: Default::default(),
            variant: None,
            size: 2,
            added_unix: 1,
            last_tag_time: None,
            layers: vec![layer.chain_id.clone()],
        };
        db.commit_pull(
            &image,
            &format!("docker.io/library/{seed}"),
            Some("1"),
            None,
        )
        .unwrap();
        id
    }

    #[test]
    fn targets_get_latest_and_digests_are_refused() {
        assert_eq!(
            parse_target("example.com/a/b").unwrap().familiar_string(),
            "example.com/a/b:latest"
        );
        assert_eq!(parse_target("x:v2").unwrap().tag(), Some("v2"));
        let d = format!("x@sha256:{}", "0".repeat(64));
        assert_eq!(
            parse_target(&d).unwrap_err().message,
            "refusing to create a tag with a digest reference"
        );
        assert_eq!(
            parse_target("x:bad@tag").unwrap_err().message,
            "Error parsing reference: \"x:bad@tag\" is not a valid repository/tag: invalid reference format"
        );
        assert!(parse_source(&"a".repeat(64)).is_ok());
        assert!(parse_source(&format!("sha256:{}", "a".repeat(64))).is_ok());
        assert!(parse_source("abc").is_ok());
        assert!(parse_source("Bad Name").is_err());
    }

    #[test]
    fn tag_creates_moves_and_refuses() {
        let (_tmp, db, a) = db_with_image("a");
        let b = add_image(&db, "b");
        let t = parse_target("new:v1").unwrap();
        assert_eq!(tag(&db, "a:1", &t).unwrap(), None);
        assert_eq!(
            db.resolve_tag("docker.io/library/new", "v1").unwrap(),
            Some(a.clone())
        );
        // By short ID; the tag moves from a to b.
        let short = &b["sha256:".len().."sha256:".len() + 12];
        assert_eq!(tag(&db, short, &t).unwrap(), Some(a.clone()));
        assert_eq!(
            db.resolve_tag("docker.io/library/new", "v1").unwrap(),
            Some(b.clone())
        );
        let err = tag(&db, "nope", &t).unwrap_err();
        assert_eq!(err.message, "No such image: nope:latest");
        let err = tag(&db, "a:1", &parse_target("sha256:abc").unwrap()).unwrap_err();
        assert_eq!(
            err.message,
            "refusing to create an ambiguous tag using digest algorithm as name"
        );
    }
}
