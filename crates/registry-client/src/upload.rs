//! Registry client, push side: does a blob exist ([`RegistryClient::head_blob`]), blob uploads
//! (monolithic or chunked, streamed from a file — never a whole blob in memory), cross-repository
//! mounts and manifest `PUT`s (OCI distribution spec, "Push").
//!
//! * **Scopes.** Every request here asks for `repository:<repo>:pull,push`; a mount also asks for
//!   `repository:<from>:pull`. A token server grants what the credentials allow (an anonymous
//!   token may carry `pull` only, and the registry then answers 401 `UNAUTHORIZED`).
//! * **Uploads.** [`UploadMode::Auto`] sends a blob of at most [`SINGLE_REQUEST_MAX`] bytes in one
//!   `POST …/blobs/uploads/?digest=` (falling back to `PUT` when the registry answers 202 — CNCF
//!   distribution 2.x does), blobs up to [`CHUNKED_THRESHOLD`] as `POST` → one streaming
//!   `PUT <location>?digest=`, larger ones as `POST` → `PATCH` chunks (`Content-Range:
//!   <start>-<end>`) → `PUT <location>?digest=`. Every answer's `Location` is followed (it may
//!   change per chunk); a `Location` on another host is sent no credentials.
//! * **Retries.** Bodiless requests (`HEAD`, the session `POST`, status `GET`) and manifest `PUT`s
//!   are retried like the pull side's requests. A request that sends blob bytes to a session is
//!   not retried as such: the whole blob upload is, up to [`ClientOptions::max_attempts`] times
//!   with the same backoff, on a fresh session — except a chunked upload, which first asks the
//!   registry how much of the session it holds (`GET <location>`, `Range: 0-<end>`) and goes on
//!   from there. [`UploadProgress::Retrying`] tells the caller (Docker prints `Retrying in N
//!   seconds`).
//! * **Verification.** The registry checks the digest on the final `PUT`; when it answers with a
//!   `Docker-Content-Digest` that differs from the one pushed, the upload fails as
//!   [`RegistryErrorKind::Corrupt`].
//!
//! [`ClientOptions::max_attempts`]: super::ClientOptions::max_attempts

use super::{
    MAX_ERROR_BODY, MAX_MANIFEST_SIZE, RegistryClient, RegistryError, RegistryErrorKind, Request,
    check_path_parts, content_length, pull_scope, transport,
};
use bytes::Bytes;
use oci_model::{Digest, ErrorCode};
use reqwest::Method;
use reqwest::header::{self, HeaderName};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Blobs up to this size go in a single `POST ?digest=` under [`UploadMode::Auto`].
pub const SINGLE_REQUEST_MAX: u64 = 64 << 10;
/// Blobs larger than this are sent in chunks under [`UploadMode::Auto`].
pub const CHUNKED_THRESHOLD: u64 = 256 << 20;
/// Chunk size of [`UploadMode::Auto`]'s chunked uploads.
pub const DEFAULT_CHUNK_SIZE: u64 = 64 << 20;
/// File reads feeding a request body.
const READ_CHUNK: usize = 512 << 10;

fn digest_header() -> HeaderName {
    HeaderName::from_static("docker-content-digest")
}

/// `repository:<repo>:pull,push`.
pub fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

/// How a blob's bytes go to the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UploadMode {
    /// By size: one `POST ?digest=` up to [`SINGLE_REQUEST_MAX`], `POST` → `PUT` up to
    /// [`CHUNKED_THRESHOLD`], chunks of [`DEFAULT_CHUNK_SIZE`] above.
    #[default]
    Auto,
    /// `POST` (session) → one `PUT <location>?digest=` carrying the whole blob.
    Monolithic,
    /// `POST` (session) → `PATCH` chunks of this many bytes → `PUT <location>?digest=`.
    Chunked(u64),
}

/// Options of [`RegistryClient::upload_blob_file`].
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    pub mode: UploadMode,
}

