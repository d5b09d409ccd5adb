//! Blob routes: `GET`/`HEAD` (with `Range`), `DELETE`, and uploads — `POST` (session,
//! monolithic `?digest=`, cross-repository `?mount=&from=`), `PATCH` chunks, `PUT ?digest=`,
//! status `GET` and `DELETE` cancel.
//!
//! Bodies stream both ways through a bounded channel to a blocking task that does the file I/O
//! (and the hashing, for uploads): no blob is ever held in memory.

use crate::error::ApiError;
use crate::state::{AppState, Session, empty, parse_digest, query, storage_error};
use crate::storage::{Backend, Link};
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use oci_model::{Digest, ErrorCode, Sha256Writer};
use std::io::{self, Read};
use std::sync::Arc;

/// Size of the chunks a blob is read and sent in.
const CHUNK: usize = 128 * 1024;

/// Whether `repo` may serve `digest`: pushed or mounted to it as a blob, or one of its manifests.
fn linked(b: &dyn Backend, repo: &str, digest: &Digest) -> io::Result<bool> {
    Ok(b.link_get(repo, &Link::Layer, digest.hex())?.is_some()
        || b.link_get(repo, &Link::Manifest, digest.hex())?.is_some())
}

/// A `Range: bytes=…` header against a blob of `size` bytes: `Ok(None)` serves the whole blob
/// (no header, or one this server ignores, like multiple ranges), `Err` is `416`.
fn parse_range(value: Option<&HeaderValue>, size: u64) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(spec) = value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let unsatisfiable = || {
        ApiError::new(ErrorCode::RangeInvalid).header(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
        )
    };
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let Ok(n) = suffix.parse::<u64>() else {
                return Ok(None);
            };
            if n == 0 || size == 0 {
                return Err(unsatisfiable());
            }
            (size.saturating_sub(n), size - 1)
        }
        (a, b) => {
            let Ok(start) = a.parse::<u64>() else {
                return Ok(None);
            };
            let end = if b.is_empty() {
                u64::MAX
            } else {
                match b.parse::<u64>() {
                    Ok(e) if e >= start => e,
                    _ => return Ok(None),
                }
            };
            if start >= size {
                return Err(unsatisfiable());
            }
            (start, end.min(size - 1))
        }
    };
    Ok(Some((start, end)))
}

