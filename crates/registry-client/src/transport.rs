//! HTTP plumbing: the reqwest client (rustls with the ring provider, native roots), registry
//! endpoints (Docker Hub's API host, plain HTTP for loopback and insecure registries), the
//! `Link` pagination header, backoff, and mapping reqwest failures to [`RegistryError`].

use super::error::{RegistryError, RegistryErrorKind};
use std::net::IpAddr;
use std::sync::Once;
use std::time::Duration;

/// Where a registry's API lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The reference domain (`docker.io`, `localhost:5000`): the key for credentials.
    pub domain: String,
    /// The API host[:port] (`registry-1.docker.io`).
    pub host: String,
    /// `https` or `http`.
    pub scheme: &'static str,
}

impl Endpoint {
    pub fn resolve(domain: &str, insecure: &[String]) -> Endpoint {
        let domain = domain.trim().trim_end_matches('/').to_ascii_lowercase();
        let host = if matches!(domain.as_str(), "docker.io" | "index.docker.io") {
            "registry-1.docker.io".to_string()
        } else {
            domain.clone()
        };
        let scheme = if is_plain_http(&host, insecure) {
            "http"
        } else {
            "https"
        };
        Endpoint {
            domain,
            host,
            scheme,
        }
    }

    /// `<scheme>://<host>/v2/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}/v2/{}", self.scheme, self.host, path)
    }
}

/// Splits `host[:port]` / `[v6]:port` / bare IPv6 into the host part.
pub fn host_part(hostport: &str) -> &str {
    if let Some(rest) = hostport.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    if hostport.matches(':').count() == 1 {
        return hostport.split(':').next().unwrap_or(hostport);
    }
    hostport
}

/// Plain HTTP for `localhost`, 127.0.0.0/8, `::1`, and registries listed as insecure (matched by
/// `host[:port]` or by host alone).
pub fn is_plain_http(hostport: &str, insecure: &[String]) -> bool {
    let host = host_part(hostport);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Ok(ip) = host.parse::<IpAddr>()
        && ip.is_loopback()
    {
        return true;
    }
    insecure.iter().any(|i| {
        let i = i
            .trim()
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/');
        i.eq_ignore_ascii_case(hostport) || i.eq_ignore_ascii_case(host)
    })
}

/// The `rel="next"` target of a `Link` header (`<url>; rel="next"`, possibly among others).
pub fn parse_next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>')?;
        let target = &after[..end];
        let params_all = &after[end + 1..];
        // Parameters run until the next link (`, <`).
        let params = match params_all.find(", <").or_else(|| params_all.find(",<")) {
            Some(i) => &params_all[..i],
            None => params_all,
        };
        let is_next = params.split(';').any(|p| {
            let Some((k, v)) = p.trim().split_once('=') else {
                return false;
            };
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.to_string());
        }
        rest = &params_all[params.len()..];
    }
    None
}

/// The delay before retry number `attempt` (1-based): `base`, `2·base`, `4·base`, … capped at 30 s.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(Duration::from_secs(30))
}

/// `Retry-After: <seconds>` (the HTTP-date form is ignored), capped at 60 s.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: u64 = v.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(60)))
}

static PROVIDER: Once = Once::new();

/// Installs rustls' ring provider as the process default (once; a provider installed earlier by
/// someone else is kept).
pub fn install_crypto_provider() {
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Builds the HTTP client: TLS through rustls/ring with the system's root certificates, HTTP/2
/// by ALPN, connect and read timeouts (no total timeout: layers can be large), redirects followed
/// (reqwest drops `Authorization` when a redirect leaves the host, e.g. to a CDN).
pub fn build_http_client(user_agent: &str) -> oci_model::Result<reqwest::Client> {
    install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    for cert in loaded.certs {
        // Skip certificates rustls cannot parse rather than failing the whole client.
        let _ = roots.add(cert);
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            oci_model::Error::new(oci_model::ErrorKind::Internal, format!("TLS setup: {e}"))
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .user_agent(user_agent)
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .map_err(|e| {
            oci_model::Error::new(
                oci_model::ErrorKind::Internal,
                format!("building HTTP client: {e}"),
            )
        })
}

/// Classifies a reqwest failure: timeouts, connection failures (also a body that broke off), or
/// a protocol problem.
pub fn map_reqwest_error(url: &str, e: &reqwest::Error) -> RegistryError {
    let tls = is_tls_error(e);
    let kind = if e.is_timeout() {
        RegistryErrorKind::Timeout
    } else if tls {
        // A certificate or handshake failure will not fix itself on retry.
        RegistryErrorKind::Protocol
    } else if e.is_connect() || e.is_request() || e.is_body() || e.is_decode() {
        RegistryErrorKind::Connection
    } else if e.is_redirect() || e.is_builder() {
        RegistryErrorKind::Protocol
    } else {
        RegistryErrorKind::Connection
    };
    // reqwest's Display names the URL, which may carry tokens; use the error chain below it.
    let mut msg = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&s.to_string());
        source = s.source();
    }
    let what = match kind {
        RegistryErrorKind::Timeout => "request timed out",
        _ if tls => "tls error",
        RegistryErrorKind::Protocol => "request failed",
        _ if e.is_connect() => "connection failed",
        _ => "connection error",
    };
    // Refused connections and failed name lookups read as Go's net package words them, which is
    // what Docker prints. Docker names the registry's API root here (`Get "http://host/v2/"`, or
    // `/v1/_ping` for the v1 search API): the host, not the request, is what could not be reached.
    // Docker Hub's index is not pinged first, so a search there names the search URL itself.
    let shown = || {
        reqwest::Url::parse(url)
            .ok()
            .map(|mut u| {
                let v1 = u.path().starts_with("/v1/");
                if !(v1 && u.host_str() == Some("index.docker.io")) {
                    u.set_path(if v1 { "/v1/_ping" } else { "/v2/" });
                    u.set_query(None);
                }
                super::error::redact_url(u.as_str())
            })
            .unwrap_or_default()
    };
    if e.is_connect() && chain_has_io_kind(e, std::io::ErrorKind::ConnectionRefused) {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
            .unwrap_or_default();
        let mut err = RegistryError::new(
            kind,
            url,
            format!(
                "Get \"{}\": dial tcp {host}: connect: connection refused",
                shown()
            ),
        );
        err.unreachable = true;
        return err;
    }
    if e.is_connect() && msg.contains("dns error") {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let cause = innermost(e);
        // getaddrinfo's EAI_NONAME is Go's "no such host".
        let cause = if cause.contains("Name or service not known") {
            "no such host".to_string()
        } else {
            cause
        };
        let mut err = RegistryError::new(
            kind,
            url,
            format!("Get \"{}\": dial tcp: lookup {host}: {cause}", shown()),
        );
        err.unreachable = true;
        return err;
    }
    let message = if msg.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {msg}")
    };
    RegistryError::new(kind, url, message)
}

