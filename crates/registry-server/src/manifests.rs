//! Manifest routes (`GET`/`HEAD`/`PUT`/`DELETE` by tag or digest, for OCI manifests and indexes
//! and Docker v2 manifests and lists), tag listing, the catalog and the referrers API.
//!
//! A manifest is kept as the exact bytes pushed (its digest is the sha256 of those bytes) with
//! the `Content-Type` it was pushed with.

use crate::auth::Action;
use crate::error::ApiError;
use crate::state::{AppState, empty, identity, parse_digest, query};
use crate::storage::{Backend, Link};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use oci_model::manifest::{self, Descriptor, Parsed};
use oci_model::{Digest, ErrorCode, media_type};
use serde_json::{Value, json};
use std::io::{self, Read};
use std::sync::Arc;

/// The largest manifest accepted (distribution's and the spec's recommended limit).
pub const MAX_MANIFEST: usize = 4 * 1024 * 1024;
/// How much of an oversized manifest body is read before answering 413.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// A manifest reference from the path: a digest or a tag.
enum Ref {
    Digest(Digest),
    Tag(String),
}

fn parse_ref(reference: &str, unknown: ErrorCode) -> Result<Ref, ApiError> {
    if reference.contains(':') {
        parse_digest(reference).map(Ref::Digest)
    } else if crate::names::valid_tag(reference) {
        Ok(Ref::Tag(reference.to_string()))
    } else {
        Err(ApiError::new(unknown).message(format!("invalid tag {reference:?}")))
    }
}

/// The digest a reference names in `repo`, `None` when unknown there.
fn resolve(b: &dyn Backend, repo: &str, r: &Ref) -> io::Result<Option<Digest>> {
    match r {
        Ref::Digest(d) => Ok(Some(d.clone())),
        Ref::Tag(t) => Ok(b
            .link_get(repo, &Link::Tag, t)?
            .and_then(|v| Digest::parse(String::from_utf8_lossy(&v).trim()).ok())),
    }
}

/// Reads a manifest of `repo`: its digest, media type and bytes.
fn read_manifest(
    b: &dyn Backend,
    repo: &str,
    r: &Ref,
) -> io::Result<Option<(Digest, String, Vec<u8>)>> {
    let Some(digest) = resolve(b, repo, r)? else {
        return Ok(None);
    };
    let Some(mt) = b.link_get(repo, &Link::Manifest, digest.hex())? else {
        return Ok(None);
    };
    let Some(size) = b.blob_size(&digest)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(size as usize);
    b.blob_open(&digest, 0)?.read_to_end(&mut bytes)?;
    Ok(Some((
        digest,
        String::from_utf8_lossy(&mt).into_owned(),
        bytes,
    )))
}

/// `GET`/`HEAD /v2/<name>/manifests/<reference>`.
pub async fn get(
    st: &Arc<AppState>,
    name: &str,
    reference: &str,
    head: bool,
) -> Result<Response, ApiError> {
    let r = parse_ref(reference, ErrorCode::ManifestUnknown)?;
    let repo = name.to_string();
    let found = st.blocking(move |b| read_manifest(b, &repo, &r)).await?;
    let Some((digest, mt, bytes)) = found else {
        return Err(ApiError::new(ErrorCode::ManifestUnknown).detail(json!({ "Tag": reference })));
    };
    let mut resp = empty(
        StatusCode::OK,
        &[
            ("Content-Type", mt),
            ("Docker-Content-Digest", digest.to_string()),
            ("ETag", format!("\"{digest}\"")),
        ],
    );
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    if !head {
        *resp.body_mut() = Body::from(bytes);
    }
    Ok(resp)
}

/// Reads a request body of at most `limit` bytes; `None` when it is larger.
async fn read_limited(body: Body, limit: usize) -> Result<Option<Bytes>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(ErrorCode::ManifestInvalid).message(format!("reading body: {e}"))
        })?;
        if buf.len() + chunk.len() > limit {
            // Read (and drop) a bounded remainder so the client sees the answer rather than a
            // reset connection.
            let mut drained = buf.len() + chunk.len();
            while drained < DRAIN_LIMIT
                && let Some(Ok(more)) = stream.next().await
            {
                drained += more.len();
            }
            return Ok(None);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Some(Bytes::from(buf)))
}

