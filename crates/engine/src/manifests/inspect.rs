//! `manifest inspect`: a manifest or manifest list straight from the registry, printed the way the
//! docker CLI prints it (docker-image-semantics §7.4; checked against docker 28.2).
//!
//! - A single manifest: the registry's bytes re-indented with tabs ([`gojson::indent`], a port of Go's
//!   `json.Indent`: key order, number spelling and string escapes stay as received).
//! - A manifest list or OCI index: re-synthesized as a list of `{mediaType, size, digest,
//!   platform}` entries, indented with three spaces. Its `mediaType` is the OCI index type when
//!   the first entry is an OCI manifest, Docker's manifest-list type otherwise (distribution's
//!   `manifestlist.FromDescriptors`).
//! - Verbose: `{Ref, Descriptor, Raw, SchemaV2Manifest | OCIManifest}` per manifest (an array for
//!   a list), tab-indented; the embedded manifest is the raw bytes compacted with Go's HTML
//!   escaping, `Raw` their base64. A single manifest's platform comes from its image config; a
//!   list entry's from the list.
//!
//! Nothing is stored: the store is not opened.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use futures_util::StreamExt;
use oci_model::manifest::{self, Parsed};
use oci_model::platform::Platform;
use oci_model::reference::Reference;
use oci_model::{Digest, Error, ErrorCode, ErrorKind, Result, gojson, media_type};
use registry_client::resolve;
use registry_client::{RegistryClient, RegistryError, RegistryErrorKind};
use std::fmt::Write as _;

/// Largest image config read for a verbose inspect's platform.
pub(crate) const MAX_CONFIG_SIZE: u64 = 8 << 20;
/// Child manifests of a list fetched at once.
const CHILD_FETCHES: usize = 4;

/// One image manifest, as the docker CLI's `ImageManifest` holds it: fetched from a registry, or
/// an entry of a local manifest list ([`super::lists`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// `Ref`: the reference it was fetched as (a list entry: the list's reference with the
    /// entry's digest).
    pub reference: String,
    pub media_type: String,
    pub digest: Digest,
    /// The manifest's bytes as the registry sent them.
    pub bytes: Bytes,
    /// The descriptor's platform (from the config, or from the list entry).
    pub platform: Option<Platform>,
}

/// Inspects `reference` (which must carry a tag or digest: apply the default tag first) and
/// returns the text to print, trailing newline included.
pub async fn inspect(
    client: &RegistryClient,
    reference: &Reference,
    verbose: bool,
) -> Result<String> {
    let domain = reference.domain();
    let repo = reference.path();
    let wanted = fetch_reference(reference)?;
    let root = client
        .get_manifest(domain, repo, &wanted)
        .await
        .map_err(|e| fetch_error(reference, e))?;
    if let Some(want) = reference.digest()
        && *want != root.digest
    {
        // Fetched by tag: the digest next to it is checked here, as Docker does.
        return Err(Error::corrupt(format!(
            "manifest verification failed for digest {want}"
        )));
    }
    let (parsed, root_type) = manifest::parse(root.content_type.as_deref(), &root.bytes)?;
    match parsed {
        Parsed::Schema1 => Err(manifest::schema1_error(&reference.familiar_string())),
        Parsed::Manifest(m) => {
            let platform = if verbose {
                let config = client
                    .get_blob_bytes(domain, repo, &m.config.digest, MAX_CONFIG_SIZE)
                    .await
                    .map_err(resolve::registry_error)?;
                Some(platform_from_config(&config)?)
            } else {
                None
            };
            let fetched = Fetched {
                reference: reference.to_string(),
                media_type: root_type,
                digest: root.digest,
                bytes: root.bytes,
                platform,
            };
            print_manifest(&fetched, verbose)
        }
        Parsed::Index(index) => {
            let children = futures_util::stream::iter(index.manifests.iter().map(|entry| async {
                let m = client
                    .get_manifest(domain, repo, &entry.digest.to_string())
                    .await
                    .map_err(|e| fetch_error(reference, e))?;
                let (parsed, mt) = manifest::parse(m.content_type.as_deref(), &m.bytes)?;
                if !matches!(parsed, Parsed::Manifest(_)) {
                    return Err(Error::unsupported(format!(
                        "unsupported manifest type: {}",
                        go_manifest_type(&mt)
                    )));
                }
                Ok(Fetched {
                    reference: with_digest(reference, &entry.digest),
                    media_type: mt,
                    digest: m.digest,
                    bytes: m.bytes,
                    // A list entry without a platform still gets one, with empty fields.
                    platform: Some(entry.platform.clone().unwrap_or_default()),
                })
            }))
            .buffered(CHILD_FETCHES)
            .collect::<Vec<Result<Fetched>>>()
            .await
            .into_iter()
            .collect::<Result<Vec<Fetched>>>()?;
            if children.is_empty() {
                // Docker reads an empty list as "nothing found" and tries its next endpoint.
                return Err(no_such_manifest(reference));
            }
            print_list(&children, verbose)
        }
    }
}

