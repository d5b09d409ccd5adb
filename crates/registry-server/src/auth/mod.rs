//! Authentication and authorization of registry requests: htpasswd (bcrypt) Basic auth, the
//! Bearer token flow with the registry as its own token realm, and per-repository permissions.
//!
//! Contract with the server proper:
//! - the registry config file (JSON) has an optional `"auth"` object, deserialized as [`AuthConfig`]
//!   (format and policy: see the `config` module); no `"auth"` object means an open registry;
//! - the server builds one [`Auth`] with [`Auth::new`] and wraps every `/v2/…` and `/v1/…` route in
//!   [`middleware`] (`axum::middleware::from_fn_with_state(auth.clone(), auth::middleware)`), and
//!   merges [`token_router`] (the token realm, `GET`/`POST /token`, in the `issuer` module);
//! - the middleware decides on the request's [`Target`](crate::names::Target) as
//!   [`crate::request::target`] gives it: parsed by the server's first layer, or here when
//!   there is none;
//! - the server is served with `into_make_service_with_connect_info::<SocketAddr>()`, so the
//!   middleware can see the peer address (anonymous read is on by default for loopback peers; a
//!   request without `ConnectInfo` counts as non-loopback);
//! - the middleware puts an [`Identity`] into the request's extensions; handlers that list
//!   repositories (catalog, search) filter with [`Auth::can`];
//! - a cross-repository mount (`POST /v2/NAME/blobs/uploads/?mount=D&from=OTHER`) needs push on
//!   NAME and pull on OTHER. Without pull on OTHER the request is NOT refused: the middleware lets
//!   it through with a [`MountDenied`] extension, and the server must then ignore `mount`/`from`
//!   and open a plain upload session (202), as distribution does when a mount cannot be done.
//!
//! Answers (distribution's behaviour where it has one):
//! - Basic mode: no or wrong credentials where credentials are needed → 401 `UNAUTHORIZED` with
//!   `WWW-Authenticate: Basic realm="strata-registry"`; authenticated but not allowed → 403
//!   `DENIED`.
//! - Token mode: no token where one is needed → 401 with `WWW-Authenticate: Bearer
//!   realm="…",service="…",scope="…"` (no scope for `/v2/`); a bad, forged, expired or
//!   wrong-audience token → the same plus `error="invalid_token"`; a valid token lacking the
//!   needed access → the same plus `error="insufficient_scope"`. The 401 body is `UNAUTHORIZED`
//!   with the needed access records as detail, like distribution's.
//! - Anonymous clients (no credentials, admitted by the `anonymous` setting) get what the policy
//!   gives anonymous — pull at most — without any token; `/v2/` always needs credentials (a
//!   token, even an anonymous one from the realm, or Basic), so `login` really checks them.
//! - A repository name outside the grammar → 400 `NAME_INVALID`, before any credential check.

mod config;
mod htpasswd;
mod issuer;
mod need;
mod token;

#[cfg(test)]
mod tests;

pub use config::{ActionSet, Anonymous, AuthConfig, Mode, Rule, TokenConfig};
pub use issuer::token_router;
pub use need::{Need, need_of};
pub use token::{AccessEntry, Claims};

use crate::error::ApiError;
use crate::names::valid_repo;
use crate::request;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use config::Policy;
use htpasswd::Htpasswd;
use oci_model::{Error, ErrorCode};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// What a request wants to do with a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// Request extension: the request is a cross-repository mount whose `from` repository the
/// client may not pull; the server must not mount and must start a plain upload instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountDenied;

const BASIC_REALM: &str = "strata-registry";

/// Authentication and authorization state, shared by the middleware and the token realm.
pub struct Auth {
    inner: Option<Inner>,
}

struct Inner {
    mode: Mode,
    policy: Policy,
    users: Htpasswd,
    token: TokenConfig,
    token_key: hmac::Key,
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .expect("system random generator");
    b
}

pub(crate) fn random_hmac_key() -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, &random_bytes::<32>())
}