/// The descriptor the referrers API lists for a manifest.
fn referrer_descriptor(mt: &str, digest: &Digest, size: u64, parsed: &Parsed) -> Value {
    let (artifact_type, annotations) = match parsed {
        Parsed::Manifest(m) => (
            m.artifact_type
                .clone()
                .or_else(|| Some(m.config.media_type.clone())),
            m.annotations.clone(),
        ),
        Parsed::Index(i) => (i.artifact_type.clone(), i.annotations.clone()),
        Parsed::Schema1 => (None, None),
    };
    let mut d = json!({ "mediaType": mt, "digest": digest.to_string(), "size": size });
    if let Some(a) = artifact_type.filter(|a| !a.is_empty()) {
        d["artifactType"] = json!(a);
    }
    if let Some(a) = annotations.filter(|a| !a.is_empty()) {
        d["annotations"] = json!(a);
    }
    d
}

/// What a manifest needs present in its repository before it is accepted.
fn references(parsed: &Parsed) -> (Vec<&Descriptor>, Vec<&Descriptor>) {
    match parsed {
        Parsed::Manifest(m) => {
            let blobs = std::iter::once(&m.config)
                .chain(&m.layers)
                // Foreign layers live at their URLs, not in the registry.
                .filter(|d| d.urls.as_ref().is_none_or(|u| u.is_empty()))
                .collect();
            (blobs, Vec::new())
        }
        Parsed::Index(i) => (Vec::new(), i.manifests.iter().collect()),
        Parsed::Schema1 => (Vec::new(), Vec::new()),
    }
}

/// `PUT /v2/<name>/manifests/<reference>`.
pub async fn put(
    st: &Arc<AppState>,
    name: &str,
    reference: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let r = parse_ref(reference, ErrorCode::ManifestInvalid)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(bytes) = read_limited(req.into_body(), MAX_MANIFEST).await? else {
        return Err(ApiError::new(ErrorCode::ManifestInvalid)
            .message(format!("manifest too big (limit {MAX_MANIFEST} bytes)"))
            .status(StatusCode::PAYLOAD_TOO_LARGE));
    };
    let digest = Digest::of(&bytes);
    if let Ref::Digest(d) = &r
        && d != &digest
    {
        return Err(ApiError::new(ErrorCode::DigestInvalid).detail(json!({
            "expected": d.to_string(), "actual": digest.to_string()
        })));
    }
    let (parsed, effective) = manifest::parse(content_type.as_deref(), &bytes)
        .map_err(|e| ApiError::new(ErrorCode::ManifestInvalid).message(e.message))?;
    if matches!(parsed, Parsed::Schema1) {
        return Err(ApiError::new(ErrorCode::ManifestInvalid)
            .message("schema 1 manifests are not supported"));
    }
    // The type recorded is the one pushed, when it is a manifest type at all.
    let mt = match content_type.as_deref() {
        Some(ct) if media_type::is_manifest(essence(ct)) || media_type::is_index(essence(ct)) => {
            ct.to_string()
        }
        _ => effective,
    };
    let subject = match &parsed {
        Parsed::Manifest(m) => m.subject.clone(),
        Parsed::Index(i) => i.subject.clone(),
        Parsed::Schema1 => None,
    };
    let referrer = subject
        .as_ref()
        .map(|_| referrer_descriptor(&mt, &digest, bytes.len() as u64, &parsed));
    let (blobs, children) = references(&parsed);
    let blobs: Vec<Digest> = blobs.into_iter().map(|d| d.digest.clone()).collect();
    let children: Vec<Digest> = children.into_iter().map(|d| d.digest.clone()).collect();

    let (repo, d, tag) = (
        name.to_string(),
        digest.clone(),
        match &r {
            Ref::Tag(t) => Some(t.clone()),
            Ref::Digest(_) => None,
        },
    );
    let subject_digest = subject.as_ref().map(|s| s.digest.clone());
    let missing = st
        .blocking(move |b| {
            for blob in &blobs {
                if b.link_get(&repo, &Link::Layer, blob.hex())?.is_none()
                    || b.blob_size(blob)?.is_none()
                {
                    return Ok(Some(blob.clone()));
                }
            }
            for child in &children {
                if b.link_get(&repo, &Link::Manifest, child.hex())?.is_none() {
                    return Ok(Some(child.clone()));
                }
            }
            b.blob_put(&d, &bytes)?;
            b.link_put(&repo, &Link::Manifest, d.hex(), mt.as_bytes())?;
            if let (Some(s), Some(desc)) = (&subject_digest, &referrer) {
                b.link_put(
                    &repo,
                    &Link::Referrer(s.clone()),
                    d.hex(),
                    desc.to_string().as_bytes(),
                )?;
            }
            if let Some(t) = &tag {
                b.link_put(&repo, &Link::Tag, t, d.to_string().as_bytes())?;
            }
            Ok(None)
        })
        .await?;
    if let Some(m) = missing {
        return Err(ApiError::new(ErrorCode::ManifestBlobUnknown).detail(json!({ "digest": m })));
    }
    let mut headers = vec![
        ("Location", format!("/v2/{name}/manifests/{digest}")),
        ("Docker-Content-Digest", digest.to_string()),
    ];
    if let Some(s) = &subject {
        headers.push(("OCI-Subject", s.digest.to_string()));
    }
    Ok(empty(StatusCode::CREATED, &headers))
}

