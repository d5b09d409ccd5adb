//! Authentication and authorization — interface stub; the `regauth` work fills it in.
//!
//! Contract with the server proper:
//! - the registry config file (JSON) has an optional `"auth"` object, deserialized as [`AuthConfig`];
//! - the server builds one [`Auth`] with [`Auth::new`] and wraps every `/v2/…` and `/v1/…` route in
//!   [`middleware`] (`axum::middleware::from_fn_with_state(auth.clone(), auth::middleware)`), and
//!   merges [`token_router`] (the token realm, e.g. `GET /token`);
//! - the server is served with `into_make_service_with_connect_info::<SocketAddr>()`, so the
//!   middleware can see the peer address (anonymous read is on by default for loopback peers);
//! - the middleware puts an [`Identity`] into the request's extensions; handlers that list
//!   repositories (catalog, search) filter with [`Auth::can`].

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// The `"auth"` section of the registry config file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthConfig {}

/// What a request wants to do with a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pull,
    Push,
    Delete,
}

/// Who made the request, as the middleware established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Anonymous,
    User(String),
}

pub struct Auth {}

impl Auth {
    /// `base_dir` resolves relative paths in the config (the config file's directory).
    pub fn new(_cfg: Option<&AuthConfig>, _base_dir: &Path) -> Result<Auth, String> {
        Ok(Auth {})
    }

    /// True when no authentication is configured: every request is allowed.
    pub fn is_open(&self) -> bool {
        true
    }

    /// Whether `who` may do `action` on repository `repo`.
    pub fn can(&self, _who: &Identity, _repo: &str, _action: Action) -> bool {
        true
    }
}

/// Authenticates and authorizes one request; on success inserts an [`Identity`] extension and
/// calls `next`, otherwise answers 401 (`UNAUTHORIZED` with a `WWW-Authenticate` challenge) or
/// 403 (`DENIED`).
pub async fn middleware(State(_auth): State<Arc<Auth>>, mut req: Request, next: Next) -> Response {
    req.extensions_mut().insert(Identity::Anonymous);
    next.run(req).await
}

/// Routes of the token realm (none while auth is a stub).
pub fn token_router(_auth: Arc<Auth>) -> Router {
    Router::new()
}