impl Auth {
    /// `base_dir` resolves relative paths in the config (the config file's directory).
    pub fn new(cfg: Option<&AuthConfig>, base_dir: &Path) -> oci_model::Result<Auth> {
        let Some(cfg) = cfg else {
            return Ok(Auth { inner: None });
        };
        let policy = Policy::compile(cfg)?;
        let users = Htpasswd::load(cfg.htpasswd.as_ref().map(|p| base_dir.join(p)))?;
        let mut token = cfg.token.clone();
        if token.service.is_empty() || token.issuer.is_empty() {
            return Err(Error::invalid(
                "auth: token \"service\" and \"issuer\" must not be empty",
            ));
        }
        if token.expiry < 60 {
            return Err(Error::invalid(format!(
                "auth: token \"expiry\" is {} seconds; at least 60 are needed",
                token.expiry
            )));
        }
        for (what, v) in [("service", &token.service), ("issuer", &token.issuer)] {
            if v.contains(['"', '\\']) || v.chars().any(char::is_control) {
                return Err(Error::invalid(format!(
                    "auth: token {what} {v:?} contains '\"', '\\' or controls"
                )));
            }
        }
        if let Some(realm) = &token.realm
            && (!(realm.starts_with("http://") || realm.starts_with("https://"))
                || realm.contains(['"', '\\'])
                || realm.chars().any(char::is_control))
        {
            return Err(Error::invalid(format!(
                "auth: token realm {realm:?} is not an http(s) URL"
            )));
        }
        let token_key = match &token.key {
            Some(p) => {
                let p = base_dir.join(p);
                let k = token::load_or_create_key(&p)?;
                token.key = Some(p);
                k
            }
            None => random_hmac_key(),
        };
        Ok(Auth {
            inner: Some(Inner {
                mode: cfg.mode,
                policy,
                users,
                token,
                token_key,
            }),
        })
    }

    /// True when no authentication is configured: every request is allowed.
    pub fn is_open(&self) -> bool {
        self.inner.is_none()
    }

    /// Basic or token mode (`None` when open).
    pub fn mode(&self) -> Option<Mode> {
        self.inner.as_ref().map(|i| i.mode)
    }

    /// Whether `who` may do `action` on repository `repo`. For [`Identity::Anonymous`] this
    /// assumes an admitted anonymous client (the middleware admits no other).
    pub fn can(&self, who: &Identity, repo: &str, action: Action) -> bool {
        self.allowed(who, repo).contains(ActionSet::of(action))
    }

    /// Everything `who` may do on `repo`.
    pub fn allowed(&self, who: &Identity, repo: &str) -> ActionSet {
        let Some(inner) = &self.inner else {
            return ActionSet::ALL;
        };
        match who {
            Identity::Anonymous => inner.policy.anonymous_actions(repo),
            Identity::User(u) => inner.policy.user_actions(u, repo),
        }
    }

    /// Number of bcrypt verifications run so far (0 when open).
    pub fn bcrypt_runs(&self) -> u64 {
        self.inner.as_ref().map_or(0, |i| i.users.bcrypt_runs())
    }
}

/// `Authorization: Basic` credentials, if the header holds well-formed ones; `Some(None)` for a
/// Basic header that doesn't decode. An empty user name counts as no credentials at all:
/// containers/image (skopeo, podman) sends `Basic Og==` (`:`) when it has none.
fn basic_credentials(headers: &HeaderMap) -> Option<Option<(String, String)>> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    match decoded.as_deref().map(|s| s.split_once(':')) {
        Some(Some(("", _))) => None,
        Some(Some((u, p))) => Some(Some((u.to_string(), p.to_string()))),
        _ => Some(None),
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

fn peer_is_loopback(req_ext: &axum::http::Extensions) -> bool {
    req_ext
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(a)| a.ip().to_canonical().is_loopback())
}

/// Whether a client without credentials is served at all.
fn anonymous_admitted(policy: &Policy, loopback: bool) -> bool {
    match policy.anonymous {
        Anonymous::All => true,
        Anonymous::Loopback => loopback,
        Anonymous::None => false,
    }
}

