//! A tiny token issuer for distribution's `auth: token` mode.
//!
//! It serves `GET /token?service=..&scope=..` on a loopback `TcpListener` thread and answers with
//! a JWT signed ES256 by a P-256 key that `openssl` generated at start. The JWT header carries the
//! self-signed certificate in `x5c`; the registry trusts that same certificate as its
//! `rootcertbundle`. Only the configured user/password gets the requested actions; anonymous requests get
//! a valid token with an empty `access` list (so the registry answers 401/denied on repositories);
//! wrong credentials are refused with 401, as Docker Hub's auth service does.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `iss` claim the issuer signs and the registry expects.
pub const ISSUER: &str = "strata-test-token-issuer";

/// Key material made by `openssl`: a P-256 key and a self-signed certificate for it.
pub struct SigningKey {
    pub cert_pem_path: PathBuf,
    pub cert_der: Vec<u8>,
    pub pkcs8_der: Vec<u8>,
}

fn openssl(args: &[&str]) -> Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .context("running openssl")?;
    if !out.status.success() {
        bail!(
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl SigningKey {
    /// Generates the key and certificate in `dir` with the `openssl` CLI.
    pub fn generate(dir: &Path) -> Result<SigningKey> {
        let p = |n: &str| dir.join(n).to_str().expect("utf-8 temp path").to_string();
        let (key, cert, p8, cder) = (
            p("token.key.pem"),
            p("token.crt.pem"),
            p("token.key.p8.der"),
            p("token.crt.der"),
        );
        openssl(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &key,
        ])?;
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            &key,
            "-out",
            &cert,
            "-days",
            "2",
            "-subj",
            "/CN=strata-test-token-issuer",
        ])?;
        openssl(&[
            "pkcs8", "-topk8", "-nocrypt", "-in", &key, "-outform", "DER", "-out", &p8,
        ])?;
        openssl(&["x509", "-in", &cert, "-outform", "DER", "-out", &cder])?;
        Ok(SigningKey {
            cert_pem_path: PathBuf::from(cert),
            cert_der: std::fs::read(&cder)?,
            pkcs8_der: std::fs::read(&p8)?,
        })
    }
}

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

struct Issuer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    cert_der: Vec<u8>,
    user: String,
    pass: String,
    counter: AtomicU64,
}

/// One `access` entry of a registry token.
fn access_for(scopes: &[String], authorized: bool) -> Vec<Value> {
    if !authorized {
        return Vec::new();
    }
    let mut out = Vec::new();
    for scope in scopes {
        // type:name:actions, where the name may itself contain ':' (a port) — actions are after the last ':'.
        let Some((type_name, actions)) = scope.rsplit_once(':') else {
            continue;
        };
        let Some((typ, name)) = type_name.split_once(':') else {
            continue;
        };
        let granted: Vec<&str> = match typ {
            "repository" => actions
                .split(',')
                .filter(|a| matches!(*a, "pull" | "push"))
                .collect(),
            "registry" if name == "catalog" => actions.split(',').filter(|a| *a == "*").collect(),
            _ => Vec::new(),
        };
        out.push(json!({"type": typ, "name": name, "actions": granted}));
    }
    out
}