/// A single manifest as `manifest inspect` prints it: tab-indented bytes, or the verbose object.
pub fn print_manifest(m: &Fetched, verbose: bool) -> Result<String> {
    let mut out = if verbose {
        let mut compact = String::new();
        write_image_manifest(&mut compact, m)?;
        gojson::indent(compact.as_bytes(), "", "\t").map_err(|_| invalid_json())?
    } else {
        gojson::indent(&m.bytes, "", "\t").map_err(|_| invalid_json())?
    };
    out.push('\n');
    Ok(out)
}

/// A list of manifests as `manifest inspect` prints it: Docker's manifest list rebuilt from the
/// entries (three-space indent), or the verbose array.
pub fn print_list(children: &[Fetched], verbose: bool) -> Result<String> {
    let (text, indent) = if verbose {
        let mut s = String::from("[");
        for (i, c) in children.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            write_image_manifest(&mut s, c)?;
        }
        s.push(']');
        (s, "\t")
    } else {
        (synthesized_list(children), "   ")
    };
    let mut out = gojson::indent(text.as_bytes(), "", indent).map_err(|_| invalid_json())?;
    out.push('\n');
    Ok(out)
}

/// What to ask the registry for: like the docker CLI, the tag when there is one (a digest next
/// to it is then verified), else the digest.
pub(crate) fn fetch_reference(reference: &Reference) -> Result<String> {
    match (reference.tag(), reference.digest()) {
        (Some(t), _) => Ok(t.to_string()),
        (None, Some(d)) => Ok(d.to_string()),
        (None, None) => Err(Error::invalid(format!("{reference} no tag or digest"))),
    }
}

/// Docker's `reference.WithDigest`: keeps the tag, replaces the digest.
fn with_digest(reference: &Reference, digest: &Digest) -> String {
    let mut s = reference.name();
    if let Some(t) = reference.tag() {
        s.push(':');
        s.push_str(t);
    }
    s.push('@');
    s.push_str(&digest.to_string());
    s
}

fn no_such_manifest(reference: &Reference) -> Error {
    Error::not_found(format!("no such manifest: {reference}"))
}

/// The docker CLI treats unknown manifests and repositories, refused credentials and answers
/// without an error document as "not at this endpoint" and, out of endpoints, says
/// `no such manifest: <ref>`. Other registry errors read as distribution's `errcode` prints them
/// (`denied: requested access to the resource is denied`; not the daemon's pull wording of
/// [`resolve::manifest_error`]); failures to connect keep their own words.
pub(crate) fn fetch_error(reference: &Reference, e: RegistryError) -> Error {
    let not_here = matches!(
        e.spec_code(),
        Some(ErrorCode::ManifestUnknown | ErrorCode::NameUnknown | ErrorCode::Unauthorized)
    ) || e.kind == RegistryErrorKind::NoCredentials
        || (e.code.is_none() && e.status.is_some());
    if not_here {
        no_such_manifest(reference)
    } else if e.code.is_some() {
        Error::new(e.error_kind(), e.docker_suffix())
    } else {
        resolve::registry_error(e)
    }
}

/// The Go type distribution decodes a media type into, as Docker names it in its error.
fn go_manifest_type(mt: &str) -> &'static str {
    if media_type::is_index(mt) {
        "*manifestlist.DeserializedManifestList"
    } else if media_type::is_schema1(mt) {
        "*schema1.SignedManifest"
    } else {
        "distribution.Manifest"
    }
}

/// The platform an image config declares, read as Go's `json.Unmarshal` into an OCI platform
/// would: `architecture`, `os`, `os.version`, `os.features`, `variant` (keys matched exactly,
/// else case-insensitively; `null` leaves a field empty).
pub fn platform_from_config(config: &[u8]) -> Result<Platform> {
    let value: serde_json::Value = serde_json::from_slice(config)
        .map_err(|e| Error::corrupt(format!("invalid image config: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(Error::corrupt(
            "json: cannot unmarshal non-object into Go value of type v1.Platform",
        ));
    };
    let field = |name: &str| {
        obj.get(name).or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    };
    let string = |name: &str| -> Result<Option<String>> {
        match field(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::corrupt(format!(
                "json: cannot unmarshal into Go struct field Platform.{name} of type string"
            ))),
        }
    };
    let features = match field("os.features") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s.clone()),
                    serde_json::Value::Null => Ok(String::new()),
                    _ => Err(Error::corrupt(
                        "json: cannot unmarshal into Go struct field Platform.os.features of type string",
                    )),
                })
                .collect::<Result<Vec<String>>>()?,
        ),
        Some(_) => {
            return Err(Error::corrupt(
                "json: cannot unmarshal into Go struct field Platform.os.features of type []string",
            ));
        }
    };
    Ok(Platform {
        architecture: string("architecture")?.unwrap_or_default(),
        os: string("os")?.unwrap_or_default(),
        os_version: string("os.version")?,
        os_features: features,
        variant: string("variant")?,
        features: None,
    })
}

