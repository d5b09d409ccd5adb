//! Manifests and indexes (OCI image spec and Docker v2 schema 2) as serde types, and
//! classification of fetched manifest bytes.
//!
//! Callers keep the raw bytes: digests are computed over what the registry sent, never over
//! a re-serialization of these types.

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::media_type;
use crate::platform::Platform;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A content descriptor: what a manifest or index says about a blob it points to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    /// Embedded content (base64), OCI 1.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl Descriptor {
    /// A descriptor with only media type, digest and size.
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
            data: None,
        }
    }
}

/// An image manifest (`application/vnd.oci.image.manifest.v1+json` or Docker's
/// `application/vnd.docker.distribution.manifest.v2+json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageManifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image index (`application/vnd.oci.image.index.v1+json`) or Docker manifest list
/// (`application/vnd.docker.distribution.manifest.list.v2+json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageIndex {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// What a manifest fetched from a registry turned out to be.
// Parsed once per fetched manifest and matched on immediately; boxing would only make
// destructuring clumsier for callers.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Manifest(ImageManifest),
    Index(ImageIndex),
    /// Docker v2 schema 1 (signed or not); refused by callers with [`schema1_error`].
    Schema1,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Manifest,
    Index,
    Schema1,
}

fn kind_of(mt: &str) -> Option<Kind> {
    if media_type::is_manifest(mt) {
        Some(Kind::Manifest)
    } else if media_type::is_index(mt) {
        Some(Kind::Index)
    } else if media_type::is_schema1(mt) {
        Some(Kind::Schema1)
    } else {
        None
    }
}

/// `type/subtype` of a Content-Type header, without parameters, lowercased.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Classifies and parses manifest bytes.
///
/// The HTTP `Content-Type` decides when it is a known manifest type; otherwise the JSON's
/// `mediaType`; otherwise the shape (`manifests[]` → index, `config` + `layers` → manifest,
/// `schemaVersion: 1` or `fsLayers` → schema 1). Returns the parsed value and the effective
/// media type.
pub fn parse(content_type: Option<&str>, bytes: &[u8]) -> Result<(Parsed, String)> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::corrupt(format!("failed to parse manifest: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(Error::corrupt(
            "failed to parse manifest: not a JSON object",
        ));
    };
    let header = content_type.map(essence).filter(|ct| kind_of(ct).is_some());
    let declared = obj
        .get("mediaType")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty());

    let effective = if let Some(ct) = header {
        if let Some(d) = declared
            && let (Some(dk), Some(ck)) = (kind_of(d), kind_of(&ct))
            && dk != ck
        {
            return Err(Error::corrupt(format!(
                "manifest served as {ct} declares mediaType {d}"
            )));
        }
        ct
    } else if let Some(d) = declared {
        d.to_string()
    } else if obj.get("manifests").is_some_and(|m| m.is_array()) {
        media_type::OCI_INDEX.to_string()
    } else if obj.contains_key("config") && obj.contains_key("layers") {
        media_type::OCI_MANIFEST.to_string()
    } else if obj.get("schemaVersion").and_then(|v| v.as_u64()) == Some(1)
        || obj.contains_key("fsLayers")
    {
        if obj.contains_key("signatures") {
            media_type::DOCKER_MANIFEST_V1_SIGNED.to_string()
        } else {
            media_type::DOCKER_MANIFEST_V1.to_string()
        }
    } else {
        return Err(Error::unsupported("unsupported manifest format"));
    };

    let parsed = match kind_of(&effective) {
        Some(Kind::Schema1) => Parsed::Schema1,
        Some(Kind::Manifest) => {
            let m: ImageManifest = serde_json::from_value(value)
                .map_err(|e| Error::corrupt(format!("invalid manifest ({effective}): {e}")))?;
            check_schema_version(m.schema_version)?;
            Parsed::Manifest(m)
        }
        Some(Kind::Index) => {
            let i: ImageIndex = serde_json::from_value(value)
                .map_err(|e| Error::corrupt(format!("invalid manifest list ({effective}): {e}")))?;
            check_schema_version(i.schema_version)?;
            Parsed::Index(i)
        }
        None => {
            return Err(Error::unsupported(format!(
                "unsupported manifest format: {effective}"
            )));
        }
    };
    Ok((parsed, effective))
}

fn check_schema_version(v: u32) -> Result<()> {
    if v == 2 {
        Ok(())
    } else {
        Err(Error::unsupported(format!(
            "unsupported manifest schema version {v}"
        )))
    }
}