impl Issuer {
    fn issue(
        &self,
        service: &str,
        scopes: &[String],
        basic: Option<(String, String)>,
    ) -> Result<String> {
        let authorized = basic
            .as_ref()
            .is_some_and(|(u, p)| *u == self.user && *p == self.pass);
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let header = json!({
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.cert_der)],
        });
        let claims = json!({
            "iss": ISSUER,
            "sub": basic.as_ref().map(|(u, _)| u.as_str()).unwrap_or(""),
            "aud": service,
            "exp": now + 600,
            "nbf": now - 30,
            "iat": now - 30,
            "jti": format!("{now}-{}", self.counter.fetch_add(1, Ordering::Relaxed)),
            "access": access_for(scopes, authorized),
        });
        let signing_input = format!(
            "{}.{}",
            b64url(&serde_json::to_vec(&header)?),
            b64url(&serde_json::to_vec(&claims)?)
        );
        let sig = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| anyhow::anyhow!("ES256 signing failed"))?;
        Ok(format!("{signing_input}.{}", b64url(sig.as_ref())))
    }

    fn handle(&self, mut stream: TcpStream) -> Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > 64 * 1024 {
                bail!("request headers too large");
            }
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        let mut lines = text.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let mut basic = None;
        for line in lines {
            if let Some((k, v)) = line.split_once(':')
                && k.trim().eq_ignore_ascii_case("authorization")
                && let Some(enc) = v.trim().strip_prefix("Basic ")
                && let Ok(dec) = base64::engine::general_purpose::STANDARD.decode(enc.trim())
                && let Some((u, p)) = String::from_utf8_lossy(&dec).split_once(':')
            {
                basic = Some((u.to_string(), p.to_string()));
            }
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let (status, body) = if method != "GET" || path != "/token" {
            ("404 Not Found", json!({"error": "not found"}))
        } else {
            let mut service = String::new();
            let mut scopes = Vec::new();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let v = percent_decode(v);
                match k {
                    "service" => service = v,
                    "scope" => {
                        scopes.extend(v.split(' ').filter(|s| !s.is_empty()).map(str::to_string))
                    }
                    _ => {}
                }
            }
            // Like Docker Hub's auth service: wrong credentials are refused outright; anonymous
            // requests get a valid token with no access (the registry then answers 401/denied).
            if basic
                .as_ref()
                .is_some_and(|(u, p)| *u != self.user || *p != self.pass)
            {
                (
                    "401 Unauthorized",
                    json!({"details": "incorrect username or password"}),
                )
            } else {
                let token = self.issue(&service, &scopes, basic)?;
                (
                    "200 OK",
                    json!({"token": token, "access_token": token, "expires_in": 600}),
                )
            }
        };
        let body = serde_json::to_vec(&body)?;
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(&body)?;
        Ok(())
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A running token issuer; stops its thread on drop.
pub struct TokenServer {
    pub addr: String,
    pub cert_pem_path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TokenServer {
    /// Generates a key in `dir` and starts serving on a free loopback port.
    pub fn start(dir: &Path, user: &str, pass: &str) -> Result<TokenServer> {
        let key = SigningKey::generate(dir)?;
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.pkcs8_der,
            &SystemRandom::new(),
        )
        .map_err(|e| anyhow::anyhow!("ring rejected the openssl PKCS#8 key: {e}"))?;
        let issuer = Arc::new(Issuer {
            key: pair,
            rng: SystemRandom::new(),
            cert_der: key.cert_der,
            user: user.to_string(),
            pass: pass.to_string(),
            counter: AtomicU64::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let issuer = issuer.clone();
                std::thread::spawn(move || {
                    if let Err(e) = issuer.handle(conn) {
                        eprintln!("token issuer: {e:#}");
                    }
                });
            }
        });
        Ok(TokenServer {
            addr,
            cert_pem_path: key.cert_pem_path,
            stop,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT/token`
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_part(part: &str) -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn issues_verifiable_es256_tokens_with_access_only_for_right_creds() {
        let dir = tempfile::tempdir().unwrap();
        let server = TokenServer::start(dir.path(), "alice", "s3cret").unwrap();
        let get = |auth: Option<(&str, &str)>| {
            let mut headers = Vec::new();
            let a;
            if let Some((u, p)) = auth {
                a = crate::http::basic_auth(u, p);
                headers.push(("Authorization", a.as_str()));
            }
            crate::http::request(
                &server.addr,
                "GET",
                "/token?service=reg&scope=repository%3Alib%2Fx%3Apull%2Cpush%2Cdelete",
                &headers,
                &[],
            )
            .unwrap()
        };
        let ok = get(Some(("alice", "s3cret")));
        assert_eq!(ok.status, 200, "{}", ok.body_str());
        let token = serde_json::from_slice::<Value>(&ok.body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode_part(parts[0]);
        assert_eq!(header["alg"], "ES256");
        let claims = decode_part(parts[1]);
        assert_eq!(claims["aud"], "reg");
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(
            claims["access"],
            json!([{"type": "repository", "name": "lib/x", "actions": ["pull", "push"]}])
        );

        // The signature verifies against the certificate's public key.
        let key_pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &std::fs::read(dir.path().join("token.key.p8.der")).unwrap(),
            &SystemRandom::new(),
        )
        .unwrap();
        use ring::signature::KeyPair as _;
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            key_pair.public_key().as_ref().to_vec(),
        );
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap();
        public
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();

        let anon = get(None);
        assert_eq!(anon.status, 200);
        let anon_token = serde_json::from_slice::<Value>(&anon.body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            decode_part(anon_token.split('.').nth(1).unwrap())["access"],
            json!([])
        );

        let wrong = get(Some(("alice", "wrong")));
        assert_eq!(wrong.status, 401);
    }
}