/// `{"architecture":…,"os":…[,"os.version"][,"os.features"][,"variant"]}`, empty optional
/// fields left out (Go's `omitempty`).
fn write_platform(out: &mut String, p: &Platform) {
    out.push_str("{\"architecture\":");
    gojson::write_string_html(out, &p.architecture);
    out.push_str(",\"os\":");
    gojson::write_string_html(out, &p.os);
    if let Some(v) = p.os_version.as_deref().filter(|v| !v.is_empty()) {
        out.push_str(",\"os.version\":");
        gojson::write_string_html(out, v);
    }
    if let Some(f) = p.os_features.as_ref().filter(|f| !f.is_empty()) {
        out.push_str(",\"os.features\":[");
        for (i, s) in f.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            gojson::write_string_html(out, s);
        }
        out.push(']');
    }
    if let Some(v) = p.variant.as_deref().filter(|v| !v.is_empty()) {
        out.push_str(",\"variant\":");
        gojson::write_string_html(out, v);
    }
    out.push('}');
}

/// One verbose `ImageManifest` object, compact.
fn write_image_manifest(out: &mut String, m: &Fetched) -> Result<()> {
    out.push_str("{\"Ref\":");
    gojson::write_string_html(out, &m.reference);
    out.push_str(",\"Descriptor\":{\"mediaType\":");
    gojson::write_string_html(out, &m.media_type);
    out.push_str(",\"digest\":");
    gojson::write_string_html(out, &m.digest.to_string());
    let _ = write!(out, ",\"size\":{}", m.bytes.len());
    if let Some(p) = &m.platform {
        out.push_str(",\"platform\":");
        write_platform(out, p);
    }
    out.push_str("},\"Raw\":\"");
    out.push_str(&B64.encode(&m.bytes));
    out.push('"');
    let key = if m.media_type == media_type::DOCKER_MANIFEST_V2 {
        "SchemaV2Manifest"
    } else {
        "OCIManifest"
    };
    let _ = write!(out, ",\"{key}\":");
    gojson::compact_html(out, &m.bytes).map_err(|_| invalid_json())?;
    out.push('}');
    Ok(())
}

/// The non-verbose form of a list, compact: Docker's manifest list rebuilt from the fetched
/// entries.
fn synthesized_list(children: &[Fetched]) -> String {
    synthesized_list_of_type(children, list_type_for(children))
}

/// distribution's `manifestlist.FromDescriptors`: an OCI index when the first entry is an OCI
/// manifest, a Docker manifest list otherwise.
pub(crate) fn list_type_for(children: &[Fetched]) -> &'static str {
    match children.first() {
        Some(c) if c.media_type == media_type::OCI_MANIFEST => media_type::OCI_INDEX,
        _ => media_type::DOCKER_MANIFEST_LIST,
    }
}

/// The list docker pushes: [`synthesized_list_of_type`] indented with three spaces, no newline
/// after it (distribution's `json.MarshalIndent(…, "", "   ")`).
pub(crate) fn list_bytes(children: &[Fetched], list_type: &str) -> Result<Vec<u8>> {
    Ok(gojson::indent(
        synthesized_list_of_type(children, list_type).as_bytes(),
        "",
        "   ",
    )
    .map_err(|_| invalid_json())?
    .into_bytes())
}

/// A manifest list (or index) of `list_type` over `children`, compact.
fn synthesized_list_of_type(children: &[Fetched], list_type: &str) -> String {
    let mut out = String::from("{\"schemaVersion\":2,\"mediaType\":");
    gojson::write_string_html(&mut out, list_type);
    out.push_str(",\"manifests\":[");
    for (i, c) in children.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        if !c.media_type.is_empty() {
            out.push_str("\"mediaType\":");
            gojson::write_string_html(&mut out, &c.media_type);
            out.push(',');
        }
        let _ = write!(out, "\"size\":{},\"digest\":", c.bytes.len());
        gojson::write_string_html(&mut out, &c.digest.to_string());
        out.push_str(",\"platform\":");
        write_platform(
            &mut out,
            c.platform.as_ref().unwrap_or(&Platform::default()),
        );
        out.push('}');
    }
    out.push_str("]}");
    out
}

