//! Reference → root descriptor (manifest or index) → the platform's manifest → config + layers.

use crate::error::Code;
use crate::{RegistryClient, RegistryError, RegistryErrorKind};
use bytes::Bytes;
use oci_model::manifest::{self, ImageManifest, Parsed};
use oci_model::platform::{self, Platform};
use oci_model::reference::Reference;
use oci_model::{Digest, Error, ErrorCode, ErrorKind, Result, media_type};

/// What a reference resolved to.
pub struct Resolved {
    /// The digest the user's reference points at: the index / manifest-list digest for a
    /// multi-arch image, the manifest digest otherwise. It becomes the RepoDigest.
    pub root_digest: Digest,
    /// The index, when the reference named one: (media type, raw bytes).
    pub index: Option<(String, Bytes)>,
    pub manifest_digest: Digest,
    pub manifest_media_type: String,
    pub manifest_bytes: Bytes,
    pub manifest: ImageManifest,
}

/// Maps a registry error on a manifest request to Docker's message (§2.5 of the semantics notes).
pub fn manifest_error(reference: &Reference, e: RegistryError) -> Error {
    let familiar = reference.familiar_string();
    if e.kind == RegistryErrorKind::NoCredentials {
        return Error::new(ErrorKind::Unauthorized, e.message);
    }
    let code = e.code.as_ref().map(Code::spec);
    match (code, e.status) {
        (Some(Some(ErrorCode::ManifestUnknown)), _) | (None, Some(404)) => Error::not_found(
            format!("manifest for {familiar} not found: manifest unknown: manifest unknown"),
        ),
        (Some(Some(ErrorCode::NameUnknown)), _) => Error::not_found(format!(
            "repository {} not found: {}",
            reference.familiar_name(),
            e.docker_suffix()
        )),
        (Some(Some(ErrorCode::Denied)), _) | (None, Some(403)) => Error::new(
            ErrorKind::Unauthorized,
            format!(
                "pull access denied for {}, repository does not exist or may require 'docker login': {}",
                reference.familiar_name(),
                if e.code.is_some() {
                    e.docker_suffix()
                } else {
                    "denied: requested access to the resource is denied".into()
                }
            ),
        ),
        // Passed through as the registry words it (`unauthorized: authentication required`).
        (Some(Some(ErrorCode::Unauthorized)), _) | (None, Some(401)) => {
            Error::new(ErrorKind::Unauthorized, e.docker_suffix())
        }
        _ => registry_error(e),
    }
}

/// Any other registry failure: its own message (connection refused, 5xx after retries, …).
pub fn registry_error(e: RegistryError) -> Error {
    Error::from(e)
}

fn check_manifest(reference: &Reference, parsed: Parsed) -> Result<Parsed> {
    match parsed {
        Parsed::Schema1 => Err(manifest::schema1_error(&reference.familiar_string())),
        other => Ok(other),
    }
}

/// Resolves `reference` (which must carry a tag or a digest) for `wanted`.
pub async fn resolve(
    client: &RegistryClient,
    reference: &Reference,
    wanted: &Platform,
) -> Result<Resolved> {
    let domain = reference.domain();
    let repo = reference.path();
    let wanted_ref = reference
        .registry_reference()
        .ok_or_else(|| Error::invalid("reference has neither tag nor digest"))?;
    let root = client
        .get_manifest(domain, repo, &wanted_ref)
        .await
        .map_err(|e| manifest_error(reference, e))?;
    let (parsed, root_type) = manifest::parse(root.content_type.as_deref(), &root.bytes)?;
    match check_manifest(reference, parsed)? {
        Parsed::Manifest(m) => Ok(Resolved {
            root_digest: root.digest.clone(),
            index: None,
            manifest_digest: root.digest,
            manifest_media_type: root_type,
            manifest_bytes: root.bytes,
            manifest: m,
        }),
        Parsed::Index(index) => {
            let candidates = platform::select(wanted, &index.manifests);
            for desc in candidates {
                if !media_type::is_manifest(&desc.media_type) && !desc.media_type.is_empty() {
                    // Nested indexes and unknown artifact types are skipped, as Docker does.
                    continue;
                }
                let m = client
                    .get_manifest(domain, repo, &desc.digest.to_string())
                    .await
                    .map_err(|e| manifest_error(reference, e))?;
                let (parsed, mt) = manifest::parse(m.content_type.as_deref(), &m.bytes)?;
                if let Parsed::Manifest(manifest) = check_manifest(reference, parsed)? {
                    return Ok(Resolved {
                        root_digest: root.digest,
                        index: Some((root_type, root.bytes)),
                        manifest_digest: m.digest,
                        manifest_media_type: mt,
                        manifest_bytes: m.bytes,
                        manifest,
                    });
                }
            }
            Err(Error::not_found(format!(
                "no matching manifest for {wanted} in the manifest list entries"
            )))
        }
        Parsed::Schema1 => unreachable!("schema1 is rejected by check_manifest"),
    }
}
