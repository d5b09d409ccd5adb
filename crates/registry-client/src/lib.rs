//! Registry client: OCI distribution / Docker Registry v2, pull side here, push side in [`upload`].
//!
//! * Hosts: `docker.io` → `registry-1.docker.io`; plain HTTP only for `localhost`, 127.0.0.0/8,
//!   `::1` and [`ClientOptions::insecure_registries`], HTTPS (rustls + ring, system roots) elsewhere.
//! * Auth: every request goes out anonymously until the registry answers 401; its
//!   `WWW-Authenticate` challenge is remembered per host, so later requests authenticate up front.
//!   Bearer tokens are cached per (host, scope) for their `expires_in` (≥ 60 s). Credentials come
//!   from Docker's `config.json` and credential helpers ([`docker_config`]).
//! * Retries: connection failures, timeouts, 408, 429 and 500/502/503/504 are retried up to
//!   [`ClientOptions::max_attempts`] times with exponential backoff (`Retry-After` honoured).
//!   Other 4xx answers are returned at once.
//! * **Blob streams are not retried once they have started.** [`RegistryClient::get_blob`] retries
//!   until response headers arrive; if the body then breaks, the stream yields an error whose
//!   [`RegistryError::is_temporary`] is true, and the caller (which knows how many bytes it has
//!   kept) resumes with a new `get_blob` at that offset. Small bodies (manifests, configs, tag
//!   lists) are read inside the retry loop and so are retried whole.
//!
//! The client is cheap to clone and shared by parallel layer tasks.

pub mod auth;
pub mod docker_config;
pub mod error;
pub mod resolve;
pub mod search;
pub mod transport;
pub mod upload;

#[cfg(test)]
mod registry_tests;

pub use docker_config::{Credential, erase_credentials, store_credentials};
pub use error::{RegistryError, RegistryErrorKind};
pub use upload::{MountOutcome, UploadMode, UploadOptions, UploadProgress, UploadSession};

use auth::{AuthState, Challenge};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt, TryStreamExt};
use oci_model::{Digest, ErrorCode, media_type::MANIFEST_ACCEPT};
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use transport::Endpoint;

/// Manifests larger than this are refused (containerd uses the same bound).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;
/// Bound for a page of the tag list.
const MAX_TAGS_PAGE: u64 = 32 << 20;
/// How much of an error body is read.
const MAX_ERROR_BODY: u64 = 64 << 10;

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `host[:port]` (or bare host, for every port) reached over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Where `config.json` lives; default `$DOCKER_CONFIG` or `~/.docker`.
    pub docker_config_dir: Option<PathBuf>,
    pub user_agent: String,
    /// Attempts per request, including the first (default 5).
    pub max_attempts: u32,
    /// First retry delay, doubling per retry (default 500 ms). `STRATA_RETRY_BASE_MS` overrides it.
    pub retry_base: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_registries: Vec::new(),
            docker_config_dir: None,
            user_agent: format!("strata/{}", env!("CARGO_PKG_VERSION")),
            max_attempts: 5,
            retry_base: Duration::from_millis(500),
        }
    }
}

/// A manifest or index as received.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Bytes,
    /// The `Content-Type` header, parameters removed.
    pub content_type: Option<String>,
    /// sha256 of `bytes`; when fetched by digest, verified to equal it.
    pub digest: Digest,
}

pub type BlobStream = Pin<Box<dyn Stream<Item = Result<Bytes, RegistryError>> + Send>>;

/// An open blob download.
pub struct BlobResponse {
    /// The server honoured the `Range` request (206): `stream` starts at the requested offset.
    /// When false the stream starts at byte 0, whatever offset was asked for.
    pub resumed: bool,
    /// Size of the whole blob, when the server said.
    pub total: Option<u64>,
    /// The body. It is not retried: a mid-way failure surfaces as a temporary error item and the
    /// caller resumes with a new [`RegistryClient::get_blob`] at the offset it has.
    pub stream: BlobStream,
}

impl std::fmt::Debug for BlobResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobResponse")
            .field("resumed", &self.resumed)
            .field("total", &self.total)
            .finish()
    }
}

#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    opts: ClientOptions,
    retry_base: Duration,
    auth: AuthState,
}