fn essence(ct: &str) -> &str {
    ct.split(';').next().unwrap_or("").trim()
}

/// `DELETE /v2/<name>/manifests/<reference>`: by tag, the tag; by digest, the manifest, its
/// tags and its entry in its subject's referrers.
pub async fn delete(st: &Arc<AppState>, name: &str, reference: &str) -> Result<Response, ApiError> {
    st.require_delete()?;
    let r = parse_ref(reference, ErrorCode::ManifestUnknown)?;
    let repo = name.to_string();
    let deleted = st
        .blocking(move |b| match r {
            Ref::Tag(t) => b.link_delete(&repo, &Link::Tag, &t),
            Ref::Digest(d) => {
                let Some(mt) = b.link_get(&repo, &Link::Manifest, d.hex())? else {
                    return Ok(false);
                };
                let mt = String::from_utf8_lossy(&mt).into_owned();
                for tag in b.link_list(&repo, &Link::Tag)? {
                    let target = b.link_get(&repo, &Link::Tag, &tag)?;
                    if target.as_deref() == Some(d.to_string().as_bytes()) {
                        b.link_delete(&repo, &Link::Tag, &tag)?;
                    }
                }
                if b.blob_size(&d)?.is_some() {
                    let mut bytes = Vec::new();
                    b.blob_open(&d, 0)?.read_to_end(&mut bytes)?;
                    if let Ok((parsed, _)) = manifest::parse(Some(&mt), &bytes) {
                        let subject = match parsed {
                            Parsed::Manifest(m) => m.subject,
                            Parsed::Index(i) => i.subject,
                            Parsed::Schema1 => None,
                        };
                        if let Some(s) = subject {
                            b.link_delete(&repo, &Link::Referrer(s.digest), d.hex())?;
                        }
                    }
                }
                b.link_delete(&repo, &Link::Manifest, d.hex())
            }
        })
        .await?;
    if !deleted {
        return Err(ApiError::new(ErrorCode::ManifestUnknown));
    }
    Ok(empty(StatusCode::ACCEPTED, &[]))
}

/// `n` and `last` of a paginated listing; `n` absent means everything.
fn pagination(req: &Request) -> Result<(Option<usize>, Option<String>), ApiError> {
    let q = query(req);
    let n = match q.get("n") {
        None => None,
        Some(v) if v.is_empty() => None,
        Some(v) => Some(v.parse::<usize>().map_err(|_| {
            ApiError::new(ErrorCode::PaginationNumberInvalid).detail(json!({ "n": v }))
        })?),
    };
    Ok((n, q.get("last").filter(|l| !l.is_empty()).cloned()))
}

