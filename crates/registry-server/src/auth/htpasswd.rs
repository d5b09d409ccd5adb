//! The htpasswd user file (bcrypt entries only, as `htpasswd -B` writes them) and password
//! checking with a cache of successful verifications.
//!
//! bcrypt is slow on purpose (a few ms at cost 5, ~250 ms at cost 12), and a Basic-auth client
//! sends its password with every request: a pull of ten blobs would cost ten bcrypt runs. A
//! successful check is therefore remembered per user as (the user's htpasswd hash, an HMAC of the
//! password under a per-process random key); a later request with the same password and an
//! unchanged htpasswd entry is accepted without bcrypt. Failures are never cached. The file is
//! re-read when its modification time or size changes, so users can be added without a restart
//! (a file that no longer parses keeps the previous users and logs why).

use oci_model::Error;
use ring::hmac;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Users of an htpasswd file: name → bcrypt hash.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Users(HashMap<String, String>);

impl Users {
    /// Parses htpasswd text. Lines are `user:hash`; blank lines and `#` comments are skipped.
    /// Only bcrypt hashes (`$2y$`, `$2b$`, `$2a$`, `$2x$`) are accepted.
    pub fn parse(text: &str, origin: &str) -> oci_model::Result<Users> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let n = i + 1;
            let Some((user, hash)) = line.split_once(':') else {
                return Err(Error::invalid(format!(
                    "{origin} line {n}: expected \"user:hash\""
                )));
            };
            if user.is_empty() {
                return Err(Error::invalid(format!(
                    "{origin} line {n}: empty user name"
                )));
            }
            if user == super::config::ANONYMOUS_ACCOUNT {
                return Err(Error::invalid(format!(
                    "{origin} line {n}: the user name \"anonymous\" is reserved for clients \
                     without credentials"
                )));
            }
            if !is_bcrypt(hash) {
                return Err(Error::invalid(format!(
                    "{origin} line {n}: user {user:?}: only bcrypt password hashes are supported \
                     (create entries with `htpasswd -B`); this one is {}",
                    hash_kind(hash)
                )));
            }
            if users.insert(user.to_string(), hash.to_string()).is_some() {
                return Err(Error::invalid(format!(
                    "{origin} line {n}: user {user:?} appears twice"
                )));
            }
        }
        Ok(Users(users))
    }

    pub fn hash_of(&self, user: &str) -> Option<&str> {
        self.0.get(user).map(String::as_str)
    }
}

/// `$2?$NN$` + 53 characters of bcrypt's base64 alphabet.
fn is_bcrypt(hash: &str) -> bool {
    let b = hash.as_bytes();
    b.len() == 60
        && b[0] == b'$'
        && b[1] == b'2'
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/')
}

/// A human name for a non-bcrypt htpasswd hash, for the load error.
fn hash_kind(hash: &str) -> &'static str {
    if hash.starts_with("$apr1$") {
        "an MD5 (apr1) hash (htpasswd -m)"
    } else if hash.starts_with("{SHA}") {
        "a SHA-1 hash (htpasswd -s)"
    } else if hash.starts_with("$5$") || hash.starts_with("$6$") {
        "a SHA-crypt hash (htpasswd -2/-5)"
    } else if hash.starts_with("$2") {
        "a malformed bcrypt hash"
    } else if hash.len() == 13 {
        "a crypt(3) DES hash (htpasswd -d) or a plain-text password"
    } else {
        "plain text or an unknown hash (htpasswd -p)"
    }
}

#[derive(Debug)]
struct Loaded {
    users: Arc<Users>,
    stamp: Option<(SystemTime, u64)>,
}

/// The htpasswd file, its users and the verification cache.
#[derive(Debug)]
pub struct Htpasswd {
    path: Option<PathBuf>,
    loaded: Mutex<Loaded>,
    /// user → (htpasswd hash it was verified against, HMAC of the password).
    cache: Mutex<HashMap<String, (String, hmac::Tag)>>,
    cache_key: hmac::Key,
    /// bcrypt runs so far (tests and diagnostics).
    bcrypt_runs: AtomicU64,
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let md = std::fs::metadata(path).ok()?;
    Some((md.modified().ok()?, md.len()))
}

impl Htpasswd {
    /// Loads `path` (no path: no users).
    pub fn load(path: Option<PathBuf>) -> oci_model::Result<Htpasswd> {
        let (users, st) = match &path {
            None => (Users::default(), None),
            Some(p) => {
                let st = stamp(p);
                let text = std::fs::read_to_string(p).map_err(|e| {
                    Error::invalid(format!("auth: reading htpasswd file {}: {e}", p.display()))
                })?;
                let users = Users::parse(&text, &format!("htpasswd file {}", p.display()))
                    .map_err(|e| Error::invalid(format!("auth: {e}")))?;
                (users, st)
            }
        };
        Ok(Htpasswd {
            path,
            loaded: Mutex::new(Loaded {
                users: Arc::new(users),
                stamp: st,
            }),
            cache: Mutex::new(HashMap::new()),
            cache_key: super::random_hmac_key(),
            bcrypt_runs: AtomicU64::new(0),
        })
    }