/// What an upload reports while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadProgress {
    /// Bytes of the blob handed to the connection so far (it starts again after a retry).
    Sent(u64),
    /// The upload failed with a temporary error and starts again after `delay`.
    Retrying { attempt: u32, delay: Duration },
}

/// Receives [`UploadProgress`]; called from the upload task.
pub type UploadProgressSink = Arc<dyn Fn(UploadProgress) + Send + Sync>;

/// An open upload session (`POST …/blobs/uploads/` answered 202).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSession {
    /// Absolute URL of the session: the last `Location` the registry sent.
    pub location: String,
    /// Bytes the registry holds in the session (from its `Range: 0-<end>` header).
    pub offset: u64,
}

/// The answer to a cross-repository mount request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountOutcome {
    /// 201: the blob is now in the target repository.
    Mounted,
    /// 202: the registry did not mount (unknown blob, no access to the source repository, or no
    /// mount support) and opened an upload session instead, which the caller may use for
    /// [`RegistryClient::upload_blob_file`] / [`RegistryClient::upload_blob_bytes`] or drop
    /// (registries purge abandoned sessions).
    NotMounted(UploadSession),
}

/// A request body that can be made again for every attempt.
#[derive(Clone)]
pub(crate) enum BodySource {
    Bytes(Bytes),
    /// `len` bytes of the file at `path` from `offset`, read as the request goes.
    /// `progress`: reported as `base + bytes read so far`.
    File {
        path: Arc<PathBuf>,
        offset: u64,
        len: u64,
        progress: Option<(UploadProgressSink, u64)>,
    },
}

impl BodySource {
    pub(crate) fn len(&self) -> u64 {
        match self {
            BodySource::Bytes(b) => b.len() as u64,
            BodySource::File { len, .. } => *len,
        }
    }

    pub(crate) fn to_body(&self) -> reqwest::Body {
        match self {
            BodySource::Bytes(b) => reqwest::Body::from(b.clone()),
            BodySource::File {
                path,
                offset,
                len,
                progress,
            } => reqwest::Body::wrap_stream(file_stream(
                path.clone(),
                *offset,
                *len,
                progress.clone(),
            )),
        }
    }
}

struct FileRead {
    file: Option<tokio::fs::File>,
    path: Arc<PathBuf>,
    offset: u64,
    remaining: u64,
    read: u64,
    progress: Option<(UploadProgressSink, u64)>,
}

/// Streams `len` bytes of `path` from `offset` in [`READ_CHUNK`] pieces; a file shorter than
/// that is an error (the request then fails rather than sending a short body).
fn file_stream(
    path: Arc<PathBuf>,
    offset: u64,
    len: u64,
    progress: Option<(UploadProgressSink, u64)>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let state = FileRead {
        file: None,
        path,
        offset,
        remaining: len,
        read: 0,
        progress,
    };
    futures_util::stream::try_unfold(state, |mut st| async move {
        if st.remaining == 0 {
            return Ok(None);
        }
        if st.file.is_none() {
            let mut f = tokio::fs::File::open(st.path.as_path()).await?;
            if st.offset > 0 {
                f.seek(std::io::SeekFrom::Start(st.offset)).await?;
            }
            st.file = Some(f);
        }
        let f = st.file.as_mut().expect("opened above");
        let want = st.remaining.min(READ_CHUNK as u64) as usize;
        let mut buf = vec![0u8; want];
        let mut filled = 0;
        while filled < want {
            let n = f.read(&mut buf[filled..]).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{} ended before the blob's size", st.path.display()),
                ));
            }
            filled += n;
        }
        st.remaining -= want as u64;
        st.read += want as u64;
        if let Some((sink, base)) = &st.progress {
            sink(UploadProgress::Sent(base + st.read));
        }
        Ok(Some((Bytes::from(buf), st)))
    })
}

/// `Range: 0-<end>` → bytes held (`end + 1`). distribution sends `0-0` for an empty session
/// (and for a one-byte one): read as 0, a wrong guess costs a 416 and a fresh session.
fn parse_upload_range(v: Option<&str>) -> u64 {
    let Some(v) = v else { return 0 };
    let v = v.trim().trim_start_matches("bytes=").trim();
    match v.split_once('-') {
        Some((_, end)) => match end.trim().parse::<u64>() {
            Ok(0) | Err(_) => 0,
            Ok(end) => end + 1,
        },
        None => 0,
    }
}