#[derive(Default)]
struct Request<'a> {
    method: Method,
    url: String,
    accept: Option<&'a str>,
    range_from: u64,
    /// `repository:<repo>:pull`, or none for `/v2/`. Several scopes are separated by spaces
    /// (`repository:a:pull,push repository:b:pull`); each goes to the token server as its own
    /// `scope=`, and the whole string keys the token cache.
    scope: Option<String>,
    /// A request body, rebuilt for every attempt (see [`upload::BodySource`]).
    body: Option<upload::BodySource>,
    content_type: Option<&'a str>,
    /// `Content-Range: <start>-<end>` of a chunk (`PATCH`).
    content_range: Option<String>,
    /// Not idempotent (a `PATCH`, or a body sent to an upload session): no retries inside
    /// [`RegistryClient::execute`]; the upload code decides how to recover.
    no_retry: bool,
    /// The URL is on another host than the registry's API (an upload `Location` elsewhere):
    /// sent without credentials.
    anonymous: bool,
}

/// A final answer: a status, headers, and either the read body or the live response.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    url: String,
    body: Bytes,
    response: Option<reqwest::Response>,
}

impl Answer {
    fn error(&self, context_code: Option<ErrorCode>) -> RegistryError {
        RegistryError::from_response(self.status.as_u16(), &self.url, &self.body, context_code)
    }
    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn retriable_status(s: StatusCode) -> bool {
    matches!(s.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

/// Repository names and references go into URL paths: keep to their grammar's characters.
fn check_path_parts(
    url_hint: &str,
    repo: &str,
    reference: Option<&str>,
) -> Result<(), RegistryError> {
    let repo_ok = !repo.is_empty()
        && !repo.starts_with('/')
        && !repo.ends_with('/')
        && !repo
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        && repo
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b));
    if !repo_ok {
        return Err(RegistryError::protocol(
            url_hint,
            format!("invalid repository name: {repo:?}"),
        ));
    }
    if let Some(r) = reference {
        let ok = !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b));
        if !ok {
            return Err(RegistryError::protocol(
                url_hint,
                format!("invalid reference: {r:?}"),
            ));
        }
        // Tags have no ':'; a digest must be one strata can verify.
        if r.contains(':')
            && let Err(e) = Digest::parse(r)
        {
            return Err(RegistryError::protocol(url_hint, e.message));
        }
    }
    Ok(())
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mt = v.split(';').next().unwrap_or(v).trim();
    (!mt.is_empty()).then(|| mt.to_string())
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `bytes <start>-<end>/<total|*>` → (start, total).
fn parse_content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, _end) = range.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start, total))
}

/// The next page of a paginated listing (tags, catalog): the `Link: <…>; rel="next"` target of
/// `ans`, resolved against `url`. `None` on the last page. A link to another host is refused, so
/// credentials for this registry never follow it elsewhere.
fn next_page(url: &str, ans: &Answer) -> Result<Option<String>, RegistryError> {
    let Some(next) = ans
        .header(header::LINK)
        .and_then(transport::parse_next_link)
    else {
        return Ok(None);
    };
    let base = url::Url::parse(url).map_err(|e| RegistryError::protocol(url, e.to_string()))?;
    let next = base
        .join(&next)
        .map_err(|e| RegistryError::protocol(url, format!("invalid Link header {next:?}: {e}")))?;
    if next.scheme() != base.scheme()
        || next.host_str() != base.host_str()
        || next.port() != base.port()
    {
        return Err(RegistryError::protocol(
            url,
            format!("pagination link leaves the registry: {next}"),
        ));
    }
    if next.as_str() == url {
        return Ok(None);
    }
    Ok(Some(next.to_string()))
}

