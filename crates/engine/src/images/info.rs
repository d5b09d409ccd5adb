//! `info`: what `docker info` reports that applies to strata, read from the store's metadata and
//! the host (`/proc`, `/etc/os-release`, `$PATH`), and its JSON form with the Engine API's `/info`
//! key names (`Images`, `Driver`, `DockerRootDir`, `RegistryConfig`, `NCPU`, `MemTotal`, …) so
//! `--format` templates written for Docker work.

use layers::snapshot::Driver;
use oci_model::Result;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use store::Store;

/// Docker Hub's index address, as `/info` reports it.
pub const INDEX_SERVER_ADDRESS: &str = "https://index.docker.io/v1/";
/// Insecure whatever the configuration says (plain HTTP to loopback).
pub const LOOPBACK_CIDRS: [&str; 2] = ["127.0.0.0/8", "::1/128"];
/// The runtimes strata knows how to drive, looked up on `$PATH`.
pub const KNOWN_RUNTIMES: [&str; 2] = ["crun", "runc"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub images: u64,
    pub containers: u64,
    pub driver: String,
    pub root_dir: PathBuf,
    /// `127.0.0.0/8`, `::1/128` and configured entries that are CIDRs.
    pub insecure_registry_cidrs: Vec<String>,
    /// Configured insecure registries that are host names (`host[:port]`).
    pub insecure_registries: Vec<String>,
    pub mirrors: Vec<String>,
    /// `(name, path)` of the runtimes found on `$PATH`, sorted by name.
    pub runtimes: Vec<(String, PathBuf)>,
    pub default_runtime: String,
    pub kernel_version: String,
    pub operating_system: String,
    pub os_type: String,
    pub architecture: String,
    pub ncpu: usize,
    pub mem_total: u64,
    pub name: String,
}

fn is_cidr(s: &str) -> bool {
    s.split_once('/').is_some_and(|(ip, bits)| {
        ip.parse::<std::net::IpAddr>().is_ok() && bits.parse::<u8>().is_ok()
    })
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `PRETTY_NAME` of an os-release file, unquoted; `Linux` when absent (as dockerd does).
pub fn pretty_name(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "Linux".into())
}

