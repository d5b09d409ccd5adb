//! The first step of every API request: its path parsed into a [`Target`] and kept in the
//! request's extensions, so the auth middleware and the router act on the same parse and never
//! disagree about which repository a request is for. A name outside the grammar is answered
//! here, `400 NAME_INVALID`, before authentication or any storage access.

use crate::error::ApiError;
use crate::names::{self, InvalidName, Target};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oci_model::ErrorCode;
use serde_json::json;

/// The request's target: the one kept in its extensions, or parsed now and kept there.
pub fn target(req: &mut Request) -> Result<Target, ApiError> {
    if let Some(t) = req.extensions().get::<Target>() {
        return Ok(t.clone());
    }
    let t = names::parse(req.uri().path()).map_err(|InvalidName(name)| {
        ApiError::new(ErrorCode::NameInvalid).detail(json!({ "name": name }))
    })?;
    req.extensions_mut().insert(t.clone());
    Ok(t)
}

/// Middleware: parses the path (see [`target`]) before anything else looks at the request.
pub async fn parse_target(mut req: Request, next: Next) -> Response {
    match target(&mut req) {
        Ok(_) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}
