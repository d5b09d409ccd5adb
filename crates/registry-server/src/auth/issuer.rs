//! The token realm, `GET`/`POST /token`: the registry issues its own Bearer tokens (token mode),
//! as Docker Hub's auth service does for Hub.
//!
//! It is a separate endpoint with its own error shape (`{"details": …}`, not the distribution
//! error body), outside the auth middleware: a client without a token must be able to reach it.
//! A token grants the part of the requested scopes the policy allows the client (see
//! [`super::token`] for the token format).

use super::config::ActionSet;
use super::need::parse_query;
use super::token::{self, AccessEntry, Claims};
use super::{
    Auth, Identity, Inner, Mode, anonymous_admitted, basic_credentials, peer_is_loopback,
    random_bytes,
};
use crate::names::valid_repo;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// Routes of the token realm: `GET /token` and `POST /token` in token mode, none otherwise.
pub fn token_router(auth: Arc<Auth>) -> Router {
    if auth.mode() != Some(Mode::Token) {
        return Router::new();
    }
    Router::new().route(
        "/token",
        axum::routing::get(token_get)
            .post(token_post)
            .with_state(auth),
    )
}

/// A token realm error: the status and Docker Hub's `{"details": …}` body.
struct RealmError(StatusCode, String);

fn realm_error(status: StatusCode, details: &str) -> RealmError {
    RealmError(status, details.to_string())
}

impl IntoResponse for RealmError {
    fn into_response(self) -> Response {
        (
            self.0,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "details": self.1 }).to_string(),
        )
            .into_response()
    }
}

/// Issues a token for `who` granting the part of the requested scopes `who` may have.
/// Returns the token, its access and the issue time.
fn issue(
    auth: &Auth,
    inner: &Inner,
    who: &Identity,
    scopes: &[String],
    service: Option<&str>,
) -> Result<(String, Vec<AccessEntry>, u64), RealmError> {
    if let Some(s) = service
        && s != inner.token.service
    {
        return Err(realm_error(
            StatusCode::BAD_REQUEST,
            &format!("unknown service {s:?}"),
        ));
    }
    let mut access: Vec<AccessEntry> = Vec::new();
    for scope in scopes.iter().flat_map(|s| s.split_whitespace()) {
        let Some(sc) = token::parse_scope(scope) else {
            continue;
        };
        let granted: Vec<String> = match sc.kind.as_str() {
            "repository" if valid_repo(&sc.name) => {
                let requested = sc
                    .actions
                    .iter()
                    .filter_map(|a| ActionSet::parse_one(a))
                    .fold(ActionSet::EMPTY, ActionSet::union);
                requested
                    .intersect(auth.allowed(who, &sc.name))
                    .names()
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            }
            // Any admitted client may list (results are filtered per repository).
            "registry" if sc.name == "catalog" => sc
                .actions
                .iter()
                .filter(|a| *a == "*" || *a == "search")
                .cloned()
                .collect(),
            _ => continue,
        };
        if granted.is_empty() {
            continue;
        }
        match access
            .iter_mut()
            .find(|e| e.kind == sc.kind && e.name == sc.name)
        {
            Some(e) => {
                for a in granted {
                    if !e.actions.contains(&a) {
                        e.actions.push(a);
                    }
                }
            }
            None => access.push(AccessEntry {
                kind: sc.kind,
                name: sc.name,
                actions: granted,
            }),
        }
    }
    let now = token::now_secs();
    let tok = mint(inner, who, access.clone(), now, inner.token.expiry);
    Ok((tok, access, now))
}

/// Who asks for a token: Basic credentials (wrong ones → 401), else anonymous if admitted.
async fn token_client(
    inner: &Inner,
    creds: Option<Option<(String, String)>>,
    loopback: bool,
) -> Result<Identity, RealmError> {
    match creds {
        Some(Some((user, password))) => {
            if inner.users.verify(&user, &password).await {
                Ok(Identity::User(user))
            } else {
                Err(realm_error(
                    StatusCode::UNAUTHORIZED,
                    "incorrect username or password",
                ))
            }
        }
        Some(None) => Err(realm_error(
            StatusCode::UNAUTHORIZED,
            "incorrect username or password",
        )),
        None if anonymous_admitted(&inner.policy, loopback) => Ok(Identity::Anonymous),
        None => Err(realm_error(
            StatusCode::UNAUTHORIZED,
            "authentication required",
        )),
    }
}