/// distribution's access records, the detail of its 401 body (`null` for `/v2/`, as there).
fn access_records(need: &Need) -> serde_json::Value {
    let rec = |t: &str, n: &str, a: &str| json!({"Type": t, "Class": "", "Name": n, "Action": a});
    let list: Vec<_> = match need {
        Need::Nothing | Need::Authenticated => return serde_json::Value::Null,
        Need::Catalog => vec![rec("registry", "catalog", "*")],
        Need::Search => vec![rec("registry", "catalog", "search")],
        Need::Repository {
            name,
            actions,
            mount_from,
        } => {
            let mut v: Vec<_> = scope_actions(*actions)
                .names()
                .into_iter()
                .map(|a| rec("repository", name, a))
                .collect();
            if let Some(from) = mount_from {
                v.push(rec("repository", from, "pull"));
            }
            v
        }
    };
    serde_json::Value::Array(list)
}

/// The actions a challenge asks for: writes ask for pull too.
fn scope_actions(need: ActionSet) -> ActionSet {
    if need.contains(ActionSet::PUSH) {
        need.union(ActionSet::PULL)
    } else {
        need
    }
}

/// The challenge's `scope` parameter (space-separated scopes), if the need has one.
fn challenge_scope(need: &Need) -> Option<String> {
    match need {
        Need::Nothing | Need::Authenticated => None,
        Need::Catalog => Some("registry:catalog:*".into()),
        Need::Search => Some("registry:catalog:search".into()),
        Need::Repository {
            name,
            actions,
            mount_from,
        } => {
            let mut s = token::repository_scope(name, *actions);
            if let Some(from) = mount_from.as_ref().filter(|f| valid_repo(f)) {
                s.push(' ');
                s.push_str(&token::repository_scope(from, ActionSet::PULL));
            }
            Some(s)
        }
    }
}

/// The realm URL: configured, or `http://<Host>/token`.
fn realm_for(cfg: &TokenConfig, headers: &HeaderMap) -> String {
    if let Some(r) = &cfg.realm {
        return r.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b".-:[]_".contains(&c))
        })
        .unwrap_or("localhost");
    format!("http://{host}/token")
}

fn unauthorized(need: &Need, challenge: String) -> Response {
    let mut err = ApiError::new(ErrorCode::Unauthorized).detail(access_records(need));
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        err = err.header(header::WWW_AUTHENTICATE, v);
    }
    err.into_response()
}

fn basic_challenge(need: &Need) -> Response {
    unauthorized(need, format!("Basic realm=\"{BASIC_REALM}\""))
}

fn bearer_challenge(
    inner: &Inner,
    headers: &HeaderMap,
    need: &Need,
    error: Option<&str>,
) -> Response {
    let mut c = format!(
        "Bearer realm=\"{}\",service=\"{}\"",
        realm_for(&inner.token, headers),
        inner.token.service
    );
    if let Some(s) = challenge_scope(need) {
        c.push_str(&format!(",scope=\"{s}\""));
    }
    if let Some(e) = error {
        c.push_str(&format!(",error=\"{e}\""));
    }
    unauthorized(need, c)
}

/// The outcome of checking one request.
enum Verdict {
    Allow(Identity, bool),
    Deny(Response),
}

/// Authenticates and authorizes one request; on success inserts an [`Identity`] extension (and
/// [`MountDenied`] when a mount's source may not be read) and calls `next`, otherwise answers
/// 401 (`UNAUTHORIZED` with a `WWW-Authenticate` challenge), 403 (`DENIED`) or 400
/// (`NAME_INVALID`).
pub async fn middleware(State(auth): State<Arc<Auth>>, mut req: Request, next: Next) -> Response {
    let Some(inner) = &auth.inner else {
        req.extensions_mut().insert(Identity::Anonymous);
        return next.run(req).await;
    };
    let need = match request::target(&mut req) {
        Ok(target) => need::need(req.method(), &target, req.uri().query()),
        Err(e) => return e.into_response(),
    };
    let loopback = peer_is_loopback(req.extensions());
    let verdict = match inner.mode {
        Mode::Basic => check_basic(&auth, inner, req.headers(), &need, loopback).await,
        Mode::Token => check_token(&auth, inner, req.headers(), &need, loopback),
    };
    match verdict {
        Verdict::Allow(who, mount_denied) => {
            req.extensions_mut().insert(who);
            if mount_denied {
                req.extensions_mut().insert(MountDenied);
            }
            next.run(req).await
        }
        Verdict::Deny(resp) => resp,
    }
}

