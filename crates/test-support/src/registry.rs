//! Real registries on 127.0.0.1: CNCF distribution (`/usr/bin/docker-registry`, v2.8), or
//! strata's own (`strata registry serve`, [`Registry::start_strata`]) behind the same API.

use crate::http::{self, RegistryClient, Response};
use crate::token::{ISSUER, TokenServer};
use anyhow::{Context, Result, bail};
use oci_model::Digest;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The registry binary (Debian's `docker-registry` package).
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
/// The `service` name the token-auth registry announces and expects as `aud`.
pub const TOKEN_SERVICE: &str = "strata-test-registry";

/// Every manifest media type, so distribution never down-converts (it rewrites schema 2 to
/// schema 1 for clients that do not accept schema 2).
pub const ACCEPT_ALL_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// When set to a `strata` binary, [`Registry::start`] runs `strata registry serve` instead of
/// distribution.
pub const STRATA_REGISTRY_ENV: &str = "STRATA_TEST_REGISTRY_BIN";

/// Response header carrying a per-registry marker (set through `http.headers`).
pub const INSTANCE_HEADER: &str = "X-Strata-Test-Instance";

/// How a registry authenticates clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKind {
    Anonymous,
    Htpasswd,
    Token,
}

/// Which registry implementation a [`Registry`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// CNCF distribution (Debian's `docker-registry`).
    Distribution,
    /// `strata registry serve`.
    Strata,
}

/// A running registry process; dropping it kills and reaps the process and deletes its storage.
pub struct Registry {
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub auth: AuthKind,
    pub server: Server,
    /// The credentials the registry accepts (`None` for an anonymous registry).
    pub creds: Option<(String, String)>,
    child: Child,
    token: Option<TokenServer>,
    storage: PathBuf,
    log_path: PathBuf,
    // Last, so the process is gone before the directory is removed.
    dir: TempDir,
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

/// Whether the registry binary is installed.
pub fn registry_available() -> bool {
    Path::new(REGISTRY_BIN).exists()
}

impl Registry {
    /// An anonymous plain-HTTP registry with deletes enabled: distribution, or strata's own
    /// when `STRATA_TEST_REGISTRY_BIN` names a `strata` binary (to run a suite against both).
    pub fn start() -> Result<Registry> {
        if let Some(bin) = std::env::var_os(STRATA_REGISTRY_ENV).filter(|b| !b.is_empty()) {
            return Self::start_strata(Path::new(&bin));
        }
        Self::start_kind(AuthKind::Anonymous, None)
    }

    /// An anonymous distribution registry whatever `STRATA_TEST_REGISTRY_BIN` says, for tests of
    /// what only it does (no `/v1/search`, for one).
    pub fn start_distribution() -> Result<Registry> {
        Self::start_kind(AuthKind::Anonymous, None)
    }

    /// A registry that requires HTTP Basic auth checked against a bcrypt htpasswd file.
    pub fn start_htpasswd(user: &str, pass: &str) -> Result<Registry> {
        Self::start_kind(AuthKind::Htpasswd, Some((user, pass)))
    }

    /// A registry that requires bearer tokens from this crate's token issuer.
    pub fn start_token(user: &str, pass: &str) -> Result<Registry> {
        Self::start_kind(AuthKind::Token, Some((user, pass)))
    }

