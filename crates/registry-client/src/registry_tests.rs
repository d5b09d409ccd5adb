//! The client against real servers on loopback: Debian's `docker-registry` (CNCF distribution
//! 2.8) for the protocol, and a tiny scripted HTTP server for faults a healthy registry never
//! produces (503s, broken bodies, wrong content, a token server).

use super::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `docker-registry serve` process on 127.0.0.1:<free port>, killed on drop.
struct Registry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// `htpasswd`: a bcrypt line (`user:$2y$…`) to require Basic auth.
    fn start(htpasswd: Option<&str>) -> Option<Registry> {
        if !Path::new(REGISTRY_BIN).exists() {
            eprintln!("skipping: {REGISTRY_BIN} is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let auth = match htpasswd {
            Some(line) => {
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, format!("{line}\n")).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: strata-test\n    path: {}\n",
                    file.display()
                )
            }
            None => String::new(),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: {addr}\n{auth}",
            root = dir.path().join("data").display()
        );
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut reg = Registry {
            child,
            addr,
            _dir: dir,
        };
        for _ in 0..200 {
            if TcpStream::connect(&reg.addr).is_ok() {
                return Some(reg);
            }
            if let Ok(Some(status)) = reg.child.try_wait() {
                let log = std::fs::read_to_string(reg._dir.path().join("registry.log"))
                    .unwrap_or_default();
                panic!("docker-registry exited with {status}: {log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry did not listen on {}", reg.addr);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pushes with plain reqwest calls: `POST …/blobs/uploads/` then `PUT <location>?digest=`.
struct Pusher {
    http: reqwest::Client,
    base: String,
    authz: Option<String>,
}

impl Pusher {
    fn new(addr: &str, authz: Option<String>) -> Pusher {
        transport::install_crypto_provider();
        Pusher {
            http: reqwest::Client::new(),
            base: format!("http://{addr}"),
            authz,
        }
    }

    fn req(&self, m: Method, url: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(m, url);
        match &self.authz {
            Some(a) => rb.header(header::AUTHORIZATION, a),
            None => rb,
        }
    }

    async fn blob(&self, repo: &str, data: &[u8]) -> Digest {
        let digest = Digest::of(data);
        let resp = self
            .req(
                Method::POST,
                &format!("{}/v2/{repo}/blobs/uploads/", self.base),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "{:?}", resp.text().await);
        let loc = resp.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_string();
        let mut url = url::Url::parse(&self.base).unwrap().join(&loc).unwrap();
        url.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let resp = self
            .req(Method::PUT, url.as_str())
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(data.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
        digest
    }

    async fn manifest(&self, repo: &str, tag: &str, media_type: &str, bytes: &[u8]) {
        let resp = self
            .req(
                Method::PUT,
                &format!("{}/v2/{repo}/manifests/{tag}", self.base),
            )
            .header(header::CONTENT_TYPE, media_type)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    }
}

/// Pushes a one-layer image under `tags`; returns (manifest bytes, config bytes, layer bytes).
async fn push_image(p: &Pusher, repo: &str, tags: &[&str]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let layer: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let cd = p.blob(repo, &config).await;
    let ld = p.blob(repo, &layer).await;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{mt}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{cs}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{ld}","size":{ls}}}]}}"#,
        mt = oci_model::media_type::OCI_MANIFEST,
        cs = config.len(),
        ls = layer.len()
    )
    .into_bytes();
    for t in tags {
        p.manifest(repo, t, oci_model::media_type::OCI_MANIFEST, &manifest)
            .await;
    }
    (manifest, config, layer)
}

fn fast_opts() -> ClientOptions {
    ClientOptions {
        max_attempts: 3,
        retry_base: Duration::from_millis(10),
        ..Default::default()
    }
}

/// Options whose config.json lookups read an empty temp dir, not the user's.
fn isolated_opts(dir: &Path) -> ClientOptions {
    ClientOptions {
        docker_config_dir: Some(dir.to_path_buf()),
        ..fast_opts()
    }
}

/// A client with [`isolated_opts`] over a fresh empty config dir (kept alive by the caller).
fn isolated_client() -> (tempfile::TempDir, RegistryClient) {
    let cfg = tempfile::tempdir().unwrap();
    let c = RegistryClient::new(isolated_opts(cfg.path())).unwrap();
    (cfg, c)
}

async fn collect(mut s: BlobStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

#[tokio::test]
async fn pull_protocol_against_distribution() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let p = Pusher::new(&reg.addr, None);
    let (manifest, config, layer) = push_image(&p, "strata/test", &["v1", "v2", "v3"]).await;
    let (_cfg, c) = isolated_client();
    let d = reg.addr.as_str();

    let m = c.get_manifest(d, "strata/test", "v2").await.unwrap();
    assert_eq!(&m.bytes[..], &manifest[..]);
    assert_eq!(m.digest, Digest::of(&manifest));
    assert_eq!(
        m.content_type.as_deref(),
        Some(oci_model::media_type::OCI_MANIFEST)
    );
    let by_digest = c
        .get_manifest(d, "strata/test", &m.digest.to_string())
        .await
        .unwrap();
    assert_eq!(by_digest.bytes, m.bytes);

    let head = c
        .head_manifest(d, "strata/test", "v1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        head,
        (
            m.digest.clone(),
            oci_model::media_type::OCI_MANIFEST.to_string(),
            manifest.len() as u64
        )
    );
    assert_eq!(
        c.head_manifest(d, "strata/test", "nope").await.unwrap(),
        None
    );

    let ld = Digest::of(&layer);
    let full = c.get_blob(d, "strata/test", &ld, 0).await.unwrap();
    assert!(!full.resumed);
    assert_eq!(full.total, Some(layer.len() as u64));
    assert_eq!(collect(full.stream).await, layer);

    let part = c.get_blob(d, "strata/test", &ld, 150_000).await.unwrap();
    assert!(part.resumed, "distribution honours Range");
    assert_eq!(part.total, Some(layer.len() as u64));
    assert_eq!(collect(part.stream).await, &layer[150_000..]);
    let past = c
        .get_blob(d, "strata/test", &ld, layer.len() as u64)
        .await
        .unwrap_err();
    assert_eq!(
        (past.kind, past.status),
        (RegistryErrorKind::Http, Some(416)),
        "{past}"
    );

    let cd = Digest::of(&config);
    assert_eq!(
        &c.get_blob_bytes(d, "strata/test", &cd, 1 << 20)
            .await
            .unwrap()[..],
        &config[..]
    );
    let e = c
        .get_blob_bytes(d, "strata/test", &ld, 1000)
        .await
        .unwrap_err();
    assert_eq!(e.kind, RegistryErrorKind::Protocol, "{e}");

    let mut tags = c.list_tags(d, "strata/test").await.unwrap();
    tags.sort();
    assert_eq!(tags, ["v1", "v2", "v3"]);
    let mut paged = c.list_tags_paged(d, "strata/test", Some(1)).await.unwrap();
    paged.sort();
    assert_eq!(paged, ["v1", "v2", "v3"]);

    // Error codes as the registry sends them.
    let e = c.get_manifest(d, "strata/test", "nope").await.unwrap_err();
    assert_eq!(
        (e.status, e.kind, e.code_str()),
        (Some(404), RegistryErrorKind::Http, Some("MANIFEST_UNKNOWN"))
    );
    assert_eq!(e.docker_suffix(), "manifest unknown: manifest unknown");
    assert!(!e.is_temporary());
    // distribution 2.8 answers a tag in an unknown repository with MANIFEST_UNKNOWN…
    let e = c
        .get_manifest(d, "strata/missing", "latest")
        .await
        .unwrap_err();
    assert_eq!(e.code_str(), Some("MANIFEST_UNKNOWN"), "{e}");
    assert_eq!(e.detail.as_deref(), Some(r#"{"Tag":"latest"}"#));
    // …and the tag list of one with NAME_UNKNOWN.
    let e = c.list_tags(d, "strata/missing").await.unwrap_err();
    assert_eq!(e.code_str(), Some("NAME_UNKNOWN"), "{e}");
    assert_eq!(
        e.docker_suffix(),
        "name unknown: repository name not known to registry"
    );
    let e = c
        .get_blob(d, "strata/test", &Digest::of(b"absent"), 0)
        .await
        .unwrap_err();
    assert_eq!((e.status, e.code_str()), (Some(404), Some("BLOB_UNKNOWN")));
    let e = c
        .get_manifest(d, "strata/test", &Digest::of(b"absent").to_string())
        .await
        .unwrap_err();
    assert_eq!(e.code_str(), Some("MANIFEST_UNKNOWN"));
}

#[tokio::test]
async fn parallel_blob_reads_share_one_client() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let p = Pusher::new(&reg.addr, None);
    let (_, _, layer) = push_image(&p, "par/img", &["latest"]).await;
    let (_cfg, c) = isolated_client();
    let ld = Digest::of(&layer);
    let tasks: Vec<_> = (0..4u64)
        .map(|i| {
            let (c, ld, addr) = (c.clone(), ld.clone(), reg.addr.clone());
            tokio::spawn(async move {
                let off = i * 1000;
                let b = c.get_blob(&addr, "par/img", &ld, off).await.unwrap();
                (off, b.resumed, collect(b.stream).await)
            })
        })
        .collect();
    for t in tasks {
        let (off, resumed, bytes) = t.await.unwrap();
        assert_eq!(resumed, off > 0);
        assert_eq!(bytes, &layer[off as usize..]);
    }
}

#[tokio::test]
async fn connection_refused_is_a_temporary_connection_error() {
    let port = free_port();
    let cfg = tempfile::tempdir().unwrap();
    let c = RegistryClient::new(ClientOptions {
        max_attempts: 2,
        ..isolated_opts(cfg.path())
    })
    .unwrap();
    let e = c
        .get_manifest(&format!("127.0.0.1:{port}"), "a/b", "latest")
        .await
        .unwrap_err();
    assert_eq!(e.kind, RegistryErrorKind::Connection, "{e}");
    assert!(e.is_temporary());
    assert_eq!(e.status, None);
    assert_eq!(
        e.url,
        format!("http://127.0.0.1:{port}/v2/a/b/manifests/latest")
    );
}

fn htpasswd_line(user: &str, pass: &str) -> Option<String> {
    let out = Command::new("htpasswd")
        .args(["-Bbn", user, pass])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}

#[tokio::test]
async fn basic_auth_with_htpasswd() {
    let Some(line) = htpasswd_line("alice", "wonder-land") else {
        eprintln!("skipping: htpasswd (apache2-utils) is not installed");
        return;
    };
    let Some(reg) = Registry::start(Some(&line)) else {
        return;
    };
    let p = Pusher::new(&reg.addr, Some(auth::basic_header("alice", "wonder-land")));
    let (manifest, _, _) = push_image(&p, "priv/img", &["latest"]).await;
    let d = reg.addr.as_str();

    // Anonymous against a Basic registry: Docker's "no basic auth credentials", as a 401.
    let empty = tempfile::tempdir().unwrap();
    let anon = RegistryClient::new(isolated_opts(empty.path())).unwrap();
    let e = anon
        .get_manifest(d, "priv/img", "latest")
        .await
        .unwrap_err();
    assert_eq!(
        (e.status, e.code_str()),
        (Some(401), Some("UNAUTHORIZED")),
        "{e}"
    );
    assert_eq!(e.kind, RegistryErrorKind::NoCredentials);
    assert!(
        e.to_string()
            .ends_with("/v2/priv/img/manifests/latest\": no basic auth credentials"),
        "{e}"
    );
    assert!(!e.is_temporary());

    // A wrong password fails login, and the password is not echoed.
    let e = anon
        .login(d, "alice", "not-the-password")
        .await
        .unwrap_err();
    assert_eq!(e.status, Some(401), "{e}");
    assert!(!e.to_string().contains("not-the-password"));
    // A right one succeeds, and the client then uses it.
    anon.login(&format!("http://{d}/v2/"), "alice", "wonder-land")
        .await
        .unwrap();
    assert_eq!(
        &anon
            .get_manifest(d, "priv/img", "latest")
            .await
            .unwrap()
            .bytes[..],
        &manifest[..]
    );

    // Credentials saved in config.json are found by a fresh client.
    let cfg = tempfile::tempdir().unwrap();
    store_credentials(Some(cfg.path()), d, "alice", "wonder-land").unwrap();
    let c = RegistryClient::new(isolated_opts(cfg.path())).unwrap();
    assert_eq!(c.list_tags(d, "priv/img").await.unwrap(), ["latest"]);
    assert!(
        c.head_manifest(d, "priv/img", "latest")
            .await
            .unwrap()
            .is_some()
    );
}

// ---- scripted server ------------------------------------------------------------------------

type Handler = dyn Fn(usize, &str) -> Vec<u8> + Send + Sync;

/// Answers each connection with `handler(n, request head + body)`, n counting from 0, then
/// closes it.
struct Scripted {
    addr: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    fn start(handler: Box<Handler>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let Ok(mut conn) = conn else { return };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match conn.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                let mut head = String::from_utf8_lossy(&head).to_string();
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_string())
                    })
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; len];
                if conn.read_exact(&mut body).is_ok() {
                    head.push_str(&String::from_utf8_lossy(&body));
                }
                log.lock().unwrap().push(head.clone());
                let _ = conn.write_all(&handler(n, &head));
                let _ = conn.flush();
            }
        });
        Scripted { addr, requests }
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

