//! Docker's `config.json` credentials: `auths` entries (base64 `user:pass`, `identitytoken`),
//! `credHelpers` per registry and the global `credsStore`, through the
//! `docker-credential-<helper> get|store|erase` protocol (JSON over stdin/stdout).
//!
//! The file is shared with the docker CLI, so it is read and written as a JSON value: keys strata
//! does not know survive a round trip. Writes are atomic (temp file in the same directory + rename)
//! with mode 0600.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use oci_model::{Error, ErrorKind, Result};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Docker Hub's key in `auths`, and the server URL handed to credential helpers for it.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Basic {
        username: String,
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken`, or a helper answering Username `<token>`).
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, REDACTED)"),
            Credential::IdentityToken(_) => write!(f, "IdentityToken(REDACTED)"),
        }
    }
}

impl Credential {
    /// The secrets to scrub from error messages.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Credential::Basic { password, .. } => vec![password.as_str()],
            Credential::IdentityToken(t) => vec![t.as_str()],
        }
    }
}

/// `dir`, else `$DOCKER_CONFIG`, else `~/.docker`.
pub fn config_dir(dir: Option<&Path>) -> PathBuf {
    if let Some(d) = dir {
        return d.to_path_buf();
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".docker")
}

/// The `auths` key for a registry given as a reference domain or a login server argument:
/// Docker Hub (`docker.io`, `index.docker.io`, `registry-1.docker.io`, its v1 URL) →
/// `https://index.docker.io/v1/`; anything else → `host[:port]` (scheme and path dropped).
pub fn server_key(server: &str) -> String {
    let host = hostname_of(server);
    if is_docker_hub(&host) {
        DOCKER_HUB_KEY.to_string()
    } else {
        host
    }
}

/// `https://host:5000/v2/` → `host:5000`.
pub fn hostname_of(server: &str) -> String {
    let s = server.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    s.to_ascii_lowercase()
}

pub fn is_docker_hub(host: &str) -> bool {
    matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

fn config_path(dir: Option<&Path>) -> PathBuf {
    config_dir(dir).join("config.json")
}

/// Reads config.json as a JSON object; a missing or empty file is an empty object.
fn read_config(path: &Path) -> Result<Map<String, Value>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("reading {}: {e}", path.display()),
            ));
        }
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::invalid(format!(
            "{}: not a JSON object",
            path.display()
        ))),
        Err(e) => Err(Error::invalid(format!(
            "loading config file {}: {e}",
            path.display()
        ))),
    }
}

/// Atomic write: temp file (0600) in the same directory, fsync, rename over config.json.
fn write_config(path: &Path, config: &Map<String, Value>) -> Result<()> {
    let internal = |what: &str, e: std::io::Error| {
        Error::new(
            ErrorKind::Internal,
            format!("{what} {}: {e}", path.display()),
        )
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| internal("creating directory for", e))?;
    }
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(config.clone()))
        .map_err(|e| Error::new(ErrorKind::Internal, format!("serializing config: {e}")))?;
    bytes.push(b'\n');
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".config.json.{}.{nanos}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(internal("writing", e));
    }
    Ok(())
}

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

/// The credential helper configured for `key` (`credHelpers` by key or hostname, then `credsStore`).
fn helper_for(config: &Map<String, Value>, key: &str) -> Option<String> {
    let host = hostname_of(key);
    if let Some(helpers) = config.get("credHelpers").and_then(Value::as_object) {
        for k in [key, host.as_str()] {
            if let Some(h) = helpers
                .get(k)
                .and_then(Value::as_str)
                .filter(|h| !h.is_empty())
            {
                return Some(h.to_string());
            }
        }
        // Hub entries are sometimes written as a bare hostname.
        if key == DOCKER_HUB_KEY {
            for k in ["index.docker.io", "docker.io"] {
                if let Some(h) = helpers
                    .get(k)
                    .and_then(Value::as_str)
                    .filter(|h| !h.is_empty())
                {
                    return Some(h.to_string());
                }
            }
        }
    }
    config
        .get("credsStore")
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
        .map(str::to_string)
}

/// The `auths` entry for `key`, matching keys written as URLs (`https://host/v1/`) by hostname.
fn auths_entry<'a>(config: &'a Map<String, Value>, key: &str) -> Option<(&'a String, &'a Value)> {
    let auths = config.get("auths")?.as_object()?;
    if let Some(e) = auths.get_key_value(key) {
        return Some(e);
    }
    let want = server_key(key);
    auths.iter().find(|(k, _)| server_key(k) == want)
}