/// One page of a sorted list, with the `Link` header of the next page when there is one.
fn page(
    items: Vec<String>,
    n: Option<usize>,
    last: Option<&str>,
    base: &str,
) -> (Vec<String>, Option<String>) {
    let mut rest: Vec<String> = match last {
        Some(l) => items.into_iter().filter(|i| i.as_str() > l).collect(),
        None => items,
    };
    let Some(n) = n else {
        return (rest, None);
    };
    if rest.len() <= n {
        return (rest, None);
    }
    rest.truncate(n);
    let link = rest
        .last()
        .map(|l| format!("<{base}?last={l}&n={n}>; rel=\"next\""));
    (rest, link)
}

fn json_response(body: Value, link: Option<String>) -> Response {
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(l) = link
        && let Ok(v) = HeaderValue::from_str(&l)
    {
        resp.headers_mut().insert(header::LINK, v);
    }
    resp
}

/// `GET /v2/<name>/tags/list[?n=&last=]`.
pub async fn tags_list(st: &Arc<AppState>, name: &str, req: Request) -> Result<Response, ApiError> {
    let (n, last) = pagination(&req)?;
    let repo = name.to_string();
    let tags = st
        .blocking(move |b| {
            if !b.repo_exists(&repo)? {
                return Ok(None);
            }
            b.link_list(&repo, &Link::Tag).map(Some)
        })
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NameUnknown).detail(json!({ "name": name })))?;
    let (tags, link) = page(tags, n, last.as_deref(), &format!("/v2/{name}/tags/list"));
    Ok(json_response(json!({ "name": name, "tags": tags }), link))
}

/// `GET /v2/_catalog[?n=&last=]`: the repositories the caller may pull.
pub async fn catalog(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let who = identity(&req);
    let page_args = pagination(&req);
    drop(req);
    let result = async {
        let (n, last) = page_args?;
        let repos = st.blocking(|b| b.repo_list()).await?;
        let repos: Vec<String> = repos
            .into_iter()
            .filter(|r| st.auth.can(&who, r, Action::Pull))
            .collect();
        let (repos, link) = page(repos, n, last.as_deref(), "/v2/_catalog");
        Ok::<_, ApiError>(json_response(json!({ "repositories": repos }), link))
    }
    .await;
    result.unwrap_or_else(|e| e.into_response())
}

/// `GET /v2/<name>/referrers/<digest>[?artifactType=]`: an OCI index of the manifests whose
/// `subject` is `digest`.
pub async fn referrers(
    st: &Arc<AppState>,
    name: &str,
    digest: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let digest = parse_digest(digest)?;
    let filter = query(&req).get("artifactType").cloned();
    let repo = name.to_string();
    let found = st
        .blocking(move |b| {
            if !b.repo_exists(&repo)? {
                return Ok(None);
            }
            let link = Link::Referrer(digest);
            let mut out = Vec::new();
            for key in b.link_list(&repo, &link)? {
                if let Some(v) = b.link_get(&repo, &link, &key)?
                    && let Ok(d) = serde_json::from_slice::<Value>(&v)
                {
                    out.push(d);
                }
            }
            Ok(Some(out))
        })
        .await?;
    let Some(mut descriptors) = found else {
        return Err(ApiError::new(ErrorCode::NameUnknown).detail(json!({ "name": name })));
    };
    if let Some(f) = &filter {
        descriptors.retain(|d| d["artifactType"].as_str() == Some(f.as_str()));
    }
    let body = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": descriptors,
    });
    let mut resp = json_response(body, None);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_type::OCI_INDEX),
    );
    if filter.is_some() {
        resp.headers_mut().insert(
            "OCI-Filters-Applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_links() {
        let items: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(page(items.clone(), None, None, "/x").0.len(), 4);
        let (p, l) = page(items.clone(), Some(2), None, "/x");
        assert_eq!(p, ["a", "b"]);
        assert_eq!(l.as_deref(), Some("</x?last=b&n=2>; rel=\"next\""));
        let (p, l) = page(items.clone(), Some(2), Some("b"), "/x");
        assert_eq!(p, ["c", "d"]);
        assert_eq!(l, None);
        let (p, l) = page(items, Some(0), None, "/x");
        assert!(p.is_empty());
        assert_eq!(l, None);
    }
}
