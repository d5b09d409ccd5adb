//! A minimal blocking HTTP/1.1 client over `TcpStream`, for loopback test registries only.
//!
//! One request per connection (`Connection: close`), bodies read to EOF, chunked responses
//! decoded. It also performs the registry auth dance (Basic or Bearer token) when given
//! credentials, so tests can talk to every registry kind this crate starts.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Splits `http://host:port/path?query` into (`host:port`, `/path?query`).
pub fn split_url(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("only http:// URLs are supported: {url}"))?;
    match rest.find('/') {
        Some(i) => Ok((rest[..i].to_string(), rest[i..].to_string())),
        None => Ok((rest.to_string(), "/".to_string())),
    }
}

/// Sends one request to `addr` (`host:port`) and reads the whole response.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let has_len = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    if !has_len && (!body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH")) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("reading response from {addr}"))?;
    parse_response(&raw, method == "HEAD")
}

fn parse_response(raw: &[u8], head_only: bool) -> Result<Response> {
    let end = find(raw, b"\r\n\r\n").context("truncated HTTP response (no end of headers)")?;
    let head = std::str::from_utf8(&raw[..end]).context("non-UTF-8 response headers")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line: {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    if head_only {
        body.clear();
    } else if chunked {
        body = dechunk(&body)?;
    } else if let Some((_, len)) = headers.iter().find(|(k, _)| k == "content-length") {
        let len: usize = len.parse().context("bad Content-Length")?;
        if body.len() < len {
            bail!("truncated body: {} of {len} bytes", body.len());
        }
        body.truncate(len);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = find(data, b"\r\n").context("bad chunked encoding")?;
        let size_str = std::str::from_utf8(&data[..eol])?
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        let size = usize::from_str_radix(size_str, 16)
            .with_context(|| format!("bad chunk size {size_str:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `Basic <base64(user:pass)>`.
pub fn basic_auth(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// Parses a `WWW-Authenticate` challenge into its scheme and parameters.
pub fn parse_challenge(value: &str) -> (String, Vec<(String, String)>) {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let (val, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let close = quoted.find('"').unwrap_or(quoted.len());
            (
                quoted[..close].to_string(),
                quoted.get(close + 1..).unwrap_or(""),
            )
        } else {
            let close = after.find(',').unwrap_or(after.len());
            (after[..close].trim().to_string(), &after[close..])
        };
        params.push((key, val));
        rest = remaining.trim_start_matches(',').trim();
    }
    (scheme.to_string(), params)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A client bound to one registry that answers auth challenges with the given credentials
/// (or anonymously) and caches the resulting `Authorization` header.
pub struct RegistryClient {
    pub addr: String,
    creds: Option<(String, String)>,
    auth: Option<String>,
}

impl RegistryClient {
    pub fn new(addr: &str, creds: Option<(&str, &str)>) -> RegistryClient {
        RegistryClient {
            addr: addr.to_string(),
            creds: creds.map(|(u, p)| (u.to_string(), p.to_string())),
            auth: None,
        }
    }

    /// Sends a request; on 401 obtains credentials for the challenge and retries once.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response> {
        let resp = self.send_once(method, path, headers, body)?;
        if resp.status != 401 {
            return Ok(resp);
        }
        let Some(challenge) = resp.header("www-authenticate") else {
            return Ok(resp);
        };
        let (scheme, params) = parse_challenge(challenge);
        let auth = if scheme.eq_ignore_ascii_case("basic") {
            match &self.creds {
                Some((u, p)) => basic_auth(u, p),
                None => return Ok(resp),
            }
        } else if scheme.eq_ignore_ascii_case("bearer") {
            format!("Bearer {}", self.fetch_token(&params)?)
        } else {
            bail!("unsupported auth scheme {scheme:?}");
        };
        self.auth = Some(auth);
        self.send_once(method, path, headers, body)
    }

    fn send_once(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response> {
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(a) = &self.auth {
            all.push(("Authorization", a));
        }
        request(&self.addr, method, path, &all, body)
    }

    /// Fetches a bearer token for a challenge's realm/service/scope.
    pub fn fetch_token(&self, params: &[(String, String)]) -> Result<String> {
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let realm = get("realm").context("bearer challenge without realm")?;
        let mut url = realm.to_string();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        for key in ["service", "scope"] {
            if let Some(v) = get(key) {
                for part in if key == "scope" {
                    v.split(' ').collect::<Vec<_>>()
                } else {
                    vec![v]
                } {
                    url.push_str(&format!("{sep}{key}={}", query_escape(part)));
                    sep = '&';
                }
            }
        }
        let (addr, path) = split_url(&url)?;
        let basic = self.creds.as_ref().map(|(u, p)| basic_auth(u, p));
        let mut headers = Vec::new();
        if let Some(b) = &basic {
            headers.push(("Authorization", b.as_str()));
        }
        let resp = request(&addr, "GET", &path, &headers, &[])?;
        if resp.status != 200 {
            bail!(
                "token endpoint answered {}: {}",
                resp.status,
                resp.body_str()
            );
        }
        let v: serde_json::Value =
            serde_json::from_slice(&resp.body).context("token response is not JSON")?;
        v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .context("token response without token")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenge() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="http://127.0.0.1:5/token",service="reg",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(
            p,
            vec![
                ("realm".to_string(), "http://127.0.0.1:5/token".to_string()),
                ("service".to_string(), "reg".to_string()),
                ("scope".to_string(), "repository:a/b:pull,push".to_string()),
            ]
        );
    }

    #[test]
    fn decodes_chunked_and_content_length() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", false)
            .unwrap();
        assert_eq!(r.body, b"abcde");
        let r = parse_response(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nhi",
            false,
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"hi"[..]));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi", false).is_err());
    }

    #[test]
    fn splits_urls_and_escapes() {
        assert_eq!(
            split_url("http://127.0.0.1:9/a?b=c").unwrap(),
            ("127.0.0.1:9".into(), "/a?b=c".into())
        );
        assert_eq!(
            query_escape("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }
}