/// The text of the last error in the chain.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(s) = cur.source() {
        cur = s;
    }
    cur.to_string()
}

fn chain_has_io_kind(e: &(dyn std::error::Error + 'static), kind: std::io::ErrorKind) -> bool {
    let mut cur = Some(e);
    while let Some(s) = cur {
        if s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == kind)
        {
            return true;
        }
        cur = s.source();
    }
    false
}

/// Whether a rustls error is somewhere in the chain (io errors hide theirs behind `get_ref`).
fn is_tls_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(s) = cur {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && is_tls_error(inner)
        {
            return true;
        }
        cur = s.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_selection() {
        let none: Vec<String> = vec![];
        for plain in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.8.9.10",
            "[::1]:5000",
            "::1",
            "LOCALHOST:1",
        ] {
            assert!(is_plain_http(plain, &none), "{plain}");
        }
        for tls in [
            "registry.example.com",
            "10.0.0.1:5000",
            "128.0.0.1",
            "[2001:db8::1]:5000",
            "localhost.example.com",
            "docker.io",
        ] {
            assert!(!is_plain_http(tls, &none), "{tls}");
        }
        let insecure = vec![
            "myreg.lan:5000".to_string(),
            "http://other.lan/".to_string(),
        ];
        assert!(is_plain_http("myreg.lan:5000", &insecure));
        assert!(!is_plain_http("myreg.lan:5001", &insecure));
        assert!(
            is_plain_http("other.lan:8080", &insecure),
            "a bare host covers every port"
        );
    }

    #[test]
    fn endpoints() {
        let e = Endpoint::resolve("docker.io", &[]);
        assert_eq!(
            (e.host.as_str(), e.scheme),
            ("registry-1.docker.io", "https")
        );
        assert_eq!(e.domain, "docker.io");
        assert_eq!(
            e.url("library/alpine/manifests/latest"),
            "https://registry-1.docker.io/v2/library/alpine/manifests/latest"
        );
        let e = Endpoint::resolve("127.0.0.1:5000", &[]);
        assert_eq!(e.url(""), "http://127.0.0.1:5000/v2/");
        let e = Endpoint::resolve("[::1]:5000", &[]);
        assert_eq!(e.url(""), "http://[::1]:5000/v2/");
        assert_eq!(
            Endpoint::resolve("ghcr.io", &[]).url(""),
            "https://ghcr.io/v2/"
        );
    }

    #[test]
    fn link_header() {
        assert_eq!(
            parse_next_link(r#"</v2/foo/tags/list?last=a&n=1>; rel="next""#).as_deref(),
            Some("/v2/foo/tags/list?last=a&n=1")
        );
        assert_eq!(
            parse_next_link(r#"<https://r.example/v2/x?p=1>; rel="prev", <https://r.example/v2/x?p=3>; rel=next"#)
                .as_deref(),
            Some("https://r.example/v2/x?p=3")
        );
        assert_eq!(
            parse_next_link(r#"<https://r.example/a>; rel="prev""#),
            None
        );
        assert_eq!(parse_next_link(""), None);
        assert_eq!(
            parse_next_link(r#"<a>; title="x"; rel="last next""#).as_deref(),
            Some("a")
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Duration::from_millis(500);
        assert_eq!(backoff(b, 1), Duration::from_millis(500));
        assert_eq!(backoff(b, 2), Duration::from_millis(1000));
        assert_eq!(backoff(b, 4), Duration::from_millis(4000));
        assert_eq!(backoff(b, 40), Duration::from_secs(30));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    }
}
