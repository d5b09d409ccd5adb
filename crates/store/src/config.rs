//! Strata's own settings: store root, insecure registries, download and upload concurrency.
//!
//! The config file is JSON with Docker daemon.json's key names where they exist:
//! `{"insecure-registries": ["myreg:5000"], "max-concurrent-downloads": 3}`. It is read from
//! `--config FILE`, else `$STRATA_CONFIG`, else `/etc/strata/config.json` (root) or
//! `$XDG_CONFIG_HOME/strata/config.json` (others). A missing file means defaults.

use oci_model::{Error, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Config {
    pub insecure_registries: Vec<String>,
    pub max_concurrent_downloads: usize,
    /// Layers `push` uploads at once (Docker's daemon.json key and default, 5).
    pub max_concurrent_uploads: usize,
    /// The OCI runtime used for containers (later issues); kept so config files stay valid.
    pub runtime: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            insecure_registries: Vec::new(),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
            runtime: None,
        }
    }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// The default store root: `/var/lib/strata` as root, `$XDG_DATA_HOME/strata` otherwise.
pub fn default_root() -> PathBuf {
    if is_root() {
        return PathBuf::from("/var/lib/strata");
    }
    match std::env::var_os("XDG_DATA_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("strata"),
        _ => home().join(".local/share/strata"),
    }
}

pub fn default_config_path() -> PathBuf {
    if let Some(p) = std::env::var_os("STRATA_CONFIG") {
        return PathBuf::from(p);
    }
    if is_root() {
        return PathBuf::from("/etc/strata/config.json");
    }
    match std::env::var_os("XDG_CONFIG_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("strata/config.json"),
        _ => home().join(".config/strata/config.json"),
    }
}

impl Config {
    /// Loads `path`; a missing file gives the defaults, a malformed one an error naming the file.
    pub fn load(path: &Path) -> Result<Config> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(Error::invalid(format!(
                    "reading config file {}: {e}",
                    path.display()
                )));
            }
        };
        let cfg: Config = serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(format!("invalid config file {}: {e}", path.display())))?;
        if cfg.max_concurrent_downloads == 0 {
            return Err(Error::invalid(format!(
                "invalid config file {}: max-concurrent-downloads must be at least 1",
                path.display()
            )));
        }
        if cfg.max_concurrent_uploads == 0 {
            return Err(Error::invalid(format!(
                "invalid config file {}: max-concurrent-uploads must be at least 1",
                path.display()
            )));
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_defaults_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        assert_eq!(Config::load(&p).unwrap().max_concurrent_downloads, 3);
        std::fs::write(
            &p,
            r#"{"insecure-registries":["reg.test:5000"],"max-concurrent-downloads":6}"#,
        )
        .unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.insecure_registries, vec!["reg.test:5000"]);
        assert_eq!(c.max_concurrent_downloads, 6);
        assert_eq!(c.max_concurrent_uploads, 5);
        std::fs::write(&p, r#"{"max-concurrent-uploads":2}"#).unwrap();
        assert_eq!(Config::load(&p).unwrap().max_concurrent_uploads, 2);
        std::fs::write(&p, r#"{"max-concurrent-uploads":0}"#).unwrap();
        assert!(Config::load(&p).is_err());
        std::fs::write(&p, "{").unwrap();
        assert!(
            Config::load(&p)
                .unwrap_err()
                .message
                .contains("invalid config file")
        );
    }
}