/// A `Location` resolved against the URL that answered.
fn resolve_location(base: &str, location: &str) -> Result<String, RegistryError> {
    let base_url =
        url::Url::parse(base).map_err(|e| RegistryError::protocol(base, e.to_string()))?;
    let joined = base_url.join(location).map_err(|e| {
        RegistryError::protocol(base, format!("invalid upload Location {location:?}: {e}"))
    })?;
    if !matches!(joined.scheme(), "http" | "https") {
        return Err(RegistryError::protocol(
            base,
            format!("invalid upload Location {location:?}"),
        ));
    }
    Ok(joined.to_string())
}

fn with_query(url: &str, pairs: &[(&str, &str)]) -> Result<String, RegistryError> {
    let mut u = url::Url::parse(url).map_err(|e| RegistryError::protocol(url, e.to_string()))?;
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    Ok(u.to_string())
}

fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

impl RegistryClient {
    /// `GET /v2/` without credentials, as Docker does before a push: any HTTP answer (200, or
    /// 401 — whose challenge is then remembered, so the next requests authenticate up front)
    /// means the registry is there; a connection failure is the error Docker shows
    /// (`Get "http://host/v2/": dial tcp …: connect: connection refused`).
    pub async fn ping(&self, domain: &str) -> Result<(), RegistryError> {
        let ep = self.endpoint(domain);
        let req = Request {
            method: Method::GET,
            url: ep.url(""),
            ..Default::default()
        };
        let ans = self.execute_unauthenticated(&req, None).await?;
        if ans.status == reqwest::StatusCode::UNAUTHORIZED
            && let Some(ch) = ans
                .header(header::WWW_AUTHENTICATE)
                .and_then(super::auth::parse_challenge)
        {
            self.inner.auth.set_challenge(&ep.host, ch);
        }
        Ok(())
    }

    /// Whether `digest` exists in `repo`: `HEAD /v2/<repo>/blobs/<digest>`. `Some(size)` (the
    /// registry's `Content-Length`, 0 if it sent none) when it does, `None` on 404. Other answers
    /// are errors (401 without push/pull rights, 5xx after retries).
    pub async fn head_blob(
        &self,
        domain: &str,
        repo: &str,
        digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        let ep = self.endpoint(domain);
        let url = ep.url(&format!("{repo}/blobs/{digest}"));
        check_path_parts(&url, repo, None)?;
        let req = Request {
            method: Method::HEAD,
            url,
            scope: Some(push_scope(repo)),
            ..Default::default()
        };
        let ans = self.execute(&ep, &req, Some(0)).await?;
        match ans.status.as_u16() {
            200..=299 => Ok(Some(content_length(&ans.headers).unwrap_or(0))),
            404 => Ok(None),
            _ => Err(ans.error(Some(ErrorCode::BlobUnknown))),
        }
    }

    /// Opens an upload session: `POST /v2/<repo>/blobs/uploads/` → 202 with `Location`.
    pub async fn start_upload(
        &self,
        domain: &str,
        repo: &str,
    ) -> Result<UploadSession, RegistryError> {
        let ep = self.endpoint(domain);
        let url = ep.url(&format!("{repo}/blobs/uploads/"));
        check_path_parts(&url, repo, None)?;
        let req = Request {
            method: Method::POST,
            url,
            scope: Some(push_scope(repo)),
            ..Default::default()
        };
        let ans = self.execute(&ep, &req, Some(MAX_ERROR_BODY)).await?;
        if ans.status.as_u16() != 202 {
            return Err(ans.error(Some(ErrorCode::NameUnknown)));
        }
        session_from(&ans)
    }

