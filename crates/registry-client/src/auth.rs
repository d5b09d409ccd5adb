//! Registry authentication: `WWW-Authenticate` challenges, the token flow
//! (`dist: docs/content/spec/auth/token.md`, plus the OAuth2 refresh-token POST used with identity
//! tokens) and a per-(host, scope) token cache that honours `expires_in`.

use super::docker_config::Credential;
use super::error::{RegistryError, RegistryErrorKind, redact_secrets};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
        error: Option<String>,
    },
    Basic {
        realm: Option<String>,
    },
}

/// Parses one `WWW-Authenticate` header value: `Bearer realm="…",service="…",scope="a,b"` or
/// `Basic realm="…"`. Quoted values may contain commas and `\"` escapes; unquoted tokens are
/// accepted too. Returns the first challenge with a scheme strata supports.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let mut rest = header.trim();
    while !rest.is_empty() {
        let (scheme, after) = split_token(rest);
        if scheme.is_empty() {
            return None;
        }
        let (params, next) = parse_params(after);
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        if scheme.eq_ignore_ascii_case("bearer") {
            let realm = get("realm")?;
            return Some(Challenge::Bearer {
                realm,
                service: get("service"),
                scope: get("scope"),
                error: get("error"),
            });
        }
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic {
                realm: get("realm"),
            });
        }
        rest = next;
    }
    None
}

fn split_token(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches([' ', '\t', ',']);
    let end = s.find([' ', '\t', ',', '=']).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Parses `k=v, k="v", …` after a scheme; stops at the next scheme (a token not followed by `=`).
/// Returns the parameters and the unparsed rest.
fn parse_params(mut s: &str) -> (Vec<(String, String)>, &str) {
    let mut out = Vec::new();
    loop {
        let trimmed = s.trim_start_matches([' ', '\t', ',']);
        let (name, after) = split_token(trimmed);
        let after_ws = after.trim_start_matches([' ', '\t']);
        if name.is_empty() || !after_ws.starts_with('=') {
            return (out, trimmed);
        }
        let v = after_ws[1..].trim_start_matches([' ', '\t']);
        if let Some(q) = v.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    _ => value.push(c),
                }
            }
            out.push((name.to_string(), value));
            s = &q[end.min(q.len())..];
        } else {
            let end = v.find([',', ' ', '\t']).unwrap_or(v.len());
            out.push((name.to_string(), v[..end].to_string()));
            s = &v[end..];
        }
    }
}

/// `Authorization: Basic base64(user:pass)`.
pub fn basic_header(username: &str, password: &str) -> String {
    format!("Basic {}", B64.encode(format!("{username}:{password}")))
}

/// Token endpoint answer.
#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[derive(Clone)]
pub struct CachedToken {
    pub token: String,
    pub expires: Instant,
}

/// Shared authentication state of one client.
#[derive(Default)]
pub struct AuthState {
    /// Last challenge seen per registry API host, so later requests authenticate up front.
    challenges: Mutex<HashMap<String, Challenge>>,
    /// Bearer tokens per (API host, scope).
    tokens: Mutex<HashMap<(String, String), CachedToken>>,
    /// Credentials per reference domain (`None` = looked up, none found).
    creds: Mutex<HashMap<String, Option<Credential>>>,
}

impl AuthState {
    pub fn challenge(&self, host: &str) -> Option<Challenge> {
        self.challenges.lock().unwrap().get(host).cloned()
    }
    pub fn set_challenge(&self, host: &str, c: Challenge) {
        self.challenges.lock().unwrap().insert(host.to_string(), c);
    }
    pub fn token(&self, host: &str, scope: &str) -> Option<String> {
        let mut tokens = self.tokens.lock().unwrap();
        let key = (host.to_string(), scope.to_string());
        match tokens.get(&key) {
            // A little slack so a token does not expire on the wire.
            Some(t) if t.expires > Instant::now() + Duration::from_secs(5) => Some(t.token.clone()),
            Some(_) => {
                tokens.remove(&key);
                None
            }
            None => None,
        }
    }
    pub fn put_token(&self, host: &str, scope: &str, t: CachedToken) {
        self.tokens
            .lock()
            .unwrap()
            .insert((host.to_string(), scope.to_string()), t);
    }
    pub fn forget_token(&self, host: &str, scope: &str) {
        self.tokens
            .lock()
            .unwrap()
            .remove(&(host.to_string(), scope.to_string()));
    }
    pub fn cached_credentials(&self, domain: &str) -> Option<Option<Credential>> {
        self.creds.lock().unwrap().get(domain).cloned()
    }
    pub fn set_credentials(&self, domain: &str, c: Option<Credential>) {
        self.creds.lock().unwrap().insert(domain.to_string(), c);
    }
}

