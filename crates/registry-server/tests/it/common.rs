//! An in-process registry on a random loopback port, a reqwest client, raw HTTP for paths
//! reqwest would normalize, and small builders for blobs and manifests.

use oci_model::Digest;
use registry_server::Options;
use registry_server::server::{self, AppState};
pub use reqwest::Method;
use reqwest::Response;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: Arc<AppState>,
    /// The parent of the storage root, to check nothing lands beside it.
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(f: impl FnOnce(&mut Options)) -> TestServer {
        // reqwest is built without a default TLS provider (plain HTTP here, but it insists).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let mut opts = Options::new(&dir.path().join("root"));
        f(&mut opts);
        let (app, state) = server::build(&opts).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            addr,
            client: reqwest::Client::new(),
            state,
            dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// `GET path`, its body as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json().await.unwrap()
    }

    /// `method path` without a body.
    pub async fn send(&self, method: Method, path: &str) -> Response {
        self.client
            .request(method, self.url(path))
            .send()
            .await
            .unwrap()
    }

    /// `method path` with `bytes` as the body.
    pub async fn send_body(&self, method: Method, path: &str, bytes: &[u8]) -> Response {
        self.client
            .request(method, self.url(path))
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// `PATCH loc` with `bytes` as the chunk starting at byte `from` (`Content-Range`).
    pub async fn patch_chunk(&self, loc: &str, from: usize, bytes: &[u8]) -> Response {
        self.client
            .patch(self.url(loc))
            .header(
                "Content-Range",
                format!("{from}-{}", from + bytes.len() - 1),
            )
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Opens an upload session in `repo` (`POST /v2/<repo>/blobs/uploads/`, asserting 202);
    /// its `Location`.
    pub async fn start_upload(&self, repo: &str) -> String {
        let r = self
            .send(Method::POST, &format!("/v2/{repo}/blobs/uploads/"))
            .await;
        assert_eq!(r.status(), 202);
        r.headers()["location"].to_str().unwrap().to_string()
    }

    /// Uploads a blob monolithically (`POST ?digest=`), asserting 201.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> Digest {
        let d = Digest::of(bytes);
        let resp = self
            .send_body(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
                bytes,
            )
            .await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        d
    }

    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Response {
        self.client
            .put(self.url(&format!("/v2/{repo}/manifests/{reference}")))
            .header("Content-Type", media_type)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Pushes a one-layer image as `repo:tag`.
    pub async fn push_image(&self, repo: &str, tag: &str, seed: u8) -> Image {
        let config = format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"seed\":{seed}}}");
        let layer = data(seed, 3000);
        let config_digest = self.push_blob(repo, config.as_bytes()).await;
        let layer_digest = self.push_blob(repo, &layer).await;
        let manifest = image_manifest(
            OCI_MANIFEST,
            (&config_digest, config.len()),
            &[(&layer_digest, layer.len())],
        );
        let resp = self.put_manifest(repo, tag, OCI_MANIFEST, &manifest).await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        Image {
            digest: Digest::of(&manifest),
            manifest,
            config_digest,
            layer_digest,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

pub struct Image {
    pub digest: Digest,
    pub manifest: Vec<u8>,
    pub config_digest: Digest,
    pub layer_digest: Digest,
}

/// `n` deterministic pseudo-random bytes.
pub fn data(seed: u8, n: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(seed);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

pub fn image_manifest(mt: &str, config: (&Digest, usize), layers: &[(&Digest, usize)]) -> Vec<u8> {
    let config_mt = if mt == DOCKER_MANIFEST {
        "application/vnd.docker.container.image.v1+json"
    } else {
        OCI_CONFIG
    };
    let layer_mt = if mt == DOCKER_MANIFEST {
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    } else {
        OCI_LAYER
    };
    let layers: Vec<Value> = layers
        .iter()
        .map(|(d, s)| json!({"mediaType": layer_mt, "digest": d.to_string(), "size": s}))
        .collect();
    serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": mt,
        "config": {"mediaType": config_mt, "digest": config.0.to_string(), "size": config.1},
        "layers": layers,
    }))
    .unwrap()
}

pub fn index(mt: &str, children: &[(&str, &Digest, usize)]) -> Vec<u8> {
    let manifests: Vec<Value> = children
        .iter()
        .map(|(cmt, d, s)| {
            json!({"mediaType": cmt, "digest": d.to_string(), "size": s,
                   "platform": {"architecture": "amd64", "os": "linux"}})
        })
        .collect();
    serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": mt, "manifests": manifests}))
        .unwrap()
}

/// The first error code of a spec error body.
pub async fn code(resp: Response) -> String {
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A raw HTTP/1.1 exchange (for paths clients normalize): status and body.
pub async fn raw(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Every file under `dir`, relative.
pub fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}
