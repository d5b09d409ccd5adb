//! Registry errors: the distribution spec's `{"errors":[{code,message,detail}]}` bodies, a
//! temporary/permanent classification for retries, and the `<code words>: <message>` suffix
//! Docker appends to its pull errors (docker-image-semantics §2.5).

use oci_model::{Error, ErrorCode, ErrorKind};
use std::fmt;

/// A registry's error code: one of the spec's ([`ErrorCode`], shared with strata's registry), or
/// one a registry made up, kept as it was sent (it still shows in Docker's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    Spec(ErrorCode),
    Other(String),
}

impl Code {
    pub fn parse(s: &str) -> Code {
        ErrorCode::parse(s).map_or_else(|| Code::Other(s.to_string()), Code::Spec)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Code::Spec(c) => c.as_str(),
            Code::Other(s) => s,
        }
    }

    pub fn spec(&self) -> Option<ErrorCode> {
        match self {
            Code::Spec(c) => Some(*c),
            Code::Other(_) => None,
        }
    }
}

impl From<ErrorCode> for Code {
    fn from(c: ErrorCode) -> Code {
        Code::Spec(c)
    }
}

/// What went wrong, at the level a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryErrorKind {
    /// No connection could be made, or it broke while reading.
    Connection,
    /// The server answered with an unexpected HTTP status.
    Http,
    /// Connect or read timed out.
    Timeout,
    /// The server broke the protocol (bad header, missing digest, oversized body, bad JSON…).
    Protocol,
    /// Content did not match its digest.
    Corrupt,
    /// The registry wants Basic credentials and none are stored (Docker: `no basic auth credentials`).
    NoCredentials,
}

#[derive(Debug, Clone)]
pub struct RegistryError {
    pub status: Option<u16>,
    pub kind: RegistryErrorKind,
    /// The first `errors[].code` of the body (e.g. `MANIFEST_UNKNOWN`), or one derived from the
    /// request context when the body had none (HEAD, empty 404 …).
    pub code: Option<Code>,
    /// `errors[].message`, else the (trimmed) body, else a description of the failure.
    pub message: String,
    pub detail: Option<String>,
    /// The request URL with credentials and token-like query parameters removed.
    pub url: String,
    /// Nothing listens at the address, or its name does not resolve: not worth the whole
    /// backoff series.
    pub unreachable: bool,
}

impl RegistryError {
    pub fn new(kind: RegistryErrorKind, url: &str, message: impl Into<String>) -> Self {
        RegistryError {
            status: None,
            kind,
            code: None,
            message: message.into(),
            detail: None,
            url: redact_url(url),
            unreachable: false,
        }
    }

    /// The spec code of the answer, if it carried one of the spec's.
    pub fn spec_code(&self) -> Option<ErrorCode> {
        self.code.as_ref().and_then(Code::spec)
    }

    /// The code as the registry sent it (or as derived from the request).
    pub fn code_str(&self) -> Option<&str> {
        self.code.as_ref().map(Code::as_str)
    }

    pub fn protocol(url: &str, message: impl Into<String>) -> Self {
        Self::new(RegistryErrorKind::Protocol, url, message)
    }

    pub fn corrupt(url: &str, message: impl Into<String>) -> Self {
        Self::new(RegistryErrorKind::Corrupt, url, message)
    }