impl RegistryClient {
    /// Builds a client. Installs rustls' ring provider (once per process) and loads the system's
    /// root certificates.
    pub fn new(opts: ClientOptions) -> oci_model::Result<Self> {
        let http = transport::build_http_client(&opts.user_agent)?;
        let retry_base = std::env::var("STRATA_RETRY_BASE_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or(opts.retry_base);
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                http,
                opts,
                retry_base,
                auth: AuthState::default(),
            }),
        })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    fn endpoint(&self, domain: &str) -> Endpoint {
        Endpoint::resolve(domain, &self.inner.opts.insecure_registries)
    }

    /// Fetches a manifest or index by tag or digest (`sha256:…`), with Docker's Accept list.
    pub async fn get_manifest(
        &self,
        domain: &str,
        repo: &str,
        reference: &str,
    ) -> Result<FetchedManifest, RegistryError> {
        let ep = self.endpoint(domain);
        let url = ep.url(&format!("{repo}/manifests/{reference}"));
        check_path_parts(&url, repo, Some(reference))?;
        let req = Request {
            method: Method::GET,
            url,
            accept: Some(MANIFEST_ACCEPT),
            range_from: 0,
            scope: Some(pull_scope(repo)),
            ..Default::default()
        };
        let ans = self.execute(&ep, &req, Some(MAX_MANIFEST_SIZE)).await?;
        if !ans.status.is_success() {
            return Err(ans.error(Some(ErrorCode::ManifestUnknown)));
        }
        let digest = Digest::of(&ans.body);
        if let Ok(want) = Digest::parse(reference)
            && want != digest
        {
            return Err(RegistryError::corrupt(
                &ans.url,
                format!(
                    "manifest verification failed for digest {want}: content hashes to {digest}"
                ),
            ));
        }
        Ok(FetchedManifest {
            content_type: content_type(&ans.headers),
            bytes: ans.body,
            digest,
        })
    }

    /// Resolves a tag or digest to (digest, media type, size) with `HEAD`; `None` when the
    /// registry answers 404. Falls back to `GET` when the registry refuses `HEAD` (403, 405) or
    /// does not send `Docker-Content-Digest`.
    pub async fn head_manifest(
        &self,
        domain: &str,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(Digest, String, u64)>, RegistryError> {
        let ep = self.endpoint(domain);
        let url = ep.url(&format!("{repo}/manifests/{reference}"));
        check_path_parts(&url, repo, Some(reference))?;
        let req = Request {
            method: Method::HEAD,
            url,
            accept: Some(MANIFEST_ACCEPT),
            range_from: 0,
            scope: Some(pull_scope(repo)),
            ..Default::default()
        };
        let ans = self.execute(&ep, &req, Some(0)).await?;
        let fallback = match ans.status.as_u16() {
            404 => return Ok(None),
            403 | 405 => true,
            s if (200..300).contains(&s) => {
                let digest = ans
                    .header(header::HeaderName::from_static("docker-content-digest"))
                    .and_then(|d| Digest::parse(d.trim()).ok());
                let mt = content_type(&ans.headers);
                let len = content_length(&ans.headers);
                match (digest, mt, len) {
                    (Some(d), Some(mt), Some(len)) => {
                        if let Ok(want) = Digest::parse(reference)
                            && want != d
                        {
                            return Err(RegistryError::corrupt(
                                &ans.url,
                                format!(
                                    "manifest verification failed for digest {want}: registry reports {d}"
                                ),
                            ));
                        }
                        return Ok(Some((d, mt, len)));
                    }
                    _ => true,
                }
            }
            _ => return Err(ans.error(Some(ErrorCode::ManifestUnknown))),
        };
        debug_assert!(fallback);
        match self.get_manifest(domain, repo, reference).await {
            Ok(m) => {
                let mt = m.content_type.clone().unwrap_or_default();
                Ok(Some((m.digest, mt, m.bytes.len() as u64)))
            }
            Err(e) if e.status == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens a blob stream at byte `offset` (`Range: bytes=<offset>-` when offset > 0).
    /// `resumed` tells whether the server honoured the range (206); after a 200 the stream
    /// starts at 0. The stream is not verified or retried (see the module docs). An offset at or
    /// past the end is the registry's business: distribution answers `416`, returned as an
    /// [`RegistryErrorKind::Http`] error with that status.
    pub async fn get_blob(
        &self,
        domain: &str,
        repo: &str,
        digest: &Digest,
        offset: u64,
    ) -> Result<BlobResponse, RegistryError> {
        let ep = self.endpoint(domain);
        let url = ep.url(&format!("{repo}/blobs/{digest}"));
        check_path_parts(&url, repo, None)?;
        let req = Request {
            method: Method::GET,
            url,
            accept: None,
            range_from: offset,
            scope: Some(pull_scope(repo)),
            ..Default::default()
        };
        let mut ans = self.execute(&ep, &req, None).await?;
        let (resumed, total) = match ans.status.as_u16() {
            200 => (false, content_length(&ans.headers)),
            206 => {
                let cr = ans
                    .header(header::CONTENT_RANGE)
                    .unwrap_or_default()
                    .to_string();
                let Some((start, total)) = parse_content_range(&cr) else {
                    return Err(RegistryError::protocol(
                        &ans.url,
                        format!("invalid Content-Range {cr:?}"),
                    ));
                };
                if start != offset {
                    return Err(RegistryError::protocol(
                        &ans.url,
                        format!("asked for bytes from {offset}, server sent from {start}"),
                    ));
                }
                let total = total.or_else(|| content_length(&ans.headers).map(|l| l + offset));
                (true, total)
            }
            _ => return Err(ans.error(Some(ErrorCode::BlobUnknown))),
        };
        let resp = ans
            .response
            .take()
            .expect("streaming answer keeps its response");
        let url = ans.url.clone();
        let stream = resp
            .bytes_stream()
            .map_err(move |e| transport::map_reqwest_error(&url, &e));
        Ok(BlobResponse {
            resumed,
            total,
            stream: Box::pin(stream),
        })
    }

    /// Reads a small blob (an image config) whole, at most `max` bytes, and verifies its digest.
    /// A body that breaks off is fetched again (up to `max_attempts`).
    pub async fn get_blob_bytes(
        &self,
        domain: &str,
        repo: &str,
        digest: &Digest,
        max: u64,
    ) -> Result<Bytes, RegistryError> {
        let attempts = self.inner.opts.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.read_blob_once(domain, repo, digest, max).await {
                Err(e) if e.is_temporary() && attempt < e.attempts_allowed(attempts) => {
                    tokio::time::sleep(transport::backoff(self.inner.retry_base, attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn read_blob_once(
        &self,
        domain: &str,
        repo: &str,
        digest: &Digest,
        max: u64,
    ) -> Result<Bytes, RegistryError> {
        let mut blob = self.get_blob(domain, repo, digest, 0).await?;
        let url = self.endpoint(domain).url(&format!("{repo}/blobs/{digest}"));
        let too_large =
            || RegistryError::protocol(&url, format!("blob {digest} is larger than {max} bytes"));
        if blob.total.is_some_and(|t| t > max) {
            return Err(too_large());
        }
        let mut buf = BytesMut::new();
        while let Some(chunk) = blob.stream.next().await {
            let chunk = chunk?;
            if (buf.len() + chunk.len()) as u64 > max {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        let got = Digest::of(&buf);
        if &got != digest {
            return Err(RegistryError::corrupt(
                &url,
                format!("failed to verify {digest}: digest mismatch: content hashes to {got}"),
            ));
        }
        Ok(buf.freeze())
    }

    /// All tags of a repository, following `Link: <…>; rel="next"` pages.
    pub async fn list_tags(&self, domain: &str, repo: &str) -> Result<Vec<String>, RegistryError> {
        self.list_tags_paged(domain, repo, None).await
    }

    /// [`list_tags`](Self::list_tags) asking for `page_size` tags per page (`?n=`).
    pub async fn list_tags_paged(
        &self,
        domain: &str,
        repo: &str,
        page_size: Option<u32>,
    ) -> Result<Vec<String>, RegistryError> {
        let ep = self.endpoint(domain);
        let mut url = ep.url(&format!("{repo}/tags/list"));
        check_path_parts(&url, repo, None)?;
        if let Some(n) = page_size {
            url.push_str(&format!("?n={n}"));
        }
        let mut tags = Vec::new();
        for _page in 0..100_000 {
            let req = Request {
                method: Method::GET,
                url: url.clone(),
                accept: None,
                range_from: 0,
                scope: Some(pull_scope(repo)),
                ..Default::default()
            };
            let ans = self.execute(&ep, &req, Some(MAX_TAGS_PAGE)).await?;
            if !ans.status.is_success() {
                return Err(ans.error(Some(ErrorCode::NameUnknown)));
            }
            #[derive(serde::Deserialize)]
            struct TagList {
                #[serde(default)]
                tags: Option<Vec<String>>,
            }
            let page: TagList = serde_json::from_slice(&ans.body)
                .map_err(|e| RegistryError::protocol(&ans.url, format!("invalid tag list: {e}")))?;
            tags.extend(page.tags.unwrap_or_default());
            match next_page(&url, &ans)? {
                Some(next) => url = next,
                None => return Ok(tags),
            }
        }
        Err(RegistryError::protocol(&url, "too many tag list pages"))
    }

    /// Checks credentials against `<server>/v2/` (Basic or token flow), as `docker login` does.
    /// `server` is a registry host[:port], `docker.io` or Docker Hub's v1 URL. On success the
    /// credentials are used by this client for that registry; storing them is
    /// [`store_credentials`]' job. A username of `<token>` means `password` is an identity token.
    pub async fn login(
        &self,
        server: &str,
        username: &str,
        password: &str,
    ) -> Result<(), RegistryError> {
        let host = docker_config::hostname_of(server);
        let domain = if docker_config::is_docker_hub(&host) {
            "docker.io".to_string()
        } else {
            host
        };
        let ep = self.endpoint(&domain);
        let cred = if username == "<token>" {
            Credential::IdentityToken(password.to_string())
        } else {
            Credential::Basic {
                username: username.to_string(),
                password: password.to_string(),
            }
        };
        let url = ep.url("");
        let secrets = cred.secrets();
        let redact = |mut e: RegistryError| {
            e.message = error::redact_secrets(&e.message, &secrets);
            e.detail = e.detail.map(|d| error::redact_secrets(&d, &secrets));
            e
        };
        let ping = Request {
            method: Method::GET,
            url: url.clone(),
            accept: None,
            range_from: 0,
            scope: None,
            ..Default::default()
        };
        let ans = self
            .execute_unauthenticated(&ping, None)
            .await
            .map_err(redact)?;
        if ans.status.is_success() {
            // The registry needs no authentication; docker reports success too.
            self.inner.auth.set_credentials(&ep.domain, Some(cred));
            return Ok(());
        }
        if ans.status != StatusCode::UNAUTHORIZED {
            return Err(redact(ans.error(None)));
        }
        let Some(ch) = ans
            .header(header::WWW_AUTHENTICATE)
            .and_then(auth::parse_challenge)
        else {
            return Err(redact(ans.error(None)));
        };
        let authz = match &ch {
            Challenge::Basic { .. } => match &cred {
                Credential::Basic { username, password } => auth::basic_header(username, password),
                Credential::IdentityToken(_) => {
                    return Err(RegistryError::protocol(
                        &url,
                        "registry uses Basic authentication; an identity token cannot be used",
                    ));
                }
            },
            Challenge::Bearer { realm, service, .. } => {
                let tok = auth::fetch_token(
                    &self.inner.http,
                    realm,
                    service.as_deref(),
                    &[],
                    Some(&cred),
                )
                .await
                .map_err(redact)?;
                format!("Bearer {}", tok.token)
            }
        };
        let ans = self
            .execute_unauthenticated(&ping, Some(&authz))
            .await
            .map_err(redact)?;
        if !ans.status.is_success() {
            return Err(redact(ans.error(None)));
        }
        self.inner.auth.set_challenge(&ep.host, ch);
        self.inner.auth.set_credentials(&ep.domain, Some(cred));
        Ok(())
    }

    /// Credentials for a reference domain, from config.json / helpers, looked up once.
    async fn credentials(&self, domain: &str) -> Result<Option<Credential>, RegistryError> {
        if let Some(c) = self.inner.auth.cached_credentials(domain) {
            return Ok(c);
        }
        let dir = self.inner.opts.docker_config_dir.clone();
        let d = domain.to_string();
        let found = tokio::task::spawn_blocking(move || {
            docker_config::lookup_credentials(dir.as_deref(), &d)
        })
        .await
        .map_err(|e| RegistryError::protocol("", format!("credential lookup failed: {e}")))?
        .map_err(|e| RegistryError::protocol("", e.message))?;
        self.inner.auth.set_credentials(domain, found.clone());
        Ok(found)
    }

    /// The `Authorization` value for a request to `ep`, from the host's known challenge.
    /// With `fresh` (a challenge just received), cached tokens are bypassed and the challenge's
    /// own scope is requested as well.
    async fn auth_header(
        &self,
        ep: &Endpoint,
        scope: Option<&str>,
        fresh: Option<&Challenge>,
    ) -> Result<Option<String>, RegistryError> {
        let challenge = match fresh {
            Some(c) => c.clone(),
            None => match self.inner.auth.challenge(&ep.host) {
                Some(c) => c,
                None => return Ok(None),
            },
        };
        match challenge {
            Challenge::Basic { .. } => match self.credentials(&ep.domain).await? {
                Some(Credential::Basic { username, password }) => {
                    Ok(Some(auth::basic_header(&username, &password)))
                }
                _ => Ok(None),
            },
            Challenge::Bearer {
                realm,
                service,
                scope: ch_scope,
                ..
            } => {
                let key = scope.unwrap_or("");
                if fresh.is_none()
                    && let Some(t) = self.inner.auth.token(&ep.host, key)
                {
                    return Ok(Some(format!("Bearer {t}")));
                }
                self.inner.auth.forget_token(&ep.host, key);
                let mut scopes: Vec<String> = scope
                    .map(|s| {
                        s.split(' ')
                            .filter(|p| !p.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                if fresh.is_some()
                    && let Some(cs) = ch_scope
                    && !cs.is_empty()
                    && !scopes.contains(&cs)
                {
                    scopes.push(cs);
                }
                let cred = self.credentials(&ep.domain).await?;
                let tok = auth::fetch_token(
                    &self.inner.http,
                    &realm,
                    service.as_deref(),
                    &scopes,
                    cred.as_ref(),
                )
                .await?;
                let header = format!("Bearer {}", tok.token);
                self.inner.auth.put_token(&ep.host, key, tok);
                Ok(Some(header))
            }
        }
    }

    fn build(&self, req: &Request<'_>, authz: Option<&str>) -> reqwest::RequestBuilder {
        let mut rb = self.inner.http.request(req.method.clone(), &req.url);
        if let Some(a) = req.accept {
            rb = rb.header(header::ACCEPT, a);
        }
        if req.range_from > 0 {
            rb = rb.header(header::RANGE, format!("bytes={}-", req.range_from));
        }
        if let Some(a) = authz {
            rb = rb.header(header::AUTHORIZATION, a);
        }
        if let Some(ct) = req.content_type {
            rb = rb.header(header::CONTENT_TYPE, ct);
        }
        if let Some(cr) = &req.content_range {
            rb = rb.header(header::CONTENT_RANGE, cr);
        }
        match &req.body {
            Some(body) => {
                rb = rb.header(header::CONTENT_LENGTH, body.len());
                rb = rb.body(body.to_body());
            }
            // POST, PUT and PATCH without a body say so: some servers refuse a missing length.
            None if matches!(req.method, Method::POST | Method::PUT | Method::PATCH) => {
                rb = rb.header(header::CONTENT_LENGTH, 0);
            }
            None => {}
        }
        rb
    }

    /// Sends `req` with authentication and retries. `read_body`: `Some(max)` reads a successful
    /// body (at most `max` bytes) inside the retry loop; `None` keeps the response for streaming.
    /// Error bodies are always read (bounded).
    async fn execute(
        &self,
        ep: &Endpoint,
        req: &Request<'_>,
        read_body: Option<u64>,
    ) -> Result<Answer, RegistryError> {
        let attempts = if req.no_retry {
            1
        } else {
            self.inner.opts.max_attempts.max(1)
        };
        let mut attempt = 0;
        let mut auth_refreshed = false;
        loop {
            attempt += 1;
            let outcome = self.attempt(ep, req, read_body, &mut auth_refreshed).await;
            let delay = match &outcome {
                Ok(ans) if retriable_status(ans.status) && attempt < attempts => {
                    let b = transport::backoff(self.inner.retry_base, attempt);
                    transport::retry_after(&ans.headers).map_or(b, |r| r.max(b))
                }
                Err(e) if e.is_temporary() && attempt < e.attempts_allowed(attempts) => {
                    transport::backoff(self.inner.retry_base, attempt)
                }
                _ => return outcome,
            };
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        ep: &Endpoint,
        req: &Request<'_>,
        read_body: Option<u64>,
        auth_refreshed: &mut bool,
    ) -> Result<Answer, RegistryError> {
        let scope = req.scope.as_deref();
        let mut authz = if req.anonymous {
            None
        } else {
            self.auth_header(ep, scope, None).await?
        };
        loop {
            let resp = self
                .build(req, authz.as_deref())
                .send()
                .await
                .map_err(|e| transport::map_reqwest_error(&req.url, &e))?;
            if resp.status() == StatusCode::UNAUTHORIZED && !*auth_refreshed && !req.anonymous {
                let ch = resp
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(auth::parse_challenge);
                if let Some(ch) = ch {
                    *auth_refreshed = true;
                    self.inner.auth.set_challenge(&ep.host, ch.clone());
                    if let Some(h) = self.auth_header(ep, scope, Some(&ch)).await? {
                        authz = Some(h);
                        continue;
                    }
                    if matches!(ch, Challenge::Basic { .. }) {
                        // Docker's words for a Basic registry and no stored credentials.
                        let method = req.method.as_str();
                        let method =
                            format!("{}{}", &method[..1], method[1..].to_ascii_lowercase());
                        let url = error::redact_url(&req.url);
                        let mut err = RegistryError::new(
                            RegistryErrorKind::NoCredentials,
                            &req.url,
                            format!("{method} \"{url}\": no basic auth credentials"),
                        );
                        err.status = Some(401);
                        err.code = Some(ErrorCode::Unauthorized.into());
                        return Err(err);
                    }
                }
            }
            return self.answer(resp, &req.url, read_body).await;
        }
    }

    /// One request (with retries for temporary failures) and no challenge handling.
    async fn execute_unauthenticated(
        &self,
        req: &Request<'_>,
        authz: Option<&str>,
    ) -> Result<Answer, RegistryError> {
        let attempts = self.inner.opts.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match self.build(req, authz).send().await {
                Ok(resp) => self.answer(resp, &req.url, Some(MAX_ERROR_BODY)).await,
                Err(e) => Err(transport::map_reqwest_error(&req.url, &e)),
            };
            match &outcome {
                Ok(ans) if retriable_status(ans.status) && attempt < attempts => {}
                Err(e) if e.is_temporary() && attempt < e.attempts_allowed(attempts) => {}
                _ => return outcome,
            }
            tokio::time::sleep(transport::backoff(self.inner.retry_base, attempt)).await;
        }
    }

    async fn answer(
        &self,
        mut resp: reqwest::Response,
        url: &str,
        read_body: Option<u64>,
    ) -> Result<Answer, RegistryError> {
        let status = resp.status();
        let headers = resp.headers().clone();
        // The URL after redirects (e.g. a CDN); reported redacted.
        let final_url = resp.url().to_string();
        let url = if final_url.is_empty() {
            url.to_string()
        } else {
            final_url
        };
        let limit = match (status.is_success(), read_body) {
            (true, None) => {
                return Ok(Answer {
                    status,
                    headers,
                    url,
                    body: Bytes::new(),
                    response: Some(resp),
                });
            }
            (true, Some(max)) => Some(max),
            (false, _) => None,
        };
        let mut buf = BytesMut::new();
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                // An error answer stands on its status even when its body is cut short
                // (distribution's 416 announces a Content-Length it never sends).
                Err(_) if limit.is_none() => break,
                Err(e) => return Err(transport::map_reqwest_error(&url, &e)),
            };
            match limit {
                Some(max) if (buf.len() + chunk.len()) as u64 > max => {
                    return Err(RegistryError::protocol(
                        &url,
                        format!("response body exceeds {max} bytes"),
                    ));
                }
                None if (buf.len() + chunk.len()) as u64 > MAX_ERROR_BODY => {
                    let room = MAX_ERROR_BODY as usize - buf.len();
                    buf.extend_from_slice(&chunk[..room]);
                    break;
                }
                _ => buf.extend_from_slice(&chunk),
            }
        }
        Ok(Answer {
            status,
            headers,
            url,
            body: buf.freeze(),
            response: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some((100, Some(200)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 1-2/3"), None);
        assert_eq!(parse_content_range("bytes x-1/2"), None);
    }

    #[test]
    fn path_parts_are_checked() {
        assert!(check_path_parts("u", "library/alpine", Some("3.20")).is_ok());
        let d = Digest::of(b"x").to_string();
        assert!(check_path_parts("u", "a/b-c_d.e", Some(&d)).is_ok());
        for bad in ["", "/a", "a/", "a//b", "a/../b", "A", "a?b", "a b"] {
            assert!(check_path_parts("u", bad, None).is_err(), "{bad}");
        }
        for bad in ["", "a/b", "x?y", "t#1", "../x", "sha256:abc", "sha512:00"] {
            assert!(check_path_parts("u", "a", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn options_default() {
        let o = ClientOptions::default();
        assert_eq!(o.max_attempts, 5);
        assert_eq!(o.retry_base, Duration::from_millis(500));
        assert!(o.user_agent.starts_with("strata/"));
    }
}