    /// Asks the registry to mount `digest` from repository `from` (same registry) into `repo`:
    /// `POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<from>`, with a token for
    /// `repository:<repo>:pull,push` and `repository:<from>:pull`. See [`MountOutcome`].
    pub async fn mount_blob(
        &self,
        domain: &str,
        repo: &str,
        digest: &Digest,
        from: &str,
    ) -> Result<MountOutcome, RegistryError> {
        let ep = self.endpoint(domain);
        let base = ep.url(&format!("{repo}/blobs/uploads/"));
        check_path_parts(&base, repo, None)?;
        check_path_parts(&base, from, None)?;
        let url = with_query(&base, &[("mount", &digest.to_string()), ("from", from)])?;
        let scope = if from == repo {
            push_scope(repo)
        } else {
            format!("{} {}", push_scope(repo), pull_scope(from))
        };
        let req = Request {
            method: Method::POST,
            url,
            scope: Some(scope),
            ..Default::default()
        };
        let ans = self.execute(&ep, &req, Some(MAX_ERROR_BODY)).await?;
        match ans.status.as_u16() {
            201 => {
                check_digest_header(&ans, digest)?;
                Ok(MountOutcome::Mounted)
            }
            202 => Ok(MountOutcome::NotMounted(session_from(&ans)?)),
            _ => Err(ans.error(Some(ErrorCode::BlobUnknown))),
        }
    }

    /// Where a session stands: `GET <location>` → 204 with `Range` and a (possibly new)
    /// `Location`.
    pub async fn upload_status(
        &self,
        domain: &str,
        repo: &str,
        session: &UploadSession,
    ) -> Result<UploadSession, RegistryError> {
        let ans = self
            .session_request(domain, repo, Method::GET, &session.location, None, None)
            .await?;
        if !ans.status.is_success() {
            return Err(ans.error(Some(ErrorCode::BlobUploadUnknown)));
        }
        session_from(&ans)
    }

    /// Cancels a session: `DELETE <location>`. Best effort for callers; registries also purge
    /// abandoned sessions.
    pub async fn cancel_upload(
        &self,
        domain: &str,
        repo: &str,
        session: &UploadSession,
    ) -> Result<(), RegistryError> {
        let ans = self
            .session_request(domain, repo, Method::DELETE, &session.location, None, None)
            .await?;
        if ans.status.is_success() || ans.status.as_u16() == 404 {
            Ok(())
        } else {
            Err(ans.error(Some(ErrorCode::BlobUploadUnknown)))
        }
    }

    /// Uploads a small blob held in memory (an image config, a manifest pushed as a blob): one
    /// `POST ?digest=` with the bytes, or — when the registry answers that with a session (202),
    /// or `session` is given — `PUT <location>?digest=`. The digest is checked before sending.
    /// Retried whole on temporary failures.
    pub async fn upload_blob_bytes(
        &self,
        domain: &str,
        repo: &str,
        digest: &Digest,
        bytes: Bytes,
        session: Option<UploadSession>,
    ) -> Result<(), RegistryError> {
        let url_hint = self.endpoint(domain).url(&format!("{repo}/blobs/uploads/"));
        check_path_parts(&url_hint, repo, None)?;
        let got = Digest::of(&bytes);
        if &got != digest {
            return Err(RegistryError::corrupt(
                &url_hint,
                format!("blob to upload hashes to {got}, not {digest}"),
            ));
        }
        let body = BodySource::Bytes(bytes);
        let mut session = session;
        self.with_upload_retries(None, move |_attempt| {
            let body = body.clone();
            let given = session.take();
            async move {
                match given {
                    Some(s) => self.put_finish(domain, repo, digest, &s, Some(body)).await,
                    None => self.single_post(domain, repo, digest, body).await,
                }
            }
        })
        .await
    }

