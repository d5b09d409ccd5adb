//! What every handler shares: the server's state (storage, auth, upload sessions) and the small
//! request and response helpers of the handlers.
//!
//! It sits below the handlers and above storage, so handlers depend on it and never on the
//! router that calls them.

use crate::auth::{Auth, Identity};
use crate::error::ApiError;
use crate::storage::Backend;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use oci_model::{Digest, ErrorCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    sessions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Session>>>>>,
}

impl AppState {
    pub fn new(backend: Arc<dyn Backend>, auth: Arc<Auth>, delete_enabled: bool) -> AppState {
        AppState {
            backend,
            auth,
            delete_enabled,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The lock guarding one upload session (requests on a session are serialized).
    pub fn session(&self, id: &str) -> Arc<tokio::sync::Mutex<Option<Session>>> {
        crate::lock(&self.sessions)
            .entry(id.to_string())
            .or_default()
            .clone()
    }

    /// Forgets a finished or cancelled session.
    pub fn forget_session(&self, id: &str) {
        crate::lock(&self.sessions).remove(id);
    }

    /// `UNSUPPORTED` unless deletes are enabled.
    pub fn require_delete(&self) -> Result<(), ApiError> {
        if self.delete_enabled {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::Unsupported)
                .message("deletes are disabled on this registry"))
        }
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
                Err(ApiError::new(ErrorCode::Unknown).message(format!("storage task failed: {e}")))
            }
        }
    }
}

/// A storage failure (never caused by request input, which is validated first).
pub fn storage_error(e: std::io::Error) -> ApiError {
    eprintln!("strata registry: storage error: {e}");
    ApiError::new(ErrorCode::Unknown).message(format!("storage error: {e}"))
}

/// The identity the auth middleware established (anonymous when none).
pub fn identity(req: &Request) -> Identity {
    req.extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or(Identity::Anonymous)
}

/// The request's query parameters (later duplicates win).
pub fn query(req: &Request) -> HashMap<String, String> {
    axum::extract::Query::<HashMap<String, String>>::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default()
}

/// Parses a digest from a path or query; anything else than `sha256:<64 hex>` is
/// `DIGEST_INVALID`.
pub fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    Digest::parse(s).map_err(|e| ApiError::new(ErrorCode::DigestInvalid).message(e.message))
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