/// `GET /token?service=…&scope=…[&scope=…]`, Basic credentials optional.
async fn token_get(State(auth): State<Arc<Auth>>, req: Request) -> Response {
    let Some(inner) = &auth.inner else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let q = parse_query(req.uri().query().unwrap_or(""));
    let scopes: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone())
        .collect();
    let service = q
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.as_str());
    let loopback = peer_is_loopback(req.extensions());
    let who = match token_client(inner, basic_credentials(req.headers()), loopback).await {
        Ok(w) => w,
        Err(r) => return r.into_response(),
    };
    match issue(&auth, inner, &who, &scopes, service) {
        Ok((tok, _, now)) => (
            [(header::CONTENT_TYPE, "application/json")],
            token::response_body(&tok, inner.token.expiry, now).to_string(),
        )
            .into_response(),
        Err(r) => r.into_response(),
    }
}

/// `POST /token` (OAuth2 form): `grant_type=password` with `username`, `password`, `scope`,
/// `service`. Refresh tokens are not issued, so `grant_type=refresh_token` is refused.
async fn token_post(State(auth): State<Arc<Auth>>, req: Request) -> Response {
    let Some(inner) = &auth.inner else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let loopback = peer_is_loopback(req.extensions());
    let body = match axum::body::to_bytes(req.into_body(), 64 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return realm_error(StatusCode::BAD_REQUEST, "request body too large").into_response();
        }
    };
    let form = parse_query(&String::from_utf8_lossy(&body));
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match get("grant_type").as_deref() {
        Some("password") => {}
        Some("refresh_token") => {
            return realm_error(
                StatusCode::BAD_REQUEST,
                "refresh tokens are not supported by this registry",
            )
            .into_response();
        }
        _ => return realm_error(StatusCode::BAD_REQUEST, "unsupported grant_type").into_response(),
    }
    let creds = match (get("username"), get("password")) {
        (Some(u), Some(p)) => Some(Some((u, p))),
        _ => Some(None),
    };
    let who = match token_client(inner, creds, loopback).await {
        Ok(w) => w,
        Err(r) => return r.into_response(),
    };
    let scopes: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone())
        .collect();
    match issue(&auth, inner, &who, &scopes, get("service").as_deref()) {
        Ok((tok, access, now)) => {
            let scope: Vec<String> = access
                .iter()
                .map(|e| format!("{}:{}:{}", e.kind, e.name, e.actions.join(",")))
                .collect();
            let mut body = token::response_body(&tok, inner.token.expiry, now);
            body["scope"] = json!(scope.join(" "));
            (
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
        Err(r) => r.into_response(),
    }
}

/// Signs a token for `who` with `access`, valid from `now` for `lifetime` seconds.
fn mint(
    inner: &Inner,
    who: &Identity,
    access: Vec<AccessEntry>,
    now: u64,
    lifetime: u64,
) -> String {
    let claims = Claims {
        iss: inner.token.issuer.clone(),
        sub: match who {
            Identity::Anonymous => String::new(),
            Identity::User(u) => u.clone(),
        },
        aud: token::Audience::One(inner.token.service.clone()),
        exp: now + lifetime,
        nbf: now,
        iat: now,
        jti: hex::encode(random_bytes::<16>()),
        access,
    };
    token::sign(&inner.token_key, &claims)
}

impl Auth {
    /// Signs a token for `who` with the given access, as the realm would (tests and tools).
    /// Panics on a registry without auth.
    pub fn sign_token(&self, who: &Identity, access: Vec<AccessEntry>, lifetime: u64) -> String {
        let inner = self.inner.as_ref().expect("sign_token on an open registry");
        mint(inner, who, access, token::now_secs(), lifetime)
    }
}