    /// Uploads `size` bytes of the file at `path` (a content-store blob) as `digest`, streaming
    /// it (never the whole blob in memory), by `opts.mode` (see [`UploadMode`]). `session`, when
    /// given (a mount's 202), is used for the first attempt. `progress` gets
    /// [`UploadProgress::Sent`] as bytes go out and [`UploadProgress::Retrying`] before a retry.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_blob_file(
        &self,
        domain: &str,
        repo: &str,
        digest: &Digest,
        size: u64,
        path: &Path,
        opts: &UploadOptions,
        session: Option<UploadSession>,
        progress: Option<UploadProgressSink>,
    ) -> Result<(), RegistryError> {
        let url_hint = self.endpoint(domain).url(&format!("{repo}/blobs/uploads/"));
        check_path_parts(&url_hint, repo, None)?;
        let path = Arc::new(path.to_path_buf());
        let mode = match opts.mode {
            UploadMode::Auto if size <= SINGLE_REQUEST_MAX && session.is_none() => None,
            UploadMode::Auto if size <= CHUNKED_THRESHOLD => Some(UploadMode::Monolithic),
            UploadMode::Auto => Some(UploadMode::Chunked(DEFAULT_CHUNK_SIZE)),
            UploadMode::Chunked(0) => Some(UploadMode::Chunked(DEFAULT_CHUNK_SIZE)),
            m => Some(m),
        };
        let file_body = |offset: u64, len: u64| BodySource::File {
            path: path.clone(),
            offset,
            len,
            progress: progress.clone().map(|p| (p, offset)),
        };
        // A chunked upload keeps its session across attempts (and resumes it).
        let current = std::sync::Mutex::new(session);
        let (file_body, current) = (&file_body, &current);
        self.with_upload_retries(progress.as_ref(), move |attempt| async move {
            let given = current.lock().unwrap().take();
            match mode {
                None => {
                    self.single_post(domain, repo, digest, file_body(0, size))
                        .await
                }
                Some(UploadMode::Chunked(chunk)) => {
                    let resumed = match given {
                        // After a failure: ask the registry what it holds.
                        Some(s) if attempt > 1 => {
                            match self.upload_status(domain, repo, &s).await {
                                Ok(s) if s.offset > 0 && s.offset <= size => Some(s),
                                _ => None,
                            }
                        }
                        other => other,
                    };
                    let mut s = match resumed {
                        Some(s) => s,
                        None => self.start_upload(domain, repo).await?,
                    };
                    while s.offset < size {
                        let end = (s.offset + chunk).min(size);
                        let body = file_body(s.offset, end - s.offset);
                        match self.patch_chunk(domain, repo, &s, body).await {
                            Ok(next) => s = next,
                            Err(e) => {
                                // Keep the session for a resume.
                                if e.is_temporary() {
                                    *current.lock().unwrap() = Some(s);
                                }
                                return Err(e);
                            }
                        }
                    }
                    self.put_finish(domain, repo, digest, &s, None).await
                }
                Some(_) => {
                    let s = match given {
                        Some(s) if attempt == 1 => s,
                        _ => self.start_upload(domain, repo).await?,
                    };
                    self.put_finish(domain, repo, digest, &s, Some(file_body(0, size)))
                        .await
                }
            }
        })
        .await
    }

    /// Puts a manifest (or index) as `reference` (a tag or its digest): `PUT
    /// /v2/<repo>/manifests/<reference>` with `Content-Type: <media_type>` and the exact bytes.
    /// Returns the manifest's digest (sha256 of `bytes`). The blobs and manifests it refers to
    /// must already be in `repo` (registries refuse it otherwise, `MANIFEST_BLOB_UNKNOWN`).
    /// Retried on temporary failures (the `PUT` is idempotent).
    pub async fn put_manifest(
        &self,
        domain: &str,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<Digest, RegistryError> {
        let ep = self.endpoint(domain);
        let url = ep.url(&format!("{repo}/manifests/{reference}"));
        check_path_parts(&url, repo, Some(reference))?;
        let digest = Digest::of(&bytes);
        if let Ok(want) = Digest::parse(reference)
            && want != digest
        {
            return Err(RegistryError::corrupt(
                &url,
                format!("manifest hashes to {digest}, not to the digest {want} it is pushed as"),
            ));
        }
        if bytes.len() as u64 > MAX_MANIFEST_SIZE {
            return Err(RegistryError::protocol(
                &url,
                format!(
                    "manifest is {} bytes, more than the {MAX_MANIFEST_SIZE} registries accept",
                    bytes.len()
                ),
            ));
        }
        let req = Request {
            method: Method::PUT,
            url,
            scope: Some(push_scope(repo)),
            content_type: Some(media_type),
            body: Some(BodySource::Bytes(bytes)),
            ..Default::default()
        };
        let ans = self.execute(&ep, &req, Some(MAX_ERROR_BODY)).await?;
        if !ans.status.is_success() {
            return Err(ans.error(Some(ErrorCode::NameUnknown)));
        }
        check_digest_header(&ans, &digest)?;
        Ok(digest)
    }

    /// Runs `op` (one whole upload attempt) up to `max_attempts` times while it fails with a
    /// temporary error, with the client's backoff between attempts.
    async fn with_upload_retries<F, Fut>(
        &self,
        progress: Option<&UploadProgressSink>,
        mut op: F,
    ) -> Result<(), RegistryError>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = Result<(), RegistryError>>,
    {
        let attempts = self.inner.opts.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match op(attempt).await {
                Err(e) if e.is_temporary() && attempt < e.attempts_allowed(attempts) => {
                    let delay = transport::backoff(self.inner.retry_base, attempt);
                    if let Some(p) = progress {
                        p(UploadProgress::Retrying { attempt, delay });
                    }
                    tokio::time::sleep(delay).await;
                }
                other => return other,
            }
        }
    }

    /// `POST /v2/<repo>/blobs/uploads/?digest=` with the whole body; a 202 (the registry opened
    /// a session instead, ignoring the body) is followed by `PUT <location>?digest=`.
    async fn single_post(
        &self,
        domain: &str,
        repo: &str,
        digest: &Digest,
        body: BodySource,
    ) -> Result<(), RegistryError> {
        let ep = self.endpoint(domain);
        let base = ep.url(&format!("{repo}/blobs/uploads/"));
        let url = with_query(&base, &[("digest", &digest.to_string())])?;
        let req = Request {
            method: Method::POST,
            url,
            scope: Some(push_scope(repo)),
            content_type: Some("application/octet-stream"),
            body: Some(body.clone()),
            no_retry: true,
            ..Default::default()
        };
        let ans = self.execute(&ep, &req, Some(MAX_ERROR_BODY)).await?;
        match ans.status.as_u16() {
            201 => check_digest_header(&ans, digest),
            202 => {
                let s = session_from(&ans)?;
                self.put_finish(domain, repo, digest, &s, Some(body)).await
            }
            _ => Err(ans.error(Some(ErrorCode::NameUnknown))),
        }
    }

    /// `PATCH <location>` with one chunk; returns the session as the registry now sees it.
    async fn patch_chunk(
        &self,
        domain: &str,
        repo: &str,
        s: &UploadSession,
        body: BodySource,
    ) -> Result<UploadSession, RegistryError> {
        let len = body.len();
        let range = format!("{}-{}", s.offset, s.offset + len - 1);
        let ans = self
            .session_request(
                domain,
                repo,
                Method::PATCH,
                &s.location,
                Some(body),
                Some(range),
            )
            .await?;
        if ans.status.as_u16() != 202 {
            return Err(ans.error(Some(ErrorCode::BlobUploadUnknown)));
        }
        let mut next = session_from(&ans)?;
        let expected = s.offset + len;
        if next.offset != expected {
            if ans.headers.contains_key(header::RANGE) {
                return Err(RegistryError::protocol(
                    &ans.url,
                    format!(
                        "registry holds {} bytes of the upload after a chunk ending at {expected}",
                        next.offset
                    ),
                ));
            }
            // No Range header: trust our own count.
            next.offset = expected;
        }
        Ok(next)
    }

    /// `PUT <location>?digest=` (with the rest of the blob, or none) → 201.
    async fn put_finish(
        &self,
        domain: &str,
        repo: &str,
        digest: &Digest,
        s: &UploadSession,
        body: Option<BodySource>,
    ) -> Result<(), RegistryError> {
        let url = with_query(&s.location, &[("digest", &digest.to_string())])?;
        let resent = body.is_none();
        let ans = self
            .session_request(domain, repo, Method::PUT, &url, body, None)
            .await?;
        if !ans.status.is_success() {
            let err = ans.error(Some(ErrorCode::BlobUploadUnknown));
            // A bodiless PUT is retried; when an earlier try went through but its answer was
            // lost, the session is gone and the blob is there.
            if resent
                && ans.status.as_u16() == 404
                && matches!(self.head_blob(domain, repo, digest).await, Ok(Some(_)))
            {
                return Ok(());
            }
            return Err(err);
        }
        check_digest_header(&ans, digest)
    }

    /// A request to a session URL. Requests with a body are not retried here (see the module
    /// notes); a URL on another host than the registry's goes without credentials.
    async fn session_request(
        &self,
        domain: &str,
        repo: &str,
        method: Method,
        url: &str,
        body: Option<BodySource>,
        content_range: Option<String>,
    ) -> Result<super::Answer, RegistryError> {
        let ep = self.endpoint(domain);
        let own = same_origin(url, &ep.url(""));
        let has_body = body.is_some();
        let req = Request {
            method,
            url: url.to_string(),
            scope: Some(push_scope(repo)),
            content_type: has_body.then_some("application/octet-stream"),
            content_range,
            body,
            no_retry: has_body,
            anonymous: !own,
            ..Default::default()
        };
        self.execute(&ep, &req, Some(MAX_ERROR_BODY)).await
    }
}