#[tokio::test]
async fn retries_5xx_then_succeeds() {
    let srv = Scripted::start(Box::new(|n, _| {
        if n < 2 {
            response("503 Service Unavailable", &[], b"")
        } else {
            response(
                "200 OK",
                &[("Content-Type", oci_model::media_type::OCI_INDEX)],
                b"{}",
            )
        }
    }));
    let (_cfg, c) = isolated_client();
    let m = c.get_manifest(&srv.addr, "a/b", "latest").await.unwrap();
    assert_eq!(&m.bytes[..], b"{}");
    assert_eq!(srv.count(), 3);
    assert!(
        srv.requests.lock().unwrap()[0]
            .to_ascii_lowercase()
            .contains("accept: application/vnd.docker.distribution.manifest.v2+json")
    );
}

#[tokio::test]
async fn gives_up_after_max_attempts_and_does_not_retry_4xx() {
    let srv = Scripted::start(Box::new(|_, head| {
        if head.contains("/v2/busy/") {
            response(
                "429 Too Many Requests",
                &[],
                br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
            )
        } else {
            response(
                "400 Bad Request",
                &[],
                br#"{"errors":[{"code":"MANIFEST_INVALID","message":"bad"}]}"#,
            )
        }
    }));
    let (_cfg, c) = isolated_client();
    let e = c
        .get_manifest(&srv.addr, "busy/x", "latest")
        .await
        .unwrap_err();
    assert_eq!(
        (e.status, e.code_str()),
        (Some(429), Some("TOOMANYREQUESTS"))
    );
    assert_eq!(e.docker_suffix(), "toomanyrequests: slow down");
    assert_eq!(srv.count(), 3, "max_attempts = 3");
    let e = c
        .get_manifest(&srv.addr, "other/x", "latest")
        .await
        .unwrap_err();
    assert_eq!(e.code_str(), Some("MANIFEST_INVALID"));
    assert_eq!(srv.count(), 4, "a 400 is not retried");
}