/// Docker's `DeprecatedSchema1ImageError` for a reference (familiar string, e.g. `alpine:3`).
pub fn schema1_error(reference: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. \
             Suggest the author of {reference} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. \
             More information at https://docs.docker.com/go/deprecated-image-specs/"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media_type::*;

    const D1: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const D2: &str = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";
    const D3: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn docker_manifest() -> String {
        format!(
            r#"{{
   "schemaVersion": 2,
   "mediaType": "{DOCKER_MANIFEST_V2}",
   "config": {{"mediaType": "{DOCKER_CONFIG}", "size": 1472, "digest": "{D1}"}},
   "layers": [
      {{"mediaType": "{DOCKER_LAYER_GZIP}", "size": 3623807, "digest": "{D2}"}},
      {{"mediaType": "{DOCKER_FOREIGN_LAYER_GZIP}", "size": 10, "digest": "{D3}", "urls": ["https://example.com/l"]}}
   ]
}}"#
        )
    }

    fn oci_manifest(with_media_type: bool) -> String {
        let mt = if with_media_type {
            format!(r#""mediaType": "{OCI_MANIFEST}","#)
        } else {
            String::new()
        };
        format!(
            r#"{{"schemaVersion":2,{mt}"config":{{"mediaType":"{OCI_CONFIG}","digest":"{D1}","size":2}},
"layers":[{{"mediaType":"{OCI_LAYER_ZSTD}","digest":"{D2}","size":5,"annotations":{{"org.opencontainers.image.title":"x"}}}}],
"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{D3}","size":7}},
"annotations":{{"org.opencontainers.image.created":"2024-01-01T00:00:00Z"}}}}"#
        )
    }

    fn docker_list() -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[
{{"mediaType":"{DOCKER_MANIFEST_V2}","digest":"{D1}","size":528,"platform":{{"architecture":"amd64","os":"linux"}}}},
{{"mediaType":"{DOCKER_MANIFEST_V2}","digest":"{D2}","size":528,"platform":{{"architecture":"arm","os":"linux","variant":"v7"}}}},
{{"mediaType":"{DOCKER_MANIFEST_V2}","digest":"{D3}","size":528,"platform":{{"architecture":"amd64","os":"windows","os.version":"10.0.17763.5458","os.features":["win32k"]}}}}]}}"#
        )
    }

    fn oci_index(with_media_type: bool) -> String {
        let mt = if with_media_type {
            format!(r#""mediaType": "{OCI_INDEX}","#)
        } else {
            String::new()
        };
        format!(
            r#"{{"schemaVersion":2,{mt}"manifests":[
{{"mediaType":"{OCI_MANIFEST}","digest":"{D1}","size":1,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}},
{{"mediaType":"{OCI_MANIFEST}","digest":"{D2}","size":2,"platform":{{"architecture":"unknown","os":"unknown"}},
  "annotations":{{"vnd.docker.reference.digest":"{D1}","vnd.docker.reference.type":"attestation-manifest"}}}}],
"annotations":{{"a":"b"}}}}"#
        )
    }

    const SCHEMA1_SIGNED: &str = r#"{
   "schemaVersion": 1,
   "name": "library/hello",
   "tag": "latest",
   "architecture": "amd64",
   "fsLayers": [{"blobSum": "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}],
   "history": [{"v1Compatibility": "{}"}],
   "signatures": [{"header": {"alg": "ES256"}, "signature": "x", "protected": "y"}]
}"#;

    #[test]
    fn docker_v2_manifest() {
        let body = docker_manifest();
        let (p, mt) = parse(Some(DOCKER_MANIFEST_V2), body.as_bytes()).unwrap();
        assert_eq!(mt, DOCKER_MANIFEST_V2);
        let Parsed::Manifest(m) = p else {
            panic!("not a manifest")
        };
        assert_eq!(m.config.media_type, DOCKER_CONFIG);
        assert_eq!(m.config.digest.to_string(), D1);
        assert_eq!(m.layers.len(), 2);
        assert_eq!(m.layers[0].size, 3623807);
        assert_eq!(
            m.layers[1].urls.as_deref(),
            Some(&["https://example.com/l".to_string()][..])
        );
        // classified by body alone too
        assert_eq!(parse(None, body.as_bytes()).unwrap().1, DOCKER_MANIFEST_V2);
        assert_eq!(
            parse(Some("application/octet-stream"), body.as_bytes())
                .unwrap()
                .1,
            DOCKER_MANIFEST_V2
        );
    }

    #[test]
    fn oci_manifest_by_header_body_and_shape() {
        let body = oci_manifest(true);
        let (p, mt) = parse(
            Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(mt, OCI_MANIFEST);
        let Parsed::Manifest(m) = p else { panic!() };
        assert_eq!(m.layers[0].media_type, OCI_LAYER_ZSTD);
        assert_eq!(m.subject.unwrap().digest.to_string(), D3);
        assert_eq!(
            m.annotations.unwrap()["org.opencontainers.image.created"],
            "2024-01-01T00:00:00Z"
        );
        // no mediaType in the JSON: header decides, else the shape
        let bare = oci_manifest(false);
        assert_eq!(
            parse(Some(OCI_MANIFEST), bare.as_bytes()).unwrap().1,
            OCI_MANIFEST
        );
        assert_eq!(
            parse(Some(DOCKER_MANIFEST_V2), bare.as_bytes()).unwrap().1,
            DOCKER_MANIFEST_V2
        );
        assert_eq!(parse(None, bare.as_bytes()).unwrap().1, OCI_MANIFEST);
        assert_eq!(
            parse(Some("text/plain"), bare.as_bytes()).unwrap().1,
            OCI_MANIFEST
        );
    }

    #[test]
    fn docker_manifest_list() {
        let (p, mt) = parse(Some(DOCKER_MANIFEST_LIST), docker_list().as_bytes()).unwrap();
        assert_eq!(mt, DOCKER_MANIFEST_LIST);
        let Parsed::Index(i) = p else { panic!() };
        assert_eq!(i.manifests.len(), 3);
        let arm = i.manifests[1].platform.as_ref().unwrap();
        assert_eq!(
            (arm.architecture.as_str(), arm.variant.as_deref()),
            ("arm", Some("v7"))
        );
        let win = i.manifests[2].platform.as_ref().unwrap();
        assert_eq!(win.os_version.as_deref(), Some("10.0.17763.5458"));
        assert_eq!(
            win.os_features.as_deref(),
            Some(&["win32k".to_string()][..])
        );
    }

    #[test]
    fn oci_index_with_attestation() {
        let (p, mt) = parse(Some(OCI_INDEX), oci_index(true).as_bytes()).unwrap();
        assert_eq!(mt, OCI_INDEX);
        let Parsed::Index(i) = p else { panic!() };
        assert_eq!(
            i.manifests[1].annotations.as_ref().unwrap()["vnd.docker.reference.type"],
            "attestation-manifest"
        );
        let picked = crate::platform::select(
            &crate::platform::parse("linux/arm64").unwrap(),
            &i.manifests,
        );
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].digest.to_string(), D1);
        // shape only
        assert!(
            matches!(parse(None, oci_index(false).as_bytes()).unwrap(), (Parsed::Index(_), m) if m == OCI_INDEX)
        );
    }

    #[test]
    fn schema1_is_recognized() {
        let (p, mt) = parse(Some(DOCKER_MANIFEST_V1_SIGNED), SCHEMA1_SIGNED.as_bytes()).unwrap();
        assert_eq!(
            (p, mt.as_str()),
            (Parsed::Schema1, DOCKER_MANIFEST_V1_SIGNED)
        );
        // registries often serve schema1 as application/json
        assert_eq!(
            parse(Some("application/json"), SCHEMA1_SIGNED.as_bytes())
                .unwrap()
                .1,
            DOCKER_MANIFEST_V1_SIGNED
        );
        let unsigned = r#"{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[],"history":[]}"#;
        assert_eq!(
            parse(None, unsigned.as_bytes()).unwrap(),
            (Parsed::Schema1, DOCKER_MANIFEST_V1.to_string())
        );
        let e = schema1_error("alpine:3");
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert_eq!(
            e.message,
            "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of alpine:3 to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/"
        );
    }

    #[test]
    fn rejects_bad_input() {
        let unknown =
            r#"{"schemaVersion":2,"mediaType":"application/vnd.example+json","blobs":[]}"#;
        let e = parse(None, unknown.as_bytes()).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (
                ErrorKind::Unsupported,
                "unsupported manifest format: application/vnd.example+json"
            )
        );
        let e = parse(Some("text/html"), b"{\"hello\":1}").unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::Unsupported, "unsupported manifest format")
        );
        assert_eq!(
            parse(None, b"<html>").unwrap_err().kind,
            ErrorKind::DataCorrupt
        );
        assert_eq!(
            parse(None, b"[1]").unwrap_err().kind,
            ErrorKind::DataCorrupt
        );
        // wrong schema version
        let v3 = oci_manifest(true).replace("\"schemaVersion\":2", "\"schemaVersion\":3");
        assert_eq!(
            parse(None, v3.as_bytes()).unwrap_err().message,
            "unsupported manifest schema version 3"
        );
        // index served as a manifest
        let e = parse(Some(OCI_MANIFEST), oci_index(true).as_bytes()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::DataCorrupt);
        // missing config
        let e = parse(Some(OCI_MANIFEST), br#"{"schemaVersion":2,"layers":[]}"#).unwrap_err();
        assert!(e.message.contains("config"), "{}", e.message);
        // non-sha256 and malformed digests
        let sha512 = oci_manifest(true).replace(D2, &format!("sha512:{}", "ab".repeat(64)));
        assert!(
            parse(None, sha512.as_bytes())
                .unwrap_err()
                .message
                .contains("unsupported digest algorithm")
        );
        let negative = oci_manifest(true).replace("\"size\":5", "\"size\":-5");
        assert!(parse(None, negative.as_bytes()).is_err());
    }

    #[test]
    fn serialization_skips_absent_fields() {
        let d = Descriptor::new(OCI_LAYER_GZIP, Digest::parse(D1).unwrap(), 3);
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            format!(r#"{{"mediaType":"{OCI_LAYER_GZIP}","digest":"{D1}","size":3}}"#)
        );
        let d2: Descriptor =
            serde_json::from_str(&format!(r#"{{"digest":"{D1}","size":3}}"#)).unwrap();
        assert_eq!(d2.media_type, "");
        let (Parsed::Index(i), _) = parse(None, oci_index(true).as_bytes()).unwrap() else {
            panic!()
        };
        let again: ImageIndex = serde_json::from_slice(&serde_json::to_vec(&i).unwrap()).unwrap();
        assert_eq!(again, i);
    }
}
