//! The HTTP server: configuration, the router, dispatch of `/v2/<name>/…` targets, request
//! logging and graceful shutdown. The top of the crate: it wires the layers below together and
//! nothing below imports it.

use crate::auth::{self, Auth, AuthConfig};
use crate::error::ApiError;
use crate::names::{Route, Target};
use crate::storage::fs::FsBackend;
use crate::{blobs, manifests, request, search};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use oci_model::{Error, ErrorCode, ErrorKind};
use serde::Deserialize;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

pub use crate::state::AppState;

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
    /// Reads a config file; relative paths in it are taken from its directory. Every failure
    /// is the caller's to fix: [`ErrorKind::InvalidArgument`].
    pub fn load(path: &Path) -> Result<ConfigFile, Error> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::invalid(format!("reading {}: {e}", path.display())).with_source(e)
        })?;
        let mut cfg: ConfigFile = serde_json::from_slice(&bytes).map_err(|e| {
            Error::invalid(format!(
                "invalid registry config file {}: {e}",
                path.display()
            ))
            .with_source(e)
        })?;
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

/// Builds the server's state and router for `opts`.
pub fn build(opts: &Options) -> oci_model::Result<(Router, Arc<AppState>)> {
    let backend = FsBackend::new(&opts.root).map_err(|e| {
        oci_model::Error::invalid(format!(
            "opening registry root {}: {e}",
            opts.root.display()
        ))
    })?;
    let auth = Arc::new(Auth::new(opts.auth.as_ref(), &opts.base_dir)?);
    let state = Arc::new(AppState::new(
        Arc::new(backend),
        auth.clone(),
        opts.delete_enabled,
    ));
    Ok((router(state.clone(), opts.log), state))
}

/// The registry's routes around `state`. An API request meets the layers in the crate's order:
/// its path parsed ([`request::parse_target`]), then [`auth::middleware`], then the handler.
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
        ))
        .layer(middleware::from_fn(request::parse_target));
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

/// Dispatches `/v2/<name>/…` on the request's [`Target`] (names contain slashes, so axum's
/// router cannot split these paths).
async fn dispatch(State(st): State<Arc<AppState>>, mut req: Request) -> Response {
    let route = match request::target(&mut req) {
        Ok(Target::Repository(route)) => route,
        Ok(_) => {
            return ApiError::new(ErrorCode::NameUnknown)
                .message("no such route")
                .status(StatusCode::NOT_FOUND)
                .into_response();
        }
        Err(e) => return e.into_response(),
    };
    let method = req.method().clone();
    let result = match (route, &method) {
        (Route::Tags(name), &Method::GET) => manifests::tags_list(&st, &name, req).await,
        (Route::Manifest(name, r), &Method::GET) => manifests::get(&st, &name, &r, false).await,
        (Route::Manifest(name, r), &Method::HEAD) => manifests::get(&st, &name, &r, true).await,
        (Route::Manifest(name, r), &Method::PUT) => manifests::put(&st, &name, &r, req).await,
        (Route::Manifest(name, r), &Method::DELETE) => manifests::delete(&st, &name, &r).await,
        (Route::Referrers(name, d), &Method::GET) => {
            manifests::referrers(&st, &name, &d, req).await
        }
        (Route::Blob(name, d), &Method::GET | &Method::HEAD) => {
            let range = req.headers().get(header::RANGE).cloned();
            blobs::get(&st, &name, &d, range, method == Method::HEAD).await
        }
        (Route::Blob(name, d), &Method::DELETE) => blobs::delete(&st, &name, &d).await,
        (Route::UploadStart(name), &Method::POST) => blobs::start_upload(&st, &name, req).await,
        (Route::Upload(name, id), &Method::GET) => blobs::upload_status(&st, &name, &id).await,
        (Route::Upload(name, id), &Method::PATCH) => {
            blobs::patch_upload(&st, &name, &id, req).await
        }
        (Route::Upload(name, id), &Method::PUT) => blobs::finish_upload(&st, &name, &id, req).await,
        (Route::Upload(name, id), &Method::DELETE) => blobs::cancel_upload(&st, &name, &id).await,
        _ => Err(ApiError::new(ErrorCode::Unsupported).status(StatusCode::METHOD_NOT_ALLOWED)),
    };
    result.unwrap_or_else(|e| e.into_response())
}

/// Binds `opts.addr`, calls `ready` with the bound address, and serves until `shutdown`
/// completes (in-flight requests finish first). A server that cannot start is
/// [`ErrorKind::Unavailable`], whatever stopped it ([`build`] has the typed configuration
/// errors).
pub async fn serve<F, R>(opts: Options, shutdown: F, ready: R) -> Result<(), Error>
where
    F: Future<Output = ()> + Send + 'static,
    R: FnOnce(SocketAddr),
{
    let unavailable = |mut e: Error| {
        e.kind = ErrorKind::Unavailable;
        e
    };
    let (app, _state) = build(&opts).map_err(unavailable)?;
    let listen_err =
        |e: std::io::Error| unavailable(Error::io(format_args!("listening on {}", opts.addr), e));
    let listener = tokio::net::TcpListener::bind(&opts.addr)
        .await
        .map_err(listen_err)?;
    let addr = listener.local_addr().map_err(listen_err)?;
    ready(addr);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|e| unavailable(Error::io(format_args!("serving on {addr}"), e)))
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