fn credential_from_entry(entry: &Value) -> Result<Option<Credential>> {
    if let Some(tok) = entry
        .get("identitytoken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        return Ok(Some(Credential::IdentityToken(tok.to_string())));
    }
    if let Some(auth) = entry
        .get("auth")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
    {
        let decoded = B64
            .decode(auth.trim())
            .map_err(|e| Error::invalid(format!("invalid auth configuration file: {e}")))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| Error::invalid("invalid auth configuration file"))?;
        let Some((user, pass)) = decoded.split_once(':') else {
            return Err(Error::invalid("invalid auth configuration file"));
        };
        return Ok(Some(Credential::Basic {
            username: user.to_string(),
            password: pass.trim_end_matches('\0').to_string(),
        }));
    }
    // Older files keep username/password in clear.
    if let (Some(u), Some(p)) = (
        entry.get("username").and_then(Value::as_str),
        entry.get("password").and_then(Value::as_str),
    ) && !u.is_empty()
    {
        return Ok(Some(Credential::Basic {
            username: u.to_string(),
            password: p.to_string(),
        }));
    }
    Ok(None)
}

/// Looks up credentials for a registry (reference domain such as `docker.io` or `host:port`).
/// Blocking: it may run a credential helper, so call it from a blocking context.
pub fn lookup_credentials(dir: Option<&Path>, registry: &str) -> Result<Option<Credential>> {
    let config = read_config(&config_path(dir))?;
    let key = server_key(registry);
    if let Some(helper) = helper_for(&config, &key) {
        return helper_get(&helper, &key);
    }
    match auths_entry(&config, &key) {
        Some((_, entry)) => credential_from_entry(entry),
        None => Ok(None),
    }
}

/// Saves credentials (as `docker login` does): through the configured credential helper, else
/// as a base64 `auths` entry. Returns the config.json path.
pub fn store_credentials(
    dir: Option<&Path>,
    server: &str,
    user: &str,
    pass: &str,
) -> Result<PathBuf> {
    let path = config_path(dir);
    let mut config = read_config(&path)?;
    let key = server_key(server);
    let helper = helper_for(&config, &key);
    if let Some(helper) = &helper {
        let input = serde_json::json!({"ServerURL": key, "Username": user, "Secret": pass});
        run_helper(helper, "store", input.to_string().as_bytes())?;
    }
    let auths = config
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    let auths = auths.as_object_mut().expect("object");
    // Drop entries for the same registry written under another spelling.
    auths.retain(|k, _| k == &key || server_key(k) != key);
    let entry = if helper.is_some() {
        // The secret lives in the helper; the empty entry records the login, as docker does.
        Value::Object(Map::new())
    } else if user == "<token>" {
        serde_json::json!({"identitytoken": pass})
    } else {
        serde_json::json!({"auth": B64.encode(format!("{user}:{pass}"))})
    };
    auths.insert(key, entry);
    write_config(&path, &config)?;
    Ok(path)
}

/// Removes stored credentials (as `docker logout` does). Returns whether anything was removed.
pub fn erase_credentials(dir: Option<&Path>, server: &str) -> Result<bool> {
    let path = config_path(dir);
    let mut config = read_config(&path)?;
    let key = server_key(server);
    let mut erased = false;
    if let Some(helper) = helper_for(&config, &key) {
        match run_helper(&helper, "erase", key.as_bytes()) {
            Ok(_) => erased = true,
            Err(e) if is_not_found(&e.message) => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(auths) = config.get_mut("auths").and_then(Value::as_object_mut) {
        let before = auths.len();
        auths.retain(|k, _| server_key(k) != key);
        if auths.len() != before {
            erased = true;
            write_config(&path, &config)?;
        }
    }
    Ok(erased)
}

fn is_not_found(msg: &str) -> bool {
    msg.contains("credentials not found")
}

/// `docker-credential-<helper> get`, server URL on stdin, `{"Username","Secret"}` on stdout.
fn helper_get(helper: &str, key: &str) -> Result<Option<Credential>> {
    let out = match run_helper(helper, "get", key.as_bytes()) {
        Ok(out) => out,
        Err(e) if is_not_found(&e.message) => return Ok(None),
        Err(e) => return Err(e),
    };
    let v: Value = serde_json::from_slice(&out).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("docker-credential-{helper}: invalid answer: {e}"),
        )
    })?;
    let user = v
        .get("Username")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let secret = v.get("Secret").and_then(Value::as_str).unwrap_or_default();
    if secret.is_empty() {
        return Ok(None);
    }
    if user == "<token>" {
        Ok(Some(Credential::IdentityToken(secret.to_string())))
    } else {
        Ok(Some(Credential::Basic {
            username: user.to_string(),
            password: secret.to_string(),
        }))
    }
}