    /// Builds an error from a non-success HTTP answer. `context_code` is the code to report when
    /// the body carries none (a HEAD answer, an empty 404).
    pub fn from_response(
        status: u16,
        url: &str,
        body: &[u8],
        context_code: Option<ErrorCode>,
    ) -> Self {
        let mut err = RegistryError {
            status: Some(status),
            kind: RegistryErrorKind::Http,
            code: None,
            message: String::new(),
            detail: None,
            url: redact_url(url),
            unreachable: false,
        };
        if let Some((code, message, detail)) = parse_error_body(body) {
            err.code = Some(Code::parse(&code));
            err.message = message;
            err.detail = detail;
        } else {
            let text = String::from_utf8_lossy(body);
            // An error document without entries (`{"errors":[]}`) says nothing: fall back to
            // the status line, as Docker does.
            let empty_doc = serde_json::from_slice::<serde_json::Value>(body)
                .is_ok_and(|v| v.get("errors").is_some());
            // Token services (Docker Hub's, strata's registry) answer `{"details":"…"}`: the
            // details are the message, as Docker's client reads them.
            let details = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("details")?.as_str().map(str::to_string))
                .filter(|d| !d.is_empty());
            let text = if empty_doc { "" } else { text.trim() };
            err.message = truncate(details.as_deref().unwrap_or(text), 1024);
            let code = match status {
                401 => Some(ErrorCode::Unauthorized),
                403 => Some(ErrorCode::Denied),
                429 => Some(ErrorCode::TooManyRequests),
                404 => context_code,
                _ => None,
            };
            err.code = code.map(Code::Spec);
            if err.message.is_empty()
                && let Some(code) = code
            {
                err.message = default_message(code).to_string();
            }
        }
        err
    }

    /// Temporary failures are worth retrying: no connection, timeouts, 408, 429 and 5xx answers,
    /// and the `TOOMANYREQUESTS` / `UNAVAILABLE` codes.
    pub fn is_temporary(&self) -> bool {
        match self.kind {
            RegistryErrorKind::Connection | RegistryErrorKind::Timeout => true,
            RegistryErrorKind::Protocol
            | RegistryErrorKind::Corrupt
            | RegistryErrorKind::NoCredentials => false,
            RegistryErrorKind::Http => {
                matches!(self.status, Some(408 | 429 | 500 | 502 | 503 | 504))
                    || self.spec_code().is_some_and(ErrorCode::is_temporary)
            }
        }
    }

    /// How many attempts this failure deserves out of `max`: a refused connection (nothing
    /// listens) or a failed name lookup gets one retry, not the whole backoff series — Docker
    /// fails at once there.
    pub fn attempts_allowed(&self, max: u32) -> u32 {
        if self.kind == RegistryErrorKind::Connection && self.unreachable {
            max.min(2)
        } else {
            max
        }
    }

    /// The text Docker appends after its own context: `manifest unknown: manifest unknown` — the
    /// code lowercased with `_` → space, `": "`, then the message. Without a code, the message;
    /// without either, Docker's `received unexpected HTTP status: <status>`.
    pub fn docker_suffix(&self) -> String {
        match (&self.code, self.message.is_empty()) {
            (Some(code), false) => format!("{}: {}", code_words(code.as_str()), self.message),
            (Some(code), true) => code_words(code.as_str()),
            (None, false) => self.message.clone(),
            (None, true) => match self.status {
                Some(s) => format!("received unexpected HTTP status: {}", status_line(s)),
                None => "unknown error".to_string(),
            },
        }
    }

    /// The strata-wide error kind this maps to.
    pub fn error_kind(&self) -> ErrorKind {
        match self.kind {
            RegistryErrorKind::Connection | RegistryErrorKind::Timeout => ErrorKind::Unavailable,
            RegistryErrorKind::Corrupt => ErrorKind::DataCorrupt,
            RegistryErrorKind::NoCredentials => ErrorKind::Unauthorized,
            RegistryErrorKind::Protocol => ErrorKind::Internal,
            RegistryErrorKind::Http => match (self.status, self.spec_code()) {
                (_, Some(ErrorCode::Unauthorized | ErrorCode::Denied)) | (Some(401 | 403), _) => {
                    ErrorKind::Unauthorized
                }
                (
                    _,
                    Some(
                        ErrorCode::ManifestUnknown
                        | ErrorCode::NameUnknown
                        | ErrorCode::BlobUnknown,
                    ),
                )
                | (Some(404), _) => ErrorKind::NotFound,
                (_, Some(ErrorCode::Unsupported)) => ErrorKind::Unsupported,
                _ if self.is_temporary() => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            },
        }
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RegistryErrorKind::Http => write!(f, "{}", self.docker_suffix())?,
            RegistryErrorKind::Connection
            | RegistryErrorKind::Timeout
            | RegistryErrorKind::Protocol => write!(f, "{}", self.message)?,
            RegistryErrorKind::Corrupt => write!(f, "{}", self.message)?,
            // Go-style messages that already name the URL: nothing to add.
            RegistryErrorKind::NoCredentials => return write!(f, "{}", self.message),
        }
        if self.message.starts_with("Get \"") {
            return Ok(());
        }
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        if !self.url.is_empty() {
            write!(f, " [{}]", self.url)?;
        }
        Ok(())
    }
}