/// The session an answer describes: its `Location` (required) and `Range`.
fn session_from(ans: &super::Answer) -> Result<UploadSession, RegistryError> {
    let loc = ans.header(header::LOCATION).ok_or_else(|| {
        RegistryError::protocol(
            &ans.url,
            format!("upload answer {} has no Location header", ans.status),
        )
    })?;
    Ok(UploadSession {
        location: resolve_location(&ans.url, loc)?,
        offset: parse_upload_range(ans.header(header::RANGE)),
    })
}

/// A `Docker-Content-Digest` that names another digest than the one pushed is corruption.
fn check_digest_header(ans: &super::Answer, digest: &Digest) -> Result<(), RegistryError> {
    if let Some(got) = ans.header(digest_header()).map(str::trim)
        && !got.is_empty()
        && got != digest.to_string()
    {
        return Err(RegistryError::new(
            RegistryErrorKind::Corrupt,
            &ans.url,
            format!("registry stored {got} for the blob pushed as {digest}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_range() {
        assert_eq!(parse_upload_range(None), 0);
        assert_eq!(parse_upload_range(Some("0-0")), 0);
        assert_eq!(parse_upload_range(Some("0-99")), 100);
        assert_eq!(parse_upload_range(Some("bytes=0-9")), 10);
        assert_eq!(parse_upload_range(Some("junk")), 0);
    }

    #[test]
    fn locations() {
        let base = "http://127.0.0.1:5000/v2/a/blobs/uploads/";
        assert_eq!(
            resolve_location(base, "/v2/a/blobs/uploads/u1?_state=x").unwrap(),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/u1?_state=x"
        );
        assert_eq!(
            resolve_location(base, "https://other.example/up/1").unwrap(),
            "https://other.example/up/1"
        );
        assert!(resolve_location(base, "file:///etc/passwd").is_err());
        let u = with_query(
            "http://h/v2/a/blobs/uploads/u1?_state=x",
            &[("digest", "sha256:00")],
        )
        .unwrap();
        assert_eq!(
            u,
            "http://h/v2/a/blobs/uploads/u1?_state=x&digest=sha256%3A00"
        );
        assert!(same_origin("http://h:80/a", "http://h/b"));
        assert!(!same_origin("http://h:81/a", "http://h/b"));
        assert!(!same_origin("https://h/a", "http://h/b"));
    }

    #[test]
    fn scopes() {
        assert_eq!(push_scope("a/b"), "repository:a/b:pull,push");
    }
}