fn invalid_json() -> Error {
    Error::new(ErrorKind::DataCorrupt, "manifest is not valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_from_config_reads_oci_platform_fields() {
        let p = platform_from_config(
            br#"{"Architecture":"arm","os":"linux","variant":"v7","os.features":["x"],"os.version":null}"#,
        )
        .unwrap();
        assert_eq!(p.architecture, "arm");
        assert_eq!(p.os, "linux");
        assert_eq!(p.variant.as_deref(), Some("v7"));
        assert_eq!(p.os_features, Some(vec!["x".to_string()]));
        assert_eq!(p.os_version, None);
        let mut out = String::new();
        write_platform(&mut out, &p);
        assert_eq!(
            out,
            r#"{"architecture":"arm","os":"linux","os.features":["x"],"variant":"v7"}"#
        );
        assert!(platform_from_config(br#"{"os":5}"#).is_err());
        assert!(platform_from_config(b"[]").is_err());
    }

    fn fetched(mt: &str, body: &str, platform: Option<Platform>) -> Fetched {
        let bytes = Bytes::from(body.to_string());
        Fetched {
            reference: "127.0.0.1:5000/a/b:t@sha256:00".into(),
            media_type: mt.into(),
            digest: Digest::of(&bytes),
            bytes,
            platform,
        }
    }

    #[test]
    fn synthesized_list_type_follows_first_entry() {
        let oci = fetched(
            media_type::OCI_MANIFEST,
            "{}",
            Some(Platform::new("linux", "amd64", None)),
        );
        let docker = fetched(media_type::DOCKER_MANIFEST_V2, "{ }", None);
        let list = synthesized_list(&[oci, docker]);
        let v: serde_json::Value = serde_json::from_str(&list).unwrap();
        assert_eq!(v["mediaType"], media_type::OCI_INDEX);
        assert_eq!(v["manifests"][0]["size"], 2);
        assert_eq!(v["manifests"][1]["size"], 3);
        assert_eq!(
            v["manifests"][1]["platform"],
            serde_json::json!({"architecture": "", "os": ""})
        );
        let docker = fetched(media_type::DOCKER_MANIFEST_V2, "{}", None);
        let v: serde_json::Value = serde_json::from_str(&synthesized_list(&[docker])).unwrap();
        assert_eq!(v["mediaType"], media_type::DOCKER_MANIFEST_LIST);
    }

    #[test]
    fn verbose_object_embeds_raw_and_manifest() {
        let m = fetched(
            media_type::DOCKER_MANIFEST_V2,
            "{\n  \"schemaVersion\": 2, \"x\": \"<\"\n}",
            Some(Platform::new("linux", "amd64", None)),
        );
        let mut s = String::new();
        write_image_manifest(&mut s, &m).unwrap();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["SchemaV2Manifest"]["x"], "<");
        assert!(s.contains(r#""x":"\u003c""#));
        assert_eq!(B64.decode(v["Raw"].as_str().unwrap()).unwrap(), m.bytes);
        assert_eq!(v["Descriptor"]["size"], m.bytes.len());
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4);
        let m = fetched(media_type::OCI_MANIFEST, "{}", None);
        let mut s = String::new();
        write_image_manifest(&mut s, &m).unwrap();
        assert!(s.ends_with(r#","OCIManifest":{}}"#), "{s}");
        assert!(!s.contains("platform"));
    }

    #[test]
    fn child_refs_keep_the_tag() {
        let d = Digest::of(b"x");
        let r = Reference::parse_normalized("127.0.0.1:5000/a/b:t").unwrap();
        assert_eq!(with_digest(&r, &d), format!("127.0.0.1:5000/a/b:t@{d}"));
        let r = Reference::parse_normalized(&format!("alpine@{}", Digest::of(b"y"))).unwrap();
        assert_eq!(with_digest(&r, &d), format!("docker.io/library/alpine@{d}"));
    }

    #[test]
    fn unknown_manifests_read_as_no_such_manifest() {
        let r = Reference::parse_normalized("127.0.0.1:5000/a/b:t").unwrap();
        let e = RegistryError::from_response(
            404,
            "http://x/v2/a/b/manifests/t",
            b"",
            Some(ErrorCode::ManifestUnknown),
        );
        let err = fetch_error(&r, e);
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert_eq!(err.to_string(), "no such manifest: 127.0.0.1:5000/a/b:t");
        let e = RegistryError::from_response(
            400,
            "http://x/v2/a/b/manifests/t",
            br#"{"errors":[{"code":"TAG_INVALID","message":"bad tag"}]}"#,
            None,
        );
        assert_eq!(fetch_error(&r, e).to_string(), "tag invalid: bad tag");
        let e = RegistryError::from_response(403, "http://x/v2/a/b/manifests/t", b"", None);
        let err = fetch_error(&r, e);
        assert_eq!(err.kind, ErrorKind::Unauthorized);
        assert_eq!(
            err.to_string(),
            "denied: requested access to the resource is denied"
        );
    }
}