#[tokio::test]
async fn wrong_content_is_corrupt() {
    let srv = Scripted::start(Box::new(|_, _| {
        response(
            "200 OK",
            &[("Content-Type", "application/json")],
            b"{\"not\":\"it\"}",
        )
    }));
    let (_cfg, c) = isolated_client();
    let want = Digest::of(b"the real manifest");
    let e = c
        .get_manifest(&srv.addr, "a/b", &want.to_string())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RegistryErrorKind::Corrupt, "{e}");
    let e = c
        .get_blob_bytes(&srv.addr, "a/b", &want, 1 << 20)
        .await
        .unwrap_err();
    assert_eq!(e.kind, RegistryErrorKind::Corrupt, "{e}");
    assert!(e.message.contains("digest mismatch"));
}

#[tokio::test]
async fn broken_blob_stream_surfaces_a_temporary_error_and_is_not_retried() {
    let srv = Scripted::start(Box::new(|_, _| {
        // Promise 1000 bytes, send 10, close.
        let mut r = response("200 OK", &[], b"");
        let s = String::from_utf8(r.clone())
            .unwrap()
            .replace("Content-Length: 0", "Content-Length: 1000");
        r = s.into_bytes();
        r.extend_from_slice(b"0123456789");
        r
    }));
    let (_cfg, c) = isolated_client();
    let mut b = c
        .get_blob(&srv.addr, "a/b", &Digest::of(b"x"), 0)
        .await
        .unwrap();
    assert_eq!(b.total, Some(1000));
    let mut got = Vec::new();
    let mut err = None;
    while let Some(item) = b.stream.next().await {
        match item {
            Ok(chunk) => got.extend_from_slice(&chunk),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    assert_eq!(got, b"0123456789");
    let err = err.expect("a truncated body is an error");
    assert!(err.is_temporary(), "{err:?}");
    assert_eq!(srv.count(), 1);
}

#[tokio::test]
async fn bearer_token_flow_and_cache() {
    let tokens_issued = Arc::new(Mutex::new(0usize));
    let issued = tokens_issued.clone();
    let srv_addr = Arc::new(Mutex::new(String::new()));
    let addr_for_handler = srv_addr.clone();
    let srv = Scripted::start(Box::new(move |_, head| {
        let first = head.lines().next().unwrap_or_default().to_string();
        let lower = head.to_ascii_lowercase();
        if first.starts_with("GET /token?") {
            // Basic credentials from config.json must be presented to the token server.
            assert!(
                lower.contains(&format!(
                    "authorization: {}",
                    auth::basic_header("bob", "pw").to_ascii_lowercase()
                )),
                "{head}"
            );
            assert!(first.contains("service=test-registry"), "{first}");
            assert!(first.contains("scope=repository%3Aa%2Fb%3Apull"), "{first}");
            *issued.lock().unwrap() += 1;
            return response(
                "200 OK",
                &[("Content-Type", "application/json")],
                br#"{"access_token":"tok-123","expires_in":30}"#,
            );
        }
        if lower.contains("authorization: bearer tok-123") {
            return response(
                "200 OK",
                &[("Content-Type", oci_model::media_type::OCI_INDEX)],
                b"{}",
            );
        }
        let realm = format!("http://{}/token", addr_for_handler.lock().unwrap());
        let ch = format!(
            r#"Bearer realm="{realm}",service="test-registry",scope="repository:a/b:pull""#
        );
        response(
            "401 Unauthorized",
            &[("WWW-Authenticate", &ch)],
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        )
    }));
    *srv_addr.lock().unwrap() = srv.addr.clone();
    let cfg = tempfile::tempdir().unwrap();
    store_credentials(Some(cfg.path()), &srv.addr, "bob", "pw").unwrap();
    let c = RegistryClient::new(isolated_opts(cfg.path())).unwrap();
    c.get_manifest(&srv.addr, "a/b", "latest").await.unwrap();
    // Cached token (expires_in 30 → 60 s): sent up front, no new 401, no new token.
    let before = srv.count();
    c.get_manifest(&srv.addr, "a/b", "v2").await.unwrap();
    assert_eq!(srv.count(), before + 1);
    assert_eq!(*tokens_issued.lock().unwrap(), 1);
    let reqs = srv.requests.lock().unwrap().clone();
    assert_eq!(
        reqs.iter().filter(|r| r.starts_with("GET /token")).count(),
        1
    );
    // The same scope again: still the cached token.
    c.get_manifest(&srv.addr, "a/b", "v3").await.unwrap();
    assert_eq!(*tokens_issued.lock().unwrap(), 1);
}

/// A token server (the realm) on the same scripted server; `/v2/` answers 401 with a challenge.
fn token_server(
    check_token_request: impl Fn(&str) -> Option<Vec<u8>> + Send + Sync + 'static,
) -> Scripted {
    let addr = Arc::new(Mutex::new(String::new()));
    let a = addr.clone();
    let srv = Scripted::start(Box::new(move |_, req| {
        if let Some(answer) = check_token_request(req) {
            return answer;
        }
        if req
            .to_ascii_lowercase()
            .contains("authorization: bearer good-token")
        {
            return response(
                "200 OK",
                &[("Content-Type", oci_model::media_type::OCI_INDEX)],
                b"{}",
            );
        }
        let ch = format!(
            r#"Bearer realm="http://{}/token",service="svc""#,
            a.lock().unwrap()
        );
        response("401 Unauthorized", &[("WWW-Authenticate", &ch)], b"")
    }));
    *addr.lock().unwrap() = srv.addr.clone();
    srv
}

#[tokio::test]
async fn identity_token_uses_the_oauth2_refresh_grant() {
    let srv = token_server(|req| {
        if !req.contains("/token") {
            return None;
        }
        assert!(req.starts_with("POST /token "), "{req}");
        assert!(
            req.contains("grant_type=refresh_token&refresh_token=my-refresh"),
            "{req}"
        );
        assert!(req.contains("scope=repository%3Aa%2Fb%3Apull"), "{req}");
        Some(response("200 OK", &[], br#"{"token":"good-token"}"#))
    });
    let cfg = tempfile::tempdir().unwrap();
    store_credentials(Some(cfg.path()), &srv.addr, "<token>", "my-refresh").unwrap();
    let c = RegistryClient::new(isolated_opts(cfg.path())).unwrap();
    c.get_manifest(&srv.addr, "a/b", "latest").await.unwrap();
    assert_eq!(srv.count(), 3, "401, token, retry");
}

#[tokio::test]
async fn login_with_token_flow_and_redacted_rejection() {
    let srv = token_server(|req| {
        if !req.starts_with("GET /token") {
            return None;
        }
        if req.contains(&auth::basic_header("dave", "right-pass")) {
            Some(response(
                "200 OK",
                &[],
                br#"{"access_token":"good-token","expires_in":3600}"#,
            ))
        } else {
            // A server that echoes what it got must not leak it through our errors.
            Some(response(
                "401 Unauthorized",
                &[],
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password wrong-pass"}]}"#,
            ))
        }
    });
    let (_cfg, c) = isolated_client();
    let e = c.login(&srv.addr, "dave", "wrong-pass").await.unwrap_err();
    assert_eq!((e.status, e.code_str()), (Some(401), Some("UNAUTHORIZED")));
    assert!(!format!("{e} {e:?}").contains("wrong-pass"), "{e:?}");
    assert!(
        e.docker_suffix()
            .starts_with("unauthorized: incorrect username or password")
    );
    c.login(&srv.addr, "dave", "right-pass").await.unwrap();
    // The /v2/ check asks the token server for no scope.
    let reqs = srv.requests.lock().unwrap().clone();
    assert!(
        reqs.iter()
            .filter(|r| r.starts_with("GET /token"))
            .all(|r| !r.contains("scope="))
    );
    // The client now pulls with those credentials.
    c.get_manifest(&srv.addr, "a/b", "latest").await.unwrap();
}

/// `openssl s_server` with a fresh self-signed certificate, killed on drop.
struct TlsServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl TlsServer {
    fn start() -> Option<TlsServer> {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("skipping: openssl is not available");
            return None;
        }
        let port = free_port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let srv = TlsServer {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(srv);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("openssl s_server did not listen");
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Loopback registries are always plain HTTP, so the HTTPS stack is checked on its own: the
/// ring provider and native roots handshake, refuse an unknown certificate, and that refusal is
/// a permanent error rather than a retried connection failure.
#[tokio::test]
async fn tls_stack_rejects_untrusted_certificates_permanently() {
    let Some(srv) = TlsServer::start() else {
        return;
    };
    let http = transport::build_http_client("strata-test").unwrap();
    let url = format!("https://127.0.0.1:{}/v2/", srv.port);
    let err = http.get(&url).send().await.unwrap_err();
    let e = transport::map_reqwest_error(&url, &err);
    assert_eq!(e.kind, RegistryErrorKind::Protocol, "{e}");
    assert!(!e.is_temporary());
    assert!(
        e.message.to_ascii_lowercase().contains("certificate"),
        "{e}"
    );
}

#[path = "upload_tests.rs"]
mod upload_tests;