/// Checks a repository need. `base(name)` is what the credentials grant on a repository; an
/// admitted anonymous client's rights are added (credentials never lower what a client could do
/// without them). Returns (allowed, mount denied).
fn repository_check(
    auth: &Auth,
    need: &Need,
    anonymous_ok: bool,
    base: impl Fn(&str) -> ActionSet,
) -> (bool, bool) {
    let Need::Repository {
        name,
        actions,
        mount_from,
    } = need
    else {
        return (false, false);
    };
    let rights = |n: &str| {
        let mut r = base(n);
        if anonymous_ok {
            r = r.union(auth.allowed(&Identity::Anonymous, n));
        }
        r
    };
    let mount_denied = mount_from
        .as_ref()
        .is_some_and(|from| !valid_repo(from) || !rights(from).contains(ActionSet::PULL));
    (rights(name).contains(*actions), mount_denied)
}

async fn check_basic(
    auth: &Auth,
    inner: &Inner,
    headers: &HeaderMap,
    need: &Need,
    loopback: bool,
) -> Verdict {
    if *need == Need::Nothing {
        return Verdict::Allow(Identity::Anonymous, false);
    }
    let anonymous_ok = anonymous_admitted(&inner.policy, loopback);
    let who = match basic_credentials(headers) {
        Some(Some((user, password))) => {
            if !inner.users.verify(&user, &password).await {
                return Verdict::Deny(basic_challenge(need));
            }
            Identity::User(user)
        }
        Some(None) => return Verdict::Deny(basic_challenge(need)),
        None if anonymous_ok => Identity::Anonymous,
        None => return Verdict::Deny(basic_challenge(need)),
    };
    let (ok, mount_denied) = match need {
        Need::Nothing | Need::Catalog | Need::Search => (true, false),
        Need::Authenticated => (who != Identity::Anonymous, false),
        Need::Repository { .. } => {
            repository_check(auth, need, anonymous_ok, |n| auth.allowed(&who, n))
        }
    };
    if ok {
        Verdict::Allow(who, mount_denied)
    } else if who == Identity::Anonymous {
        Verdict::Deny(basic_challenge(need))
    } else {
        Verdict::Deny(ApiError::new(ErrorCode::Denied).into_response())
    }
}

fn check_token(
    auth: &Auth,
    inner: &Inner,
    headers: &HeaderMap,
    need: &Need,
    loopback: bool,
) -> Verdict {
    if *need == Need::Nothing {
        return Verdict::Allow(Identity::Anonymous, false);
    }
    let anonymous_ok = anonymous_admitted(&inner.policy, loopback);
    let Some(raw) = bearer_token(headers) else {
        if !anonymous_ok {
            return Verdict::Deny(bearer_challenge(inner, headers, need, None));
        }
        let (ok, mount_denied) = match need {
            Need::Nothing | Need::Catalog | Need::Search => (true, false),
            Need::Authenticated => (false, false),
            Need::Repository { .. } => repository_check(auth, need, true, |_| ActionSet::EMPTY),
        };
        return if ok {
            Verdict::Allow(Identity::Anonymous, mount_denied)
        } else {
            Verdict::Deny(bearer_challenge(inner, headers, need, None))
        };
    };
    let claims = match token::verify(
        &inner.token_key,
        raw,
        &inner.token.issuer,
        &inner.token.service,
        token::now_secs(),
    ) {
        Ok(c) => c,
        Err(_) => {
            return Verdict::Deny(bearer_challenge(
                inner,
                headers,
                need,
                Some("invalid_token"),
            ));
        }
    };
    let who = if claims.sub.is_empty() {
        Identity::Anonymous
    } else {
        Identity::User(claims.sub.clone())
    };
    // The token is the grant: the policy is consulted only through what an anonymous client could
    // do anyway (a token never lowers what the client could do without it).
    let (ok, mount_denied) = match need {
        Need::Nothing | Need::Authenticated | Need::Search => (true, false),
        Need::Catalog => (claims.has_catalog("*") || anonymous_ok, false),
        Need::Repository { .. } => {
            repository_check(auth, need, anonymous_ok, |n| claims.repository_actions(n))
        }
    };
    if ok {
        Verdict::Allow(who, mount_denied)
    } else {
        Verdict::Deny(bearer_challenge(
            inner,
            headers,
            need,
            Some("insufficient_scope"),
        ))
    }
}