#[cfg(test)]
thread_local! {
    /// Tests put their fake helpers here instead of changing the process-wide PATH.
    pub(crate) static TEST_HELPER_DIR: std::cell::RefCell<Option<PathBuf>> = const { std::cell::RefCell::new(None) };
}

/// `docker-credential-<helper>`, found on PATH.
fn helper_program(program: &str) -> PathBuf {
    #[cfg(test)]
    if let Some(dir) = TEST_HELPER_DIR.with(|d| d.borrow().clone()) {
        return dir.join(program);
    }
    PathBuf::from(program)
}

fn run_helper(helper: &str, action: &str, input: &[u8]) -> Result<Vec<u8>> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(helper_program(&program))
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("error getting credentials - err: exec: \"{program}\": {e}"),
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper may exit without reading; a broken pipe is then not our error.
        let _ = stdin.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("{program} {action}: {e}")))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(if out.stdout.is_empty() {
            &out.stderr
        } else {
            &out.stdout
        })
        .trim()
        .to_string();
        return Err(Error::new(
            ErrorKind::Internal,
            format!("{program} {action}: {text}"),
        ));
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) {
        std::fs::write(dir.join("config.json"), text).unwrap();
    }

    #[test]
    fn keys_normalise_like_docker() {
        assert_eq!(server_key("docker.io"), DOCKER_HUB_KEY);
        assert_eq!(server_key("https://index.docker.io/v1/"), DOCKER_HUB_KEY);
        assert_eq!(server_key("registry-1.docker.io"), DOCKER_HUB_KEY);
        assert_eq!(server_key("localhost:5000"), "localhost:5000");
        assert_eq!(
            server_key("https://Registry.Example.com:5000/v2/"),
            "registry.example.com:5000"
        );
    }

    #[test]
    fn reads_auths_entries() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &format!(
                r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}},
                  "http://reg.example:5000/v2/":{{"auth":"{}"}},
                  "tok.example":{{"identitytoken":"refresh-me"}},
                  "empty.example":{{}}}}}}"#,
                B64.encode("alice:pa:ss"),
                B64.encode("bob:pw")
            ),
        );
        let d = Some(dir.path());
        assert_eq!(
            lookup_credentials(d, "docker.io").unwrap(),
            Some(Credential::Basic {
                username: "alice".into(),
                password: "pa:ss".into()
            })
        );
        assert_eq!(
            lookup_credentials(d, "reg.example:5000").unwrap(),
            Some(Credential::Basic {
                username: "bob".into(),
                password: "pw".into()
            })
        );
        assert_eq!(
            lookup_credentials(d, "tok.example").unwrap(),
            Some(Credential::IdentityToken("refresh-me".into()))
        );
        assert_eq!(lookup_credentials(d, "empty.example").unwrap(), None);
        assert_eq!(lookup_credentials(d, "other.example").unwrap(), None);
    }

    #[test]
    fn missing_file_is_empty_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            lookup_credentials(Some(dir.path()), "docker.io").unwrap(),
            None
        );
        write(dir.path(), "{not json");
        let err = lookup_credentials(Some(dir.path()), "docker.io").unwrap_err();
        assert!(err.message.contains("config.json"), "{}", err.message);
        write(
            dir.path(),
            r#"{"auths":{"x.example":{"auth":"!!notbase64"}}}"#,
        );
        assert!(lookup_credentials(Some(dir.path()), "x.example").is_err());
    }

    #[test]
    fn store_and_erase_keep_unknown_keys_and_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("nested");
        std::fs::create_dir(&sub).unwrap();
        write(
            &sub,
            r#"{"psFormat":"table {{.ID}}","auths":{"https://other.example/v1/":{"auth":"eDp5"}},"plugins":{"a":{"b":"c"}}}"#,
        );
        let path = store_credentials(Some(&sub), "localhost:5000", "u", "p").unwrap();
        assert_eq!(path, sub.join("config.json"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "table {{.ID}}");
        assert_eq!(v["plugins"]["a"]["b"], "c");
        assert_eq!(v["auths"]["localhost:5000"]["auth"], B64.encode("u:p"));
        assert_eq!(v["auths"]["https://other.example/v1/"]["auth"], "eDp5");
        assert_eq!(
            lookup_credentials(Some(&sub), "localhost:5000").unwrap(),
            Some(Credential::Basic {
                username: "u".into(),
                password: "p".into()
            })
        );
        // No temp files left behind.
        assert_eq!(std::fs::read_dir(&sub).unwrap().count(), 1);

        store_credentials(Some(&sub), "docker.io", "hubuser", "hubpass").unwrap();
        assert!(erase_credentials(Some(&sub), "localhost:5000").unwrap());
        assert!(!erase_credentials(Some(&sub), "localhost:5000").unwrap());
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(v["auths"].get("localhost:5000").is_none());
        assert!(v["auths"].get(DOCKER_HUB_KEY).is_some());
        assert_eq!(v["plugins"]["a"]["b"], "c");
    }

    #[test]
    fn store_creates_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("fresh/.docker");
        store_credentials(Some(&d), "https://index.docker.io/v1/", "<token>", "idtok").unwrap();
        assert_eq!(
            lookup_credentials(Some(&d), "docker.io").unwrap(),
            Some(Credential::IdentityToken("idtok".into()))
        );
    }

    /// A real helper process: a shell script keeping one credential per server in files.
    #[test]
    fn credential_helper_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let store = dir.path().join("store");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&store).unwrap();
        let script = format!(
            r#"#!/bin/sh
S={store}
case "$1" in
get) read -r server; f="$S/$(echo "$server" | tr '/:' '__')"
     if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi;;