/// `MemTotal` of a /proc/meminfo text, in bytes.
pub fn mem_total(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// The first executable `name` in the directories of `path_var`.
pub fn find_on_path(name: &str, path_var: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path_var)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

fn operating_system() -> String {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    pretty_name(&text)
}

pub fn info(store: &Store) -> Result<Info> {
    let images = store.db().image_count()?;
    let mut insecure_registry_cidrs: Vec<String> =
        LOOPBACK_CIDRS.iter().map(|s| s.to_string()).collect();
    let mut insecure_registries = Vec::new();
    for r in &store.config.insecure_registries {
        if is_cidr(r) {
            if !insecure_registry_cidrs.contains(r) {
                insecure_registry_cidrs.push(r.clone());
            }
        } else if !insecure_registries.contains(r) {
            insecure_registries.push(r.clone());
        }
    }
    let path_var = std::env::var("PATH").unwrap_or_default();
    let runtimes = KNOWN_RUNTIMES
        .iter()
        .filter_map(|n| find_on_path(n, &path_var).map(|p| (n.to_string(), p)))
        .collect();
    Ok(Info {
        images,
        containers: 0,
        driver: Driver::detect(store.root()).name().to_string(),
        root_dir: store.root().to_path_buf(),
        insecure_registry_cidrs,
        insecure_registries,
        mirrors: Vec::new(),
        runtimes,
        default_runtime: store
            .config
            .runtime
            .clone()
            .unwrap_or_else(|| "runc".into()),
        kernel_version: read_trimmed("/proc/sys/kernel/osrelease"),
        operating_system: operating_system(),
        os_type: std::env::consts::OS.to_string(),
        architecture: std::env::consts::ARCH.to_string(),
        ncpu: std::thread::available_parallelism().map_or(1, |n| n.get()),
        mem_total: mem_total(&std::fs::read_to_string("/proc/meminfo").unwrap_or_default()),
        name: read_trimmed("/proc/sys/kernel/hostname"),
    })
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

impl Info {
    /// The `/info`-shaped object (Docker's key names; nested objects with sorted keys, as the
    /// docker CLI prints them).
    pub fn to_json(&self) -> Value {
        let mut index_configs = Map::new();
        index_configs.insert(
            "docker.io".into(),
            json!({"Mirrors": self.mirrors, "Name": "docker.io", "Official": true, "Secure": true}),
        );
        for r in &self.insecure_registries {
            index_configs.insert(
                r.clone(),
                json!({"Mirrors": [], "Name": r, "Official": false, "Secure": false}),
            );
        }
        index_configs.sort_keys();
        let runtimes: Map<String, Value> = self
            .runtimes
            .iter()
            .map(|(n, p)| (n.clone(), json!({"path": path_str(p)})))
            .collect();
        json!({
            "Containers": self.containers,
            "ContainersRunning": 0,
            "ContainersPaused": 0,
            "ContainersStopped": 0,
            "Images": self.images,
            "Driver": self.driver,
            "DockerRootDir": path_str(&self.root_dir),
            "IndexServerAddress": INDEX_SERVER_ADDRESS,
            "RegistryConfig": {
                "IndexConfigs": index_configs,
                "InsecureRegistryCIDRs": self.insecure_registry_cidrs,
                "Mirrors": self.mirrors,
            },
            "Runtimes": runtimes,
            "DefaultRuntime": self.default_runtime,
            "KernelVersion": self.kernel_version,
            "OperatingSystem": self.operating_system,
            "OSType": self.os_type,
            "Architecture": self.architecture,
            "NCPU": self.ncpu,
            "MemTotal": self.mem_total,
            "Name": self.name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_files_parse() {
        assert_eq!(
            pretty_name(
                "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
            ),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(pretty_name("ID=x\n"), "Linux");
        assert_eq!(
            mem_total("MemTotal:       24681236 kB\nMemFree: 1 kB\n"),
            24_681_236 * 1024
        );
        assert_eq!(mem_total(""), 0);
        assert!(is_cidr("10.0.0.0/8") && is_cidr("::1/128"));
        assert!(!is_cidr("myreg:5000") && !is_cidr("10.0.0.1"));
    }

    #[test]
    fn finds_executables_on_path() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("runc"), "not executable").unwrap();
        std::fs::write(b.join("runc"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(b.join("runc"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();
        let path = path.to_str().unwrap();
        assert_eq!(find_on_path("runc", path), Some(b.join("runc")));
        assert_eq!(find_on_path("crun", path), None);
    }

    #[test]
    fn info_reads_the_store_and_config() {
        let tmp = tempfile::tempdir().unwrap();
        let config = store::config::Config {
            insecure_registries: vec!["myreg:5000".into(), "10.0.0.0/8".into()],
            ..Default::default()
        };
        let store = Store::open(tmp.path(), config).unwrap();
        let i = info(&store).unwrap();
        assert_eq!(i.images, 0);
        assert_eq!(i.root_dir, tmp.path().canonicalize().unwrap());
        assert_eq!(
            i.insecure_registry_cidrs,
            ["127.0.0.0/8", "::1/128", "10.0.0.0/8"]
        );
        assert_eq!(i.insecure_registries, ["myreg:5000"]);
        assert!(i.ncpu >= 1 && i.mem_total > 0 && !i.kernel_version.is_empty());
        let v = i.to_json();
        assert_eq!(v["IndexServerAddress"], INDEX_SERVER_ADDRESS);
        assert_eq!(
            serde_json::to_string(&v["RegistryConfig"]).unwrap(),
            "{\"IndexConfigs\":{\"docker.io\":{\"Mirrors\":[],\"Name\":\"docker.io\",\"Official\":true,\"Secure\":true},\
             \"myreg:5000\":{\"Mirrors\":[],\"Name\":\"myreg:5000\",\"Official\":false,\"Secure\":false}},\
             \"InsecureRegistryCIDRs\":[\"127.0.0.0/8\",\"::1/128\",\"10.0.0.0/8\"],\"Mirrors\":[]}"
        );
    }
}
