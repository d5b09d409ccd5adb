//! The HTTP server: configuration, shared state, the router, dispatch of `/v2/<name>/…` paths,
//! request logging and graceful shutdown.

use crate::auth::{self, Auth, AuthConfig, Identity};
use crate::error::{ApiError, Code};
use crate::names::{self, Route};
use crate::storage::Backend;
use crate::storage::fs::FsBackend;
use crate::{blobs, manifests, search};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde::Deserialize;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The default listen address: loopback only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:5000";

/// The registry config file (JSON), every key optional:
/// `{"addr": "127.0.0.1:5000", "root": "/srv/registry", "delete-enabled": true, "log": false,
///   "auth": {…}}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigFile {
    pub addr: Option<String>,
    pub root: Option<PathBuf>,
    pub delete_enabled: Option<bool>,
    pub log: Option<bool>,
    pub auth: Option<AuthConfig>,
}

impl ConfigFile {
    /// Reads a config file; relative paths in it are taken from its directory.
    pub fn load(path: &Path) -> Result<ConfigFile, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let mut cfg: ConfigFile = serde_json::from_slice(&bytes)
            .map_err(|e| format!("invalid registry config file {}: {e}", path.display()))?;
        if let Some(root) = &cfg.root
            && root.is_relative()
        {
            cfg.root = Some(config_dir(path).join(root));
        }
        Ok(cfg)
    }
}

/// The directory a config file's relative paths are resolved against.
pub fn config_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Everything needed to run a server.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: String,
    pub root: PathBuf,
    pub delete_enabled: bool,
    pub log: bool,
    pub auth: Option<AuthConfig>,
    /// Where relative paths of the auth config are resolved.
    pub base_dir: PathBuf,
}

impl Options {
    pub fn new(root: &Path) -> Options {
        Options {
            addr: DEFAULT_ADDR.to_string(),
            root: root.to_path_buf(),
            delete_enabled: true,
            log: false,
            auth: None,
            base_dir: PathBuf::from("."),
        }
    }
}

/// One upload session's progress as this process knows it: the bytes written and their running
/// hash (`None` when unknown, e.g. after a restart: the file is hashed again at commit).
pub struct Session {
    pub size: u64,
    pub hasher: Option<oci_model::Sha256Writer>,
}

/// State shared by every request.
pub struct AppState {
    pub backend: Arc<dyn Backend>,
    pub auth: Arc<Auth>,
    pub delete_enabled: bool,
    sessions: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Session>>>>>,
}

impl AppState {
    pub fn new(backend: Arc<dyn Backend>, auth: Arc<Auth>, delete_enabled: bool) -> AppState {
        AppState {
            backend,
            auth,
            delete_enabled,
            sessions: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The lock guarding one upload session (requests on a session are serialized).
    pub fn session(&self, id: &str) -> Arc<tokio::sync::Mutex<Option<Session>>> {
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(id.to_string()).or_default().clone()
    }

    /// Forgets a finished or cancelled session.
    pub fn forget_session(&self, id: &str) {
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id);
    }

    /// Runs storage work on the blocking pool; storage failures become `UNKNOWN` (500).
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Backend) -> std::io::Result<T> + Send + 'static,
    {
        let backend = self.backend.clone();
        match tokio::task::spawn_blocking(move || f(&*backend)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(storage_error(e)),
            Err(e) => {
                Err(ApiError::new(Code::Unknown).message(format!("storage task failed: {e}")))
            }
        }
    }
}

/// A storage failure (never caused by request input, which is validated first).
pub fn storage_error(e: std::io::Error) -> ApiError {
    eprintln!("strata registry: storage error: {e}");
    ApiError::new(Code::Unknown).message(format!("storage error: {e}"))
}

/// The identity the auth middleware established (anonymous when none).
pub fn identity(req: &Request) -> Identity {
    req.extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or(Identity::Anonymous)
}

/// Builds the server's state and router for `opts`.
pub fn build(opts: &Options) -> Result<(Router, Arc<AppState>), String> {
    let backend = FsBackend::new(&opts.root)
        .map_err(|e| format!("opening registry root {}: {e}", opts.root.display()))?;
    let auth = Arc::new(Auth::new(opts.auth.as_ref(), &opts.base_dir)?);
    let state = Arc::new(AppState::new(
        Arc::new(backend),
        auth.clone(),
        opts.delete_enabled,
    ));
    Ok((router(state.clone(), opts.log), state))
}