store) cat > "$S/tmp"; server=$(sed 's/.*"ServerURL":"\([^"]*\)".*/\1/' "$S/tmp"); mv "$S/tmp" "$S/$(echo "$server" | tr '/:' '__')";;
erase) read -r server; f="$S/$(echo "$server" | tr '/:' '__')"
     if [ -f "$f" ]; then rm "$f"; else echo "credentials not found in native keychain"; exit 1; fi;;
*) exit 2;;
esac
"#,
            store = store.display()
        );
        let helper = bin.join("docker-credential-strata-test");
        std::fs::write(&helper, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        TEST_HELPER_DIR.with(|d| *d.borrow_mut() = Some(bin.clone()));

        let cfg = dir.path().join("cfg");
        std::fs::create_dir_all(&cfg).unwrap();
        write(
            &cfg,
            r#"{"credsStore":"strata-test","credHelpers":{"helped.example":"strata-test"},"auths":{}}"#,
        );
        let d = Some(cfg.as_path());
        assert_eq!(lookup_credentials(d, "localhost:5000").unwrap(), None);
        store_credentials(d, "localhost:5000", "carol", "s3cret").unwrap();
        assert_eq!(
            lookup_credentials(d, "localhost:5000").unwrap(),
            Some(Credential::Basic {
                username: "carol".into(),
                password: "s3cret".into()
            })
        );
        // The secret is not in config.json, only an empty entry.
        let text = std::fs::read_to_string(cfg.join("config.json")).unwrap();
        assert!(!text.contains("s3cret"));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["auths"]["localhost:5000"], serde_json::json!({}));

        store_credentials(d, "docker.io", "<token>", "refresh").unwrap();
        assert_eq!(
            lookup_credentials(d, "docker.io").unwrap(),
            Some(Credential::IdentityToken("refresh".into()))
        );
        assert!(erase_credentials(d, "localhost:5000").unwrap());
        assert_eq!(lookup_credentials(d, "localhost:5000").unwrap(), None);
        assert!(!erase_credentials(d, "localhost:5000").unwrap());

        // credHelpers wins over credsStore; a missing helper program is an error.
        write(
            &cfg,
            r#"{"credsStore":"strata-test","credHelpers":{"helped.example":"no-such-helper-xyz"}}"#,
        );
        let err = lookup_credentials(d, "helped.example").unwrap_err();
        assert!(
            err.message.contains("docker-credential-no-such-helper-xyz"),
            "{}",
            err.message
        );
    }
}