    fn start_kind(kind: AuthKind, creds: Option<(&str, &str)>) -> Result<Registry> {
        if !registry_available() {
            bail!("{REGISTRY_BIN} is not installed (Debian package docker-registry)");
        }
        let dir = tempfile::Builder::new()
            .prefix("strata-registry-")
            .tempdir()?;
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage)?;
        let (auth_yaml, token) = match (&kind, creds) {
            (AuthKind::Anonymous, _) => (String::new(), None),
            (AuthKind::Htpasswd, Some((user, pass))) => {
                let file = dir.path().join("htpasswd");
                write_htpasswd(&file, user, pass)?;
                (
                    format!(
                        "auth:\n  htpasswd:\n    realm: strata-test\n    path: {}\n",
                        file.display()
                    ),
                    None,
                )
            }
            (AuthKind::Token, Some((user, pass))) => {
                let server = TokenServer::start(dir.path(), user, pass)?;
                let yaml = format!(
                    "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
                    server.realm(),
                    server.cert_pem_path.display()
                );
                (yaml, Some(server))
            }
            (_, None) => bail!("credentials required for {kind:?}"),
        };
        let log_path = dir.path().join("registry.log");
        let config_path = dir.path().join("config.yml");
        // A per-process marker header, so a registry someone else started on the same port
        // is never mistaken for ours.
        let instance = format!("{}-{}", std::process::id(), dir.path().display());
        let spawn = |addr: &str| -> Result<Child> {
            let config = format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: {addr}\n  secret: strata-test-secret\n  headers:\n    {INSTANCE_HEADER}: [\"{instance}\"]\n{auth_yaml}",
                storage.display()
            );
            std::fs::write(&config_path, config)?;
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)?;
            Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| format!("spawning {REGISTRY_BIN}"))
        };
        let (addr, child) = start_on_a_free_port("registry", spawn, |addr, child| {
            wait_ready(addr, &instance, child, &log_path)
        })?;
        Ok(Registry {
            addr,
            auth: kind,
            server: Server::Distribution,
            creds: creds.map(|(u, p)| (u.to_string(), p.to_string())),
            child,
            token,
            storage,
            log_path,
            dir,
        })
    }

    /// An anonymous `strata registry serve` (the binary at `strata_bin`) on a free port with a
    /// temporary storage root and request logging on.
    pub fn start_strata(strata_bin: &Path) -> Result<Registry> {
        Self::start_strata_with(strata_bin, None)
    }

    /// [`Registry::start_strata`] with a registry config file (JSON) written from `config`.
    pub fn start_strata_with(strata_bin: &Path, config: Option<&str>) -> Result<Registry> {
        let dir = tempfile::Builder::new()
            .prefix("strata-registry-")
            .tempdir()?;
        let storage = dir.path().join("storage");
        let log_path = dir.path().join("registry.log");
        let config_path = dir.path().join("registry.json");
        if let Some(c) = config {
            std::fs::write(&config_path, c)?;
        }
        let spawn = |addr: &str| -> Result<Child> {
            std::fs::write(&log_path, "")?;
            let log = std::fs::OpenOptions::new().append(true).open(&log_path)?;
            let mut cmd = Command::new(strata_bin);
            cmd.args(["registry", "serve", "--log", "--addr", addr, "--root"])
                .arg(&storage)
                .env_remove("STRATA_ROOT")
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log);
            if config.is_some() {
                cmd.arg("--config").arg(&config_path);
            }
            cmd.spawn()
                .with_context(|| format!("spawning {}", strata_bin.display()))
        };
        let (addr, child) = start_on_a_free_port("strata registry", spawn, |addr, child| {
            wait_strata_ready(addr, child, &log_path)
        })?;
        Ok(Registry {
            addr,
            auth: AuthKind::Anonymous,
            server: Server::Strata,
            creds: None,
            child,
            token: None,
            storage,
            log_path,
            dir,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The registry's filesystem root (`storage.filesystem.rootdirectory`, or strata's `--root`).
    pub fn storage_dir(&self) -> &Path {
        &self.storage
    }

    /// Where distribution keeps a blob's bytes, so tests can corrupt or remove it.
    pub fn blob_data_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        if self.server == Server::Strata {
            return self.storage.join("blobs/sha256").join(hex);
        }
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The registry's combined stdout/stderr log.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The log's contents (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// A scratch directory that lives as long as the registry.
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The token issuer's realm URL, for token-auth registries.
    pub fn token_realm(&self) -> Option<String> {
        self.token.as_ref().map(|t| t.realm())
    }

    /// An HTTP client that authenticates with the registry's credentials.
    pub fn client(&self) -> RegistryClient {
        RegistryClient::new(
            &self.addr,
            self.creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
        )
    }

    /// An HTTP client without credentials.
    pub fn anonymous_client(&self) -> RegistryClient {
        RegistryClient::new(&self.addr, None)
    }

    /// `GET /v2/<repo>/manifests/<reference>` accepting every manifest type, authenticated.
    pub fn get_manifest(&self, repo: &str, reference: &str) -> Result<Response> {
        self.client().send(
            "GET",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Accept", ACCEPT_ALL_MANIFESTS)],
            &[],
        )
    }

    /// `GET /v2/<repo>/blobs/<digest>`, authenticated.
    pub fn get_blob(&self, repo: &str, digest: &Digest) -> Result<Response> {
        self.client()
            .send("GET", &format!("/v2/{repo}/blobs/{digest}"), &[], &[])
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns a server on a free port and waits for it, on another port up to five times: the free
/// port can be taken between probing and binding. A server that does not come up is killed.
fn start_on_a_free_port(
    what: &str,
    mut spawn: impl FnMut(&str) -> Result<Child>,
    mut ready: impl FnMut(&str, &mut Child) -> Result<()>,
) -> Result<(String, Child)> {
    let mut last_err = None;
    for _ in 0..5 {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut child = spawn(&addr)?;
        match ready(&addr, &mut child) {
            Ok(()) => return Ok((addr, child)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                last_err = Some(e);
            }
        }
    }
    Err(last_err.unwrap_or_else(|| anyhow::anyhow!("{what} did not start")))
}

fn wait_ready(addr: &str, instance: &str, child: &mut Child, log_path: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "registry exited with {status} before answering; log:\n{}",
                std::fs::read_to_string(log_path).unwrap_or_default()
            );
        }
        if let Ok(resp) = http::request(addr, "GET", "/v2/", &[], &[])
            && matches!(resp.status, 200 | 401)
            && resp.header(INSTANCE_HEADER) == Some(instance)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "registry on {addr} did not answer GET /v2/ within 20s; log:\n{}",
                std::fs::read_to_string(log_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for our child to print its ready line and answer `GET /v2/` (the child bound the
/// port itself, so an answer after the line is ours).
fn wait_strata_ready(addr: &str, child: &mut Child, log_path: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready_line = format!("strata registry listening on http://{addr}");
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "strata registry exited with {status} before answering; log:\n{}",
                std::fs::read_to_string(log_path).unwrap_or_default()
            );
        }
        let log = std::fs::read_to_string(log_path).unwrap_or_default();
        if log.contains(&ready_line)
            && let Ok(resp) = http::request(addr, "GET", "/v2/", &[], &[])
            && matches!(resp.status, 200 | 401)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("strata registry on {addr} did not answer GET /v2/ within 20s; log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Writes a bcrypt htpasswd file with Apache's `htpasswd` (Debian package apache2-utils).
fn write_htpasswd(path: &Path, user: &str, pass: &str) -> Result<()> {
    let out = Command::new("htpasswd")
        .args(["-Bbn", user, pass])
        .output()
        .context("running htpasswd (install Debian's apache2-utils)")?;
    if !out.status.success() {
        bail!("htpasswd failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    std::fs::write(path, &out.stdout)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{basic_auth, parse_challenge, request};

    #[test]
    fn anonymous_registry_answers_and_dies_on_drop() {
        let reg = Registry::start().unwrap();
        assert!(reg.addr.starts_with("127.0.0.1:"));
        assert_eq!(reg.url(), format!("http://{}", reg.addr));
        let resp = request(&reg.addr, "GET", "/v2/", &[], &[]).unwrap();
        assert_eq!(resp.status, 200, "{}", reg.log());
        assert_eq!(
            resp.header("docker-distribution-api-version"),
            Some("registry/2.0")
        );
        assert!(reg.storage_dir().is_dir());
        let d = Digest::of(b"x");
        assert_eq!(
            reg.blob_data_path(&d),
            reg.storage_dir().join(format!(
                "docker/registry/v2/blobs/sha256/{}/{}/data",
                &d.hex()[..2],
                d.hex()
            ))
        );
        let addr = reg.addr.clone();
        let storage = reg.storage_dir().to_path_buf();
        drop(reg);
        assert!(
            request(&addr, "GET", "/v2/", &[], &[]).is_err(),
            "registry still answering after drop"
        );
        assert!(!storage.exists());
    }

    #[test]
    fn htpasswd_registry_requires_basic_auth() {
        let reg = Registry::start_htpasswd("bob", "hunter2").unwrap();
        let anon = request(&reg.addr, "GET", "/v2/", &[], &[]).unwrap();
        assert_eq!(anon.status, 401);
        let (scheme, params) = parse_challenge(anon.header("www-authenticate").unwrap());
        assert_eq!(scheme, "Basic");
        assert!(
            params
                .iter()
                .any(|(k, v)| k == "realm" && v == "strata-test")
        );
        for (pass, want) in [("hunter2", 200), ("nope", 401)] {
            let auth = basic_auth("bob", pass);
            let resp = request(&reg.addr, "GET", "/v2/", &[("Authorization", &auth)], &[]).unwrap();
            assert_eq!(resp.status, want, "{pass}: {}", reg.log());
        }
        assert_eq!(
            reg.client()
                .send("GET", "/v2/_catalog", &[], &[])
                .unwrap()
                .status,
            200
        );
    }

    #[test]
    fn token_registry_requires_bearer_tokens_from_the_issuer() {
        let reg = Registry::start_token("carol", "pa55").unwrap();
        let anon = request(&reg.addr, "GET", "/v2/", &[], &[]).unwrap();
        assert_eq!(anon.status, 401);
        let (scheme, params) = parse_challenge(anon.header("www-authenticate").unwrap());
        assert_eq!(scheme, "Bearer");
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("realm"), reg.token_realm());
        assert_eq!(get("service").as_deref(), Some(TOKEN_SERVICE));

        // The right credentials get a token the registry accepts for the catalog.
        let mut client = reg.client();
        let cat = client.send("GET", "/v2/_catalog", &[], &[]).unwrap();
        assert_eq!(cat.status, 200, "{} / {}", cat.body_str(), reg.log());
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&cat.body).unwrap()["repositories"],
            serde_json::json!([])
        );

        // An anonymous token is valid (GET /v2/ passes) but grants nothing.
        let mut anon_client = reg.anonymous_client();
        assert_eq!(
            anon_client.send("GET", "/v2/", &[], &[]).unwrap().status,
            200
        );
        assert_eq!(
            anon_client
                .send("GET", "/v2/_catalog", &[], &[])
                .unwrap()
                .status,
            401
        );
        let mut wrong = RegistryClient::new(&reg.addr, Some(("carol", "wrong")));
        // Wrong credentials: the issuer refuses them, so no token and no access.
        match wrong.send(
            "GET",
            "/v2/lib/x/manifests/latest",
            &[("Accept", ACCEPT_ALL_MANIFESTS)],
            &[],
        ) {
            Ok(denied) => assert_eq!(denied.status, 401, "{}", denied.body_str()),
            Err(e) => assert!(format!("{e:#}").contains("401"), "{e:#}"),
        }
        // The right credentials reach the repository (it does not exist yet: 404, not 401).
        let unknown = reg.get_manifest("lib/x", "latest").unwrap();
        assert_eq!(unknown.status, 404, "{}", unknown.body_str());
    }
}