/// A response body streaming `len` bytes from `reader`, read on the blocking pool.
fn stream_body(mut reader: Box<dyn Read + Send>, len: u64) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(2);
    tokio::task::spawn_blocking(move || {
        let mut remaining = len;
        while remaining > 0 {
            let want = remaining.min(CHUNK as u64) as usize;
            let mut buf = vec![0u8; want];
            let item = match reader.read(&mut buf) {
                Ok(0) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "blob shorter than its size",
                )),
                Ok(n) => {
                    buf.truncate(n);
                    remaining -= n as u64;
                    Ok(Bytes::from(buf))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let failed = item.is_err();
            // The client went away: stop reading.
            if tx.blocking_send(item).is_err() || failed {
                break;
            }
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// `GET`/`HEAD /v2/<name>/blobs/<digest>`.
pub async fn get(
    st: &Arc<AppState>,
    name: &str,
    digest: &str,
    range: Option<HeaderValue>,
    head: bool,
) -> Result<Response, ApiError> {
    let digest = parse_digest(digest)?;
    let (repo, d) = (name.to_string(), digest.clone());
    let size = st
        .blocking(move |b| {
            if !linked(b, &repo, &d)? {
                return Ok(None);
            }
            b.blob_size(&d)
        })
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::BlobUnknown))?;
    let range = parse_range(range.as_ref(), size)?;
    let (status, start, len) = match range {
        Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
        None => (StatusCode::OK, 0, size),
    };
    let mut headers = vec![
        ("Docker-Content-Digest", digest.to_string()),
        ("Content-Type", "application/octet-stream".to_string()),
        ("Accept-Ranges", "bytes".to_string()),
        ("ETag", format!("\"{digest}\"")),
        ("Cache-Control", "max-age=31536000".to_string()),
    ];
    if let Some((s, e)) = range {
        headers.push(("Content-Range", format!("bytes {s}-{e}/{size}")));
    }
    let mut resp = empty(status, &headers);
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if head || len == 0 {
        return Ok(resp);
    }
    let d = digest.clone();
    let reader = st.blocking(move |b| b.blob_open(&d, start)).await?;
    *resp.body_mut() = stream_body(reader, len);
    Ok(resp)
}

/// `DELETE /v2/<name>/blobs/<digest>`: unlinks the blob from the repository (its bytes go at
/// the next `gc` when nothing references them).
pub async fn delete(st: &Arc<AppState>, name: &str, digest: &str) -> Result<Response, ApiError> {
    st.require_delete()?;
    let digest = parse_digest(digest)?;
    let (repo, d) = (name.to_string(), digest.clone());
    let removed = st
        .blocking(move |b| b.link_delete(&repo, &Link::Layer, d.hex()))
        .await?;
    if !removed {
        return Err(ApiError::new(ErrorCode::BlobUnknown));
    }
    Ok(empty(
        StatusCode::ACCEPTED,
        &[("Docker-Content-Digest", digest.to_string())],
    ))
}

fn upload_location(name: &str, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

/// The `Range` header value for a session holding `size` bytes (distribution's `0-0` when empty).
fn range_value(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

fn session_response(status: StatusCode, name: &str, id: &str, size: u64) -> Response {
    empty(
        status,
        &[
            ("Location", upload_location(name, id)),
            ("Range", range_value(size)),
            ("Docker-Upload-UUID", id.to_string()),
        ],
    )
}

fn created(name: &str, digest: &Digest) -> Response {
    empty(
        StatusCode::CREATED,
        &[
            ("Location", format!("/v2/{name}/blobs/{digest}")),
            ("Docker-Content-Digest", digest.to_string()),
        ],
    )
}

async fn create_session(st: &Arc<AppState>, name: &str) -> Result<String, ApiError> {
    let id = crate::names::new_upload_id();
    let (repo, sid) = (name.to_string(), id.clone());
    st.blocking(move |b| b.upload_create(&sid, &repo)).await?;
    Ok(id)
}

/// `POST /v2/<name>/blobs/uploads/`.
pub async fn start_upload(
    st: &Arc<AppState>,
    name: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let q = query(&req);
    if let (Some(mount), Some(from)) = (q.get("mount"), q.get("from")) {
        let digest = parse_digest(mount)?;
        // A mount reads from `from`: only when the caller may pull it, else a plain session.
        // The auth middleware decided that (token grants and anonymous rights included) and
        // marks a request whose source may not be read.
        let allowed = crate::names::valid_repo(from)
            && req.extensions().get::<crate::auth::MountDenied>().is_none();
        if allowed {
            let (repo, from, d) = (name.to_string(), from.clone(), digest.clone());
            let mounted = st
                .blocking(move |b| {
                    if b.link_get(&from, &Link::Layer, d.hex())?.is_none()
                        || b.blob_size(&d)?.is_none()
                    {
                        return Ok(false);
                    }
                    b.link_put(&repo, &Link::Layer, d.hex(), b"")?;
                    Ok(true)
                })
                .await?;
            if mounted {
                return Ok(created(name, &digest));
            }
        }
    }
    if let Some(d) = q.get("digest") {
        let digest = parse_digest(d)?;
        let id = create_session(st, name).await?;
        let lock = st.session(&id);
        let mut guard = lock.lock().await;
        *guard = Some(Session {
            size: 0,
            hasher: Some(Sha256Writer::new()),
        });
        let result = async {
            write_body(st, &id, guard.as_mut().expect("set"), req.into_body()).await?;
            commit(st, name, &id, guard.as_mut().expect("set"), &digest).await
        }
        .await;
        drop(guard);
        st.forget_session(&id);
        if result.is_err() {
            let sid = id.clone();
            let _ = st.blocking(move |b| b.upload_delete(&sid)).await;
        }
        result?;
        return Ok(created(name, &digest));
    }
    let id = create_session(st, name).await?;
    Ok(session_response(StatusCode::ACCEPTED, name, &id, 0))
}

/// Checks that session `id` exists and belongs to `name`, and loads its progress.
async fn open_session(
    st: &Arc<AppState>,
    name: &str,
    id: &str,
    slot: &mut Option<Session>,
) -> Result<(), ApiError> {
    let unknown = || ApiError::new(ErrorCode::BlobUploadUnknown);
    if !crate::names::valid_upload_id(id) {
        return Err(unknown());
    }
    let sid = id.to_string();
    let found = st
        .blocking(move |b| match b.upload_info(&sid)? {
            Some(info) => Ok(Some((info, b.upload_size(&sid)?))),
            None => Ok(None),
        })
        .await?;
    let Some((info, size)) = found else {
        *slot = None;
        return Err(unknown());
    };
    if info.repo != name {
        return Err(unknown());
    }
    match slot {
        Some(s) if s.size == size => {}
        _ => {
            *slot = Some(Session {
                size,
                hasher: (size == 0).then(Sha256Writer::new),
            })
        }
    }
    Ok(())
}

/// Appends a request body to a session, streaming. On a broken body (client gone) what was
/// received stays written and counted, so the client can resume from the status `Range`.
async fn write_body(
    st: &Arc<AppState>,
    id: &str,
    session: &mut Session,
    body: Body,
) -> Result<(), ApiError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let backend = st.backend.clone();
    let (sid, offset, mut hasher) = (id.to_string(), session.size, session.hasher.take());
    let writer = tokio::task::spawn_blocking(move || {
        let mut written = 0u64;
        let mut w = match backend.upload_writer(&sid, offset) {
            Ok(w) => w,
            Err(e) => return (written, hasher, Err(e)),
        };
        while let Some(chunk) = rx.blocking_recv() {
            if let Err(e) = w.write_all(&chunk) {
                return (written, None, Err(e));
            }
            if let Some(h) = hasher.as_mut() {
                h.update(&chunk);
            }
            written += chunk.len() as u64;
        }
        match w.flush() {
            Ok(()) => (written, hasher, Ok(())),
            Err(e) => (written, None, Err(e)),
        }
    });
    let mut stream = body.into_data_stream();
    let mut body_error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(bytes) => {
                if tx.send(bytes).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                body_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let (written, hasher, io_result) = writer.await.map_err(|e| {
        ApiError::new(ErrorCode::Unknown).message(format!("upload task failed: {e}"))
    })?;
    match &io_result {
        Ok(()) => {
            session.size = offset + written;
            session.hasher = hasher;
        }
        Err(_) => {
            // What reached the file is unknown: ask the file, hash it again at commit.
            let sid = id.to_string();
            session.size = st
                .blocking(move |b| b.upload_size(&sid))
                .await
                .unwrap_or(offset);
            session.hasher = None;
        }
    }
    io_result.map_err(storage_error)?;
    if let Some(e) = body_error {
        return Err(
            ApiError::new(ErrorCode::BlobUploadInvalid).message(format!("reading body: {e}"))
        );
    }
    Ok(())
}

/// Verifies the session's bytes against `digest` and makes them the blob, linked to `name`.
/// A mismatch discards the session (`DIGEST_INVALID`, nothing stored).
async fn commit(
    st: &Arc<AppState>,
    name: &str,
    id: &str,
    session: &mut Session,
    digest: &Digest,
) -> Result<(), ApiError> {
    let actual = match &session.hasher {
        Some(h) if h.len() == session.size => h.digest(),
        _ => {
            let sid = id.to_string();
            st.blocking(move |b| {
                let mut h = Sha256Writer::new();
                io::copy(
                    &mut io::BufReader::with_capacity(CHUNK, b.upload_reader(&sid)?),
                    &mut h,
                )?;
                Ok(h.digest())
            })
            .await?
        }
    };
    if &actual != digest {
        let sid = id.to_string();
        st.blocking(move |b| b.upload_delete(&sid)).await?;
        return Err(
            ApiError::new(ErrorCode::DigestInvalid).detail(serde_json::json!({
                "expected": digest.to_string(),
                "actual": actual.to_string(),
            })),
        );
    }
    let (sid, repo, d, size) = (
        id.to_string(),
        name.to_string(),
        digest.clone(),
        session.size,
    );
    st.blocking(move |b| {
        if b.blob_size(&d)? == Some(size) {
            b.upload_delete(&sid)?;
        } else {
            b.upload_commit(&sid, &d)?;
        }
        b.link_put(&repo, &Link::Layer, d.hex(), b"")
    })
    .await
}

/// `GET /v2/<name>/blobs/uploads/<id>`: `204` with the `Range` received so far.
pub async fn upload_status(st: &Arc<AppState>, name: &str, id: &str) -> Result<Response, ApiError> {
    let lock = st.session(id);
    let mut guard = lock.lock().await;
    let result = open_session(st, name, id, &mut guard).await;
    let size = guard.as_ref().map_or(0, |s| s.size);
    if result.is_err() && guard.is_none() {
        drop(guard);
        st.forget_session(id);
    }
    result?;
    Ok(session_response(StatusCode::NO_CONTENT, name, id, size))
}

/// `start-end` (optionally `bytes ` first and `/total` after) of a `Content-Range` header.
fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim();
    let v = v.strip_prefix("bytes ").unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

/// `PATCH /v2/<name>/blobs/uploads/<id>`: one chunk (with `Content-Range`) or a stream.
pub async fn patch_upload(
    st: &Arc<AppState>,
    name: &str,
    id: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let lock = st.session(id);
    let mut guard = lock.lock().await;
    open_session(st, name, id, &mut guard).await?;
    let session = guard.as_mut().expect("opened");
    if let Some(v) = req.headers().get(header::CONTENT_RANGE) {
        let range = v.to_str().ok().and_then(parse_content_range);
        match range {
            Some((start, _)) if start == session.size => {}
            _ => {
                let hv = |v: String| HeaderValue::from_str(&v).expect("ascii");
                return Err(ApiError::new(ErrorCode::RangeInvalid)
                    .header(header::LOCATION, hv(upload_location(name, id)))
                    .header(header::RANGE, hv(range_value(session.size)))
                    .header(
                        header::HeaderName::from_static("docker-upload-uuid"),
                        hv(id.to_string()),
                    ));
            }
        }
    }
    write_body(st, id, session, req.into_body()).await?;
    Ok(session_response(
        StatusCode::ACCEPTED,
        name,
        id,
        session.size,
    ))
}

/// `PUT /v2/<name>/blobs/uploads/<id>?digest=…` with an optional last chunk.
pub async fn finish_upload(
    st: &Arc<AppState>,
    name: &str,
    id: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let q = query(&req);
    let lock = st.session(id);
    let mut guard = lock.lock().await;
    open_session(st, name, id, &mut guard).await?;
    let Some(d) = q.get("digest") else {
        return Err(ApiError::new(ErrorCode::DigestInvalid).message("digest missing"));
    };
    let digest = parse_digest(d)?;
    let session = guard.as_mut().expect("opened");
    write_body(st, id, session, req.into_body()).await?;
    let result = commit(st, name, id, session, &digest).await;
    if result.is_ok()
        || result
            .as_ref()
            .is_err_and(|e| e.code == ErrorCode::DigestInvalid)
    {
        *guard = None;
        drop(guard);
        st.forget_session(id);
    }
    result?;
    Ok(created(name, &digest))
}

/// `DELETE /v2/<name>/blobs/uploads/<id>`.
pub async fn cancel_upload(st: &Arc<AppState>, name: &str, id: &str) -> Result<Response, ApiError> {
    let lock = st.session(id);
    let mut guard = lock.lock().await;
    open_session(st, name, id, &mut guard).await?;
    let sid = id.to_string();
    st.blocking(move |b| b.upload_delete(&sid)).await?;
    *guard = None;
    drop(guard);
    st.forget_session(id);
    Ok(empty(StatusCode::NO_CONTENT, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, size: u64) -> Result<Option<(u64, u64)>, StatusCode> {
        parse_range(Some(&HeaderValue::from_str(v).unwrap()), size).map_err(|e| e.http_status())
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(range("bytes=90-200", 100), Ok(Some((90, 99))));
        assert_eq!(range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(range("bytes=-1000", 100), Ok(Some((0, 99))));
        assert_eq!(
            range("bytes=100-", 100),
            Err(StatusCode::RANGE_NOT_SATISFIABLE)
        );
        assert_eq!(range("bytes=0-", 0), Err(StatusCode::RANGE_NOT_SATISFIABLE));
        assert_eq!(range("bytes=5-1", 100), Ok(None));
        assert_eq!(range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(range("items=0-1", 100), Ok(None));
    }

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("0-99"), Some((0, 99)));
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(parse_content_range("9-1"), None);
        assert_eq!(parse_content_range("x"), None);
    }
}
