//! Bearer tokens: their format, signing and checking, and the scopes clients ask for (the realm
//! that issues them is [`super::issuer`]).
//!
//! Tokens are JWTs (`header.claims.signature`, base64url without padding) signed with
//! HMAC-SHA256: header `{"alg":"HS256","typ":"JWT"}`, claims `iss`, `sub` (empty for anonymous),
//! `aud` (the service), `exp`, `nbf`, `iat`, `jti` and `access` — `[{type, name, actions}]`, the
//! granted part of the requested scopes (Docker Hub's semantics: actions the account may not
//! have are dropped silently; a wrong password is a 401). Scopes are `repository:NAME:ACTIONS`
//! (a `repository(class):NAME:…` class is ignored) and `registry:catalog:*` / `…:search`.
//!
//! The HMAC key is random per process unless the config names a key file, which is created on
//! first use so tokens survive a restart.
//!
//! No refresh tokens are issued (`offline_token=true` is ignored), so clients such as `docker
//! login` keep the password; `POST /token` accepts `grant_type=password` only.

use super::config::ActionSet;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oci_model::Error;
use oci_model::time::rfc3339_utc;
use ring::hmac;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// One `access` entry of a token, or one requested scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// A token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
    pub jti: String,
    #[serde(default)]
    pub access: Vec<AccessEntry>,
}

/// `aud` as JWT allows it: one string or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, service: &str) -> bool {
        match self {
            Audience::One(a) => a == service,
            Audience::Many(v) => v.iter().any(|a| a == service),
        }
    }
}

impl Claims {
    /// The actions this token grants on repository `name`.
    pub fn repository_actions(&self, name: &str) -> ActionSet {
        self.access
            .iter()
            .filter(|e| e.kind == "repository" && e.name == name)
            .flat_map(|e| e.actions.iter())
            .filter_map(|a| ActionSet::parse_one(a))
            .fold(ActionSet::EMPTY, ActionSet::union)
    }

    /// Whether the token grants `registry:catalog:<action>` (or `*`).
    pub fn has_catalog(&self, action: &str) -> bool {
        self.access.iter().any(|e| {
            e.kind == "registry"
                && e.name == "catalog"
                && e.actions.iter().any(|a| a == "*" || a == action)
        })
    }
}

/// Why a token was refused (all answered as `error="invalid_token"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
    NotYetValid,
    WrongAudience,
    WrongIssuer,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Signs `claims` into a compact JWT.
pub fn sign(key: &hmac::Key, claims: &Claims) -> String {
    let mut out = URL_SAFE_NO_PAD.encode(HEADER);
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize")));
    let sig = hmac::sign(key, out.as_bytes());
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(sig.as_ref()));
    out
}

/// Checks a compact JWT: shape, `alg`, signature, issuer, audience and validity window.
pub fn verify(
    key: &hmac::Key,
    token: &str,
    issuer: &str,
    service: &str,
    now: u64,
) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| TokenError::Malformed)?;
    let signed = &token[..h.len() + 1 + c.len()];
    hmac::verify(key, signed.as_bytes(), &sig).map_err(|_| TokenError::BadSignature)?;
    let header: Value = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(TokenError::Malformed);
    }
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    if claims.iss != issuer {
        return Err(TokenError::WrongIssuer);
    }
    if !claims.aud.contains(service) {
        return Err(TokenError::WrongAudience);
    }
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    if claims.nbf > now {
        return Err(TokenError::NotYetValid);
    }
    Ok(claims)
}