/// Fetches a bearer token from the challenge's realm.
///
/// * With an identity token: OAuth2 `POST realm` form `grant_type=refresh_token`.
/// * With a username/password: `GET realm?service=&scope=` with Basic credentials.
/// * Otherwise anonymously (Docker Hub issues anonymous pull tokens).
///
/// `scopes` are sent as one `scope=` each. The lifetime is `expires_in`, never under 60 s.
pub async fn fetch_token(
    http: &reqwest::Client,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    cred: Option<&Credential>,
) -> Result<CachedToken, RegistryError> {
    let secrets: Vec<&str> = cred.map(|c| c.secrets()).unwrap_or_default();
    let mut url = url::Url::parse(realm).map_err(|e| {
        RegistryError::protocol(realm, format!("invalid token realm {realm:?}: {e}"))
    })?;
    let request = match cred {
        Some(Credential::IdentityToken(refresh)) => {
            let mut form: Vec<(&str, &str)> = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", "strata"),
            ];
            if let Some(s) = service {
                form.push(("service", s));
            }
            let scope_joined = scopes.join(" ");
            if !scopes.is_empty() {
                form.push(("scope", &scope_joined));
            }
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            http.post(url.clone())
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body)
        }
        _ => {
            {
                let mut q = url.query_pairs_mut();
                if let Some(s) = service {
                    q.append_pair("service", s);
                }
                for s in scopes {
                    q.append_pair("scope", s);
                }
            }
            if url.query() == Some("") {
                url.set_query(None);
            }
            let mut rb = http.get(url.clone());
            if let Some(Credential::Basic { username, password }) = cred {
                rb = rb.header(
                    reqwest::header::AUTHORIZATION,
                    basic_header(username, password),
                );
            }
            rb
        }
    };
    let url_s = url.to_string();
    let resp = request
        .send()
        .await
        .map_err(|e| super::transport::map_reqwest_error(&url_s, &e))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(|e| super::transport::map_reqwest_error(&url_s, &e))?;
    if !(200..300).contains(&status) {
        let mut err = RegistryError::from_response(status, &url_s, &body, None);
        err.message = redact_secrets(&err.message, &secrets);
        if let Some(d) = &err.detail {
            err.detail = Some(redact_secrets(d, &secrets));
        }
        if err.code.is_none() && status == 401 {
            err.code = Some(oci_model::ErrorCode::Unauthorized.into());
        }
        return Err(err);
    }
    let parsed: TokenResponse = serde_json::from_slice(&body)
        .map_err(|e| RegistryError::protocol(&url_s, format!("invalid token response: {e}")))?;
    let token = parsed
        .token
        .filter(|t| !t.is_empty())
        .or(parsed.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| {
            RegistryError::new(
                RegistryErrorKind::Protocol,
                &url_s,
                "token response has no token",
            )
        })?;
    let lifetime = parsed.expires_in.unwrap_or(60).max(60) as u64;
    Ok(CachedToken {
        token,
        expires: Instant::now() + Duration::from_secs(lifetime),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge_with_commas_in_quotes() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:samalba/my-app:pull,push".into()),
                error: None,
            }
        );
    }

    #[test]
    fn bearer_variants() {
        // Spaces after commas, case-insensitive scheme and names, unquoted values, escapes, error.
        let c = parse_challenge(
            r#"bearer Realm="http://127.0.0.1:9/token?x=1", service=reg, error="insufficient_scope", scope="a:\"b\":pull""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "http://127.0.0.1:9/token?x=1".into(),
                service: Some("reg".into()),
                scope: Some(r#"a:"b":pull"#.into()),
                error: Some("insufficient_scope".into()),
            }
        );
        assert_eq!(
            parse_challenge("Bearer service=\"x\""),
            None,
            "realm is required"
        );
    }

    #[test]
    fn basic_and_multiple_challenges() {
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic {
                realm: Some("Registry Realm".into())
            })
        );
        assert_eq!(
            parse_challenge("Basic"),
            Some(Challenge::Basic { realm: None })
        );
        // An unsupported scheme first, then Basic.
        assert_eq!(
            parse_challenge(r#"Negotiate abc, Basic realm="r, with comma""#),
            Some(Challenge::Basic {
                realm: Some("r, with comma".into())
            })
        );
        assert_eq!(parse_challenge(r#"Digest realm="x", nonce="y""#), None);
        assert_eq!(parse_challenge(""), None);
    }

    #[test]
    fn basic_header_encoding() {
        assert_eq!(
            basic_header("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn token_cache_expires() {
        let st = AuthState::default();
        st.put_token(
            "h",
            "s",
            CachedToken {
                token: "t".into(),
                expires: Instant::now() + Duration::from_secs(60),
            },
        );
        assert_eq!(st.token("h", "s").as_deref(), Some("t"));
        assert_eq!(st.token("h", "other"), None);
        st.put_token(
            "h",
            "s",
            CachedToken {
                token: "t".into(),
                expires: Instant::now() + Duration::from_secs(2),
            },
        );
        assert_eq!(
            st.token("h", "s"),
            None,
            "a token about to expire is not reused"
        );
    }
}