impl std::error::Error for RegistryError {}

impl From<RegistryError> for Error {
    fn from(e: RegistryError) -> Error {
        Error::new(e.error_kind(), e.to_string())
    }
}

/// `MANIFEST_UNKNOWN` → `manifest unknown`.
pub fn code_words(code: &str) -> String {
    code.to_ascii_lowercase().replace('_', " ")
}

/// What the reference registry says for the codes a body-less answer is given, so the suffix
/// reads the same whether or not the server sent a body (none for upload sessions, as before).
fn default_message(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::ManifestUnknown
        | ErrorCode::NameUnknown
        | ErrorCode::BlobUnknown
        | ErrorCode::Unauthorized
        | ErrorCode::Denied
        | ErrorCode::TooManyRequests => code.default_message(),
        _ => "",
    }
}

fn status_line(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// Parses `{"errors":[{"code","message","detail"}]}` and returns the first entry. `detail` may be
/// any JSON value; non-strings are kept as compact JSON.
pub fn parse_error_body(body: &[u8]) -> Option<(String, String, Option<String>)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let first = v.get("errors")?.as_array()?.first()?;
    let code = first.get("code")?.as_str()?.to_string();
    let message = first
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_string();
    let detail = match first.get("detail") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if s.is_empty() => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    Some((code, message, detail))
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

const SECRET_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "refresh_token",
    "password",
    "secret",
    "code",
    "signature",
];