/// A parsed scope: `type:name:actions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// Parses one scope (`repository:team/app:pull,push`, `repository(plugin):x:pull`,
/// `registry:catalog:*`). The name is what lies between the first and the last colon.
pub fn parse_scope(s: &str) -> Option<Scope> {
    let (kind, rest) = s.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    let kind = match kind.split_once('(') {
        Some((k, class)) if class.ends_with(')') => k,
        Some(_) => return None,
        None => kind,
    };
    if kind.is_empty() || name.is_empty() {
        return None;
    }
    Some(Scope {
        kind: kind.to_string(),
        name: name.to_string(),
        actions: actions
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// The `scope` challenge parameter for a repository need: a write asks for `pull,push` (a client
/// pushing also checks blobs), a read for `pull`, a delete for `delete`.
pub fn repository_scope(name: &str, need: ActionSet) -> String {
    let mut ask = need;
    if need.contains(ActionSet::PUSH) {
        ask = ask.union(ActionSet::PULL);
    }
    format!("repository:{name}:{}", ask.names().join(","))
}

/// The token response body.
pub fn response_body(token: &str, expires_in: u64, issued_at: u64) -> Value {
    json!({
        "token": token,
        "access_token": token,
        "expires_in": expires_in,
        "issued_at": rfc3339_utc(issued_at),
    })
}

/// Reads the token signing key from `path`, creating it (32 random bytes, mode 0600) if missing.
pub fn load_or_create_key(path: &Path) -> oci_model::Result<hmac::Key> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::read(path) {
        Ok(k) if k.len() >= 32 => return Ok(hmac::Key::new(hmac::HMAC_SHA256, &k)),
        Ok(k) => {
            return Err(Error::invalid(format!(
                "auth: token key file {} holds {} bytes; at least 32 are needed",
                path.display(),
                k.len()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::invalid(format!(
                "auth: reading token key file {}: {e}",
                path.display()
            )));
        }
    }
    let key = super::random_bytes::<32>();
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(&key)?;
        f.sync_all()
    };
    match write() {
        Ok(()) => Ok(hmac::Key::new(hmac::HMAC_SHA256, &key)),
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_key(path),
        Err(e) => Err(Error::invalid(format!(
            "auth: creating token key file {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &[b; 32])
    }

    fn claims(now: u64) -> Claims {
        Claims {
            iss: "iss".into(),
            sub: "alice".into(),
            aud: Audience::One("svc".into()),
            exp: now + 300,
            nbf: now,
            iat: now,
            jti: "j".into(),
            access: vec![
                AccessEntry {
                    kind: "repository".into(),
                    name: "team/app".into(),
                    actions: vec!["pull".into(), "push".into()],
                },
                AccessEntry {
                    kind: "registry".into(),
                    name: "catalog".into(),
                    actions: vec!["*".into()],
                },
            ],
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let now = 1_700_000_000;
        let t = sign(&key(1), &claims(now));
        assert_eq!(t.split('.').count(), 3);
        let c = verify(&key(1), &t, "iss", "svc", now).unwrap();
        assert_eq!(c, claims(now));
        assert_eq!(
            c.repository_actions("team/app"),
            ActionSet::PULL.union(ActionSet::PUSH)
        );
        assert_eq!(c.repository_actions("team"), ActionSet::EMPTY);
        assert!(c.has_catalog("*") && c.has_catalog("search"));

        assert_eq!(
            verify(&key(2), &t, "iss", "svc", now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify(&key(1), &t, "iss", "other", now),
            Err(TokenError::WrongAudience)
        );
        assert_eq!(
            verify(&key(1), &t, "x", "svc", now),
            Err(TokenError::WrongIssuer)
        );
        assert_eq!(
            verify(&key(1), &t, "iss", "svc", now + 300),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify(&key(1), &t, "iss", "svc", now - 1),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            verify(&key(1), "a.b", "iss", "svc", now),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            verify(&key(1), "a.b.c.d", "iss", "svc", now),
            Err(TokenError::Malformed)
        );

        // Claims edited after signing: the signature no longer matches.
        let mut forged = claims(now);
        forged.access[0].actions.push("delete".into());
        let forged_t = sign(&key(9), &forged);
        let (_, fc, _) = {
            let mut p = forged_t.split('.');
            (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
        };
        let mut p = t.split('.');
        let spliced = format!("{}.{}.{}", p.next().unwrap(), fc, {
            p.next();
            p.next().unwrap()
        });
        assert_eq!(
            verify(&key(1), &spliced, "iss", "svc", now),
            Err(TokenError::BadSignature)
        );

        // alg "none" with a valid-looking shape is refused even when the HMAC would match.
        let none_h = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(now)).unwrap());
        let signed = format!("{none_h}.{body}");
        let sig = URL_SAFE_NO_PAD.encode(hmac::sign(&key(1), signed.as_bytes()).as_ref());
        assert_eq!(
            verify(&key(1), &format!("{signed}.{sig}"), "iss", "svc", now),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn audience_list() {
        let now = 10;
        let mut c = claims(now);
        c.aud = Audience::Many(vec!["a".into(), "svc".into()]);
        let t = sign(&key(1), &c);
        assert!(verify(&key(1), &t, "iss", "svc", now).is_ok());
    }

    #[test]
    fn scopes() {
        assert_eq!(
            parse_scope("repository:team/app:pull,push"),
            Some(Scope {
                kind: "repository".into(),
                name: "team/app".into(),
                actions: vec!["pull".into(), "push".into()]
            })
        );
        assert_eq!(
            parse_scope("repository(plugin):x:pull").unwrap().kind,
            "repository"
        );
        assert_eq!(
            parse_scope("registry:catalog:*").unwrap().actions,
            vec!["*".to_string()]
        );
        // A registry host with a port in the name keeps its colon.
        assert_eq!(
            parse_scope("repository:localhost:5000/a:pull")
                .unwrap()
                .name,
            "localhost:5000/a"
        );
        assert_eq!(parse_scope("repository:x").map(|s| s.name), None);
        assert_eq!(parse_scope("repository::pull"), None);
        assert_eq!(parse_scope("repository(x:y:pull"), None);
        assert_eq!(
            parse_scope("repository:x:").unwrap().actions,
            Vec::<String>::new()
        );

        assert_eq!(
            repository_scope("a/b", ActionSet::PULL),
            "repository:a/b:pull"
        );
        assert_eq!(
            repository_scope("a/b", ActionSet::PUSH),
            "repository:a/b:pull,push"
        );
        assert_eq!(
            repository_scope("a", ActionSet::DELETE),
            "repository:a:delete"
        );
    }
}