    /// The current users, re-reading the file if it changed.
    pub fn users(&self) -> Arc<Users> {
        let mut loaded = crate::lock(&self.loaded);
        if let Some(p) = &self.path {
            let st = stamp(p);
            if st != loaded.stamp {
                let origin = format!("htpasswd file {}", p.display());
                match std::fs::read_to_string(p)
                    .map_err(|e| Error::invalid(format!("{origin}: {e}")))
                    .and_then(|t| Users::parse(&t, &origin))
                {
                    Ok(users) => loaded.users = Arc::new(users),
                    Err(e) => eprintln!("registry: auth: keeping the previous users: {e}"),
                }
                loaded.stamp = st;
            }
        }
        loaded.users.clone()
    }

    /// Number of bcrypt verifications run so far.
    pub fn bcrypt_runs(&self) -> u64 {
        self.bcrypt_runs.load(Ordering::Relaxed)
    }

    /// Checks `user`'s `password`. bcrypt runs on the blocking pool.
    pub async fn verify(&self, user: &str, password: &str) -> bool {
        let users = self.users();
        let Some(hash) = users.hash_of(user) else {
            return false;
        };
        if let Some((cached_hash, cached_mac)) = crate::lock(&self.cache).get(user)
            && cached_hash == hash
            && hmac::verify(&self.cache_key, password.as_bytes(), cached_mac.as_ref()).is_ok()
        {
            return true;
        }
        self.bcrypt_runs.fetch_add(1, Ordering::Relaxed);
        let (pw, h) = (password.to_string(), hash.to_string());
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(pw, &h).unwrap_or(false))
            .await
            .unwrap_or(false);
        if ok {
            let mut cache = crate::lock(&self.cache);
            // One entry per user, so the cache is bounded by the user count; the bound below only
            // matters if the file keeps growing.
            if cache.len() >= 4096 {
                cache.clear();
            }
            let mac = hmac::sign(&self.cache_key, password.as_bytes());
            cache.insert(user.to_string(), (hash.to_string(), mac));
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bcrypt_line(user: &str, pw: &str) -> String {
        let h = bcrypt::hash(pw, 4).unwrap().replacen("$2b$", "$2y$", 1);
        format!("{user}:{h}\n")
    }

    #[test]
    fn parse_accepts_bcrypt_and_comments() {
        let text = format!(
            "# users\n\n{}{}",
            bcrypt_line("a", "x"),
            bcrypt_line("b", "y")
        );
        let u = Users::parse(&text, "f").unwrap();
        assert!(u.hash_of("b").is_some());
        assert!(u.hash_of("a").unwrap().starts_with("$2y$04$"));
        assert!(u.hash_of("c").is_none());
    }

    #[test]
    fn parse_rejects_other_hash_kinds() {
        for (line, kind) in [
            ("u:$apr1$abc$defghijklmnopqrstuvwx", "MD5 (apr1)"),
            ("u:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=", "SHA-1"),
            ("u:secret", "plain text"),
            ("u:$2y$05$short", "malformed bcrypt"),
        ] {
            let err = Users::parse(line, "htpasswd file f").unwrap_err().message;
            assert!(
                err.starts_with("htpasswd file f line 1: user \"u\": only bcrypt"),
                "{err}"
            );
            assert!(err.contains(kind), "{err}");
        }
        let err = Users::parse("nocolon", "f").unwrap_err().message;
        assert!(err.contains("expected \"user:hash\""), "{err}");
        let err = Users::parse(&bcrypt_line("anonymous", "x"), "f")
            .unwrap_err()
            .message;
        assert!(err.contains("reserved"), "{err}");
        let twice = format!("{}{}", bcrypt_line("a", "x"), bcrypt_line("a", "y"));
        assert!(
            Users::parse(&twice, "f")
                .unwrap_err()
                .message
                .contains("appears twice")
        );
    }

    #[tokio::test]
    async fn verify_caches_successes_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, bcrypt_line("alice", "s3cret")).unwrap();
        let h = Htpasswd::load(Some(path.clone())).unwrap();
        assert!(h.verify("alice", "s3cret").await);
        assert_eq!(h.bcrypt_runs(), 1);
        for _ in 0..10 {
            assert!(h.verify("alice", "s3cret").await);
        }
        assert_eq!(h.bcrypt_runs(), 1, "ten more checks hit the cache");
        assert!(!h.verify("alice", "wrong").await);
        assert!(!h.verify("alice", "wrong").await);
        assert_eq!(h.bcrypt_runs(), 3, "failures are not cached");
        assert!(!h.verify("nobody", "s3cret").await);
        assert_eq!(h.bcrypt_runs(), 3, "unknown users cost no bcrypt");

        // A changed password in the file invalidates the cached success.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let text = format!("{}{}", bcrypt_line("alice", "n3w"), bcrypt_line("bob", "b"));
        std::fs::write(&path, text).unwrap();
        assert!(!h.verify("alice", "s3cret").await);
        assert!(h.verify("alice", "n3w").await);
        assert!(h.verify("bob", "b").await);
    }

    #[test]
    fn load_errors_name_the_file() {
        let err = Htpasswd::load(Some("/nonexistent/htpasswd".into()))
            .unwrap_err()
            .message;
        assert!(
            err.starts_with("auth: reading htpasswd file /nonexistent/htpasswd:"),
            "{err}"
        );
    }
}