/// The registry's routes around `state`.
pub fn router(state: Arc<AppState>, log: bool) -> Router {
    let api = Router::new()
        .route("/v2", get(base))
        .route("/v2/", get(base))
        .route("/v2/_catalog", get(manifests::catalog))
        .route("/v2/{*rest}", any(dispatch))
        .route("/v1/search", get(search::search))
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(
            state.auth.clone(),
            auth::middleware,
        ));
    // Docker's daemon pings `/v1/_ping` before `/v1/search`; any answer will do, so it is
    // outside authentication.
    let ping = Router::new().route("/v1/_ping", get(base));
    let mut app = api
        .merge(ping)
        .merge(auth::token_router(state.auth.clone()))
        .layer(middleware::map_response(api_version_header));
    if log {
        app = app.layer(middleware::from_fn(log_request));
    }
    app
}

async fn api_version_header(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    resp
}

async fn log_request(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_else(|| "-".to_string());
    let resp = next.run(req).await;
    eprintln!(
        "{peer} {method} {uri} {} {:.1}ms",
        resp.status().as_u16(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    resp
}

async fn base() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "{}",
    )
        .into_response()
}

/// Routes `/v2/<name>/…` by hand: names contain slashes, so the path is split from its end,
/// on the raw (undecoded) path.
async fn dispatch(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let rest = path.strip_prefix("/v2/").unwrap_or_default();
    let Some(route) = names::route(rest) else {
        return ApiError::new(Code::NameUnknown)
            .message("no such route")
            .status(StatusCode::NOT_FOUND)
            .into_response();
    };
    let name = match route {
        Route::Tags(n)
        | Route::Manifest(n, _)
        | Route::UploadStart(n)
        | Route::Upload(n, _)
        | Route::Blob(n, _)
        | Route::Referrers(n, _) => n,
    };
    if !names::valid_repo(name) {
        return ApiError::new(Code::NameInvalid)
            .detail(serde_json::json!({ "name": name }))
            .into_response();
    }
    let name = name.to_string();
    let method = req.method().clone();
    let result = match (route, &method) {
        (Route::Tags(_), &Method::GET) => manifests::tags_list(&st, &name, req).await,
        (Route::Manifest(_, r), &Method::GET) => manifests::get(&st, &name, r, false).await,
        (Route::Manifest(_, r), &Method::HEAD) => manifests::get(&st, &name, r, true).await,
        (Route::Manifest(_, r), &Method::PUT) => {
            let r = r.to_string();
            manifests::put(&st, &name, &r, req).await
        }
        (Route::Manifest(_, r), &Method::DELETE) => manifests::delete(&st, &name, r).await,
        (Route::Referrers(_, d), &Method::GET) => {
            let d = d.to_string();
            manifests::referrers(&st, &name, &d, req).await
        }
        (Route::Blob(_, d), &Method::GET | &Method::HEAD) => {
            let range = req.headers().get(header::RANGE).cloned();
            blobs::get(&st, &name, d, range, method == Method::HEAD).await
        }
        (Route::Blob(_, d), &Method::DELETE) => blobs::delete(&st, &name, d).await,
        (Route::UploadStart(_), &Method::POST) => blobs::start_upload(&st, &name, req).await,
        (Route::Upload(_, id), &Method::GET) => blobs::upload_status(&st, &name, id).await,
        (Route::Upload(_, id), &Method::PATCH) => {
            let id = id.to_string();
            blobs::patch_upload(&st, &name, &id, req).await
        }
        (Route::Upload(_, id), &Method::PUT) => {
            let id = id.to_string();
            blobs::finish_upload(&st, &name, &id, req).await
        }
        (Route::Upload(_, id), &Method::DELETE) => blobs::cancel_upload(&st, &name, id).await,
        _ => Err(ApiError::new(Code::Unsupported).status(StatusCode::METHOD_NOT_ALLOWED)),
    };
    result.unwrap_or_else(|e| e.into_response())
}

/// An empty-bodied response with a status and headers.
pub fn empty(status: StatusCode, headers: &[(&str, String)]) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    resp
}

/// The request's query parameters (later duplicates win).
pub fn query(req: &Request) -> HashMap<String, String> {
    axum::extract::Query::<HashMap<String, String>>::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default()
}

/// Binds `opts.addr`, calls `ready` with the bound address, and serves until `shutdown`
/// completes (in-flight requests finish first).
pub async fn serve<F, R>(opts: Options, shutdown: F, ready: R) -> Result<(), String>
where
    F: Future<Output = ()> + Send + 'static,
    R: FnOnce(SocketAddr),
{
    let (app, _state) = build(&opts)?;
    let listener = tokio::net::TcpListener::bind(&opts.addr)
        .await
        .map_err(|e| format!("listening on {}: {e}", opts.addr))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("listening on {}: {e}", opts.addr))?;
    ready(addr);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|e| format!("serving on {addr}: {e}"))
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