/// Removes user info and the values of token-like query parameters from a URL. Signed CDN URLs
/// (`X-Amz-Signature`, …) lose their query entirely.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return raw.to_string();
    };
    if !url.username().is_empty() || url.password().is_some() {
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    if url.query().is_some() {
        let signed = url
            .query_pairs()
            .any(|(k, _)| k.to_ascii_lowercase().starts_with("x-amz-"));
        if signed {
            url.set_query(None);
        } else {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let secret = SECRET_PARAMS.iter().any(|p| k.eq_ignore_ascii_case(p));
                    (
                        k.into_owned(),
                        if secret {
                            "REDACTED".to_string()
                        } else {
                            v.into_owned()
                        },
                    )
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    url.to_string()
}

/// Replaces every occurrence of each non-trivial secret in `text` with `REDACTED`.
pub fn redact_secrets(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.len() >= 4 {
            out = out.replace(s, "REDACTED");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spec_error_bodies() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}},{"code":"X","message":"y"}]}"#;
        let e = RegistryError::from_response(
            404,
            "http://127.0.0.1:1/v2/a/manifests/nope",
            body,
            Some(ErrorCode::BlobUnknown),
        );
        assert_eq!(e.code_str(), Some("MANIFEST_UNKNOWN"));
        assert_eq!(e.spec_code(), Some(ErrorCode::ManifestUnknown));
        assert_eq!(e.message, "manifest unknown");
        assert_eq!(e.detail.as_deref(), Some(r#"{"Tag":"nope"}"#));
        assert_eq!(e.docker_suffix(), "manifest unknown: manifest unknown");
        assert!(!e.is_temporary());
        assert_eq!(e.error_kind(), ErrorKind::NotFound);

        let e = RegistryError::from_response(
            404,
            "u",
            br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"x"}}]}"#,
            None,
        );
        assert_eq!(
            e.docker_suffix(),
            "name unknown: repository name not known to registry"
        );
    }

    #[test]
    fn bodiless_answers_take_their_code_from_context() {
        let e = RegistryError::from_response(404, "u", b"", Some(ErrorCode::ManifestUnknown));
        assert_eq!(e.code_str(), Some("MANIFEST_UNKNOWN"));
        assert_eq!(e.docker_suffix(), "manifest unknown: manifest unknown");
        let e = RegistryError::from_response(403, "u", b"", None);
        assert_eq!(
            e.docker_suffix(),
            "denied: requested access to the resource is denied"
        );
        assert_eq!(e.error_kind(), ErrorKind::Unauthorized);
        let e = RegistryError::from_response(502, "u", b"", None);
        assert_eq!(
            e.docker_suffix(),
            "received unexpected HTTP status: 502 Bad Gateway"
        );
        assert!(e.is_temporary());
        let e = RegistryError::from_response(500, "u", b"<html>oops</html>\n", None);
        assert_eq!(e.docker_suffix(), "<html>oops</html>");
        assert!(e.is_temporary());
    }

    #[test]
    fn rate_limit_is_temporary_and_keeps_the_hub_message() {
        let body = br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}"#;
        let e = RegistryError::from_response(429, "u", body, None);
        assert!(e.is_temporary());
        assert_eq!(
            e.docker_suffix(),
            "toomanyrequests: You have reached your pull rate limit."
        );
        assert_eq!(e.error_kind(), ErrorKind::Unavailable);
        // Some registries send the code with another status.
        let e = RegistryError::from_response(
            400,
            "u",
            br#"{"errors":[{"code":"UNAVAILABLE","message":"m"}]}"#,
            None,
        );
        assert!(e.is_temporary());
        let e = RegistryError::from_response(
            400,
            "u",
            br#"{"errors":[{"code":"MANIFEST_INVALID","message":"m"}]}"#,
            None,
        );
        assert!(!e.is_temporary());
    }

    #[test]
    fn codes_outside_the_spec_are_kept_as_sent() {
        let e = RegistryError::from_response(
            400,
            "u",
            br#"{"errors":[{"code":"TAG_INVALID","message":"bad tag"}]}"#,
            None,
        );
        assert_eq!(e.code, Some(Code::Other("TAG_INVALID".into())));
        assert_eq!(e.spec_code(), None);
        assert_eq!(e.docker_suffix(), "tag invalid: bad tag");
    }

    #[test]
    fn connection_kinds() {
        let e = RegistryError::new(
            RegistryErrorKind::Connection,
            "http://127.0.0.1:9/v2/",
            "connection refused",
        );
        assert!(e.is_temporary());
        assert_eq!(e.error_kind(), ErrorKind::Unavailable);
        assert!(!RegistryError::corrupt("u", "digest mismatch").is_temporary());
        assert_eq!(
            RegistryError::corrupt("u", "x").error_kind(),
            ErrorKind::DataCorrupt
        );
    }

    #[test]
    fn urls_and_messages_are_redacted() {
        assert_eq!(
            redact_url(
                "https://user:pw@auth.example/token?service=s&access_token=abc&scope=repository:a:pull"
            ),
            "https://auth.example/token?service=s&access_token=REDACTED&scope=repository%3Aa%3Apull"
        );
        assert_eq!(
            redact_url("https://cdn.example/blob?X-Amz-Signature=deadbeef&X-Amz-Date=1"),
            "https://cdn.example/blob"
        );
        let e = RegistryError::new(RegistryErrorKind::Http, "https://a:secret@h/v2/", "m");
        assert!(!e.to_string().contains("secret"));
        assert_eq!(
            redact_secrets("bad password hunter2 for hunter2", &["hunter2", ""]),
            "bad password REDACTED for REDACTED"
        );
    }

    #[test]
    fn converts_to_strata_error() {
        let e = RegistryError::from_response(
            401,
            "u",
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            None,
        );
        let err: Error = e.into();
        assert_eq!(err.kind, ErrorKind::Unauthorized);
        assert!(
            err.message
                .starts_with("unauthorized: authentication required")
        );
    }

    #[test]
    fn token_service_details_are_the_message() {
        let e = RegistryError::from_response(
            401,
            "http://127.0.0.1:5000/token",
            br#"{"details":"incorrect username or password"}"#,
            None,
        );
        assert_eq!(e.code_str(), Some("UNAUTHORIZED"));
        assert_eq!(e.message, "incorrect username or password");
        let err: Error = e.into();
        assert!(
            err.message
                .starts_with("unauthorized: incorrect username or password"),
            "{}",
            err.message
        );
    }
}
