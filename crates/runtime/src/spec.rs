//! The OCI runtime bundle's `config.json` (runtime spec 1.0), built from the image config and
//! the user's `run`/`create` options with Docker's rules.

use oci_model::image_config::ContainerConfig;
use oci_model::{Error, Result};
use serde_json::{Value, json};
use std::path::Path;

/// Docker's default `PATH` when neither the image nor the user sets one.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's default capability set.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// How the container is networked. Docker's `bridge` is not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    /// A new network namespace with only `lo` (also the default).
    None,
    /// The host's network namespace.
    Host,
}

impl NetworkMode {
    pub fn parse(s: &str) -> Result<NetworkMode> {
        match s {
            "none" | "" | "default" => Ok(NetworkMode::None),
            "host" => Ok(NetworkMode::Host),
            "bridge" => Err(Error::invalid(
                "network bridge is not offered by strata: use --network none or --network host",
            )),
            other => Err(Error::not_found(format!("network {other} not found"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
        }
    }
}

/// A `-v HOST:CTR[:ro|rw]` bind mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub source: String,
    pub destination: String,
    pub read_only: bool,
}

impl Bind {
    /// Parses a `-v` value. The host path must be absolute and exist (strata has no volumes).
    pub fn parse(spec: &str) -> Result<Bind> {
        let parts: Vec<&str> = spec.split(':').collect();
        let (src, dst, mode) = match parts.as_slice() {
            [s, d] => (*s, *d, ""),
            [s, d, m] => (*s, *d, *m),
            _ => {
                return Err(Error::invalid(format!(
                    "invalid volume specification: '{spec}'"
                )));
            }
        };
        let read_only = match mode {
            "" | "rw" => false,
            "ro" => true,
            _ => return Err(Error::invalid(format!("invalid mode: {mode}"))),
        };
        if !dst.starts_with('/') {
            return Err(Error::invalid(format!(
                "invalid volume specification: '{spec}': invalid mount config for type \"bind\": invalid mount path: '{dst}' mount path must be absolute"
            )));
        }
        if !src.starts_with('/') {
            return Err(Error::invalid(format!(
                "invalid volume specification: '{spec}': named volumes are not supported by strata, use an absolute host path"
            )));
        }
        if std::fs::symlink_metadata(src).is_err() {
            return Err(Error::invalid(format!(
                "invalid mount config for type \"bind\": bind source path does not exist: {src}"
            )));
        }
        Ok(Bind {
            source: src.to_string(),
            destination: dst.to_string(),
            read_only,
        })
    }

    /// Docker's `HostConfig.Binds` form.
    pub fn to_docker(&self) -> String {
        if self.read_only {
            format!("{}:{}:ro", self.source, self.destination)
        } else {
            format!("{}:{}", self.source, self.destination)
        }
    }
}

/// Entrypoint + Cmd the way Docker combines them: `--entrypoint` replaces the image's
/// entrypoint and drops its Cmd; command-line arguments replace the Cmd.
pub fn command_line(
    image: &ContainerConfig,
    entrypoint: Option<&str>,
    args: &[String],
) -> Result<Vec<String>> {
    let (ep, cmd): (Vec<String>, Vec<String>) = match entrypoint {
        Some("") => (Vec::new(), args.to_vec()),
        Some(e) => (vec![e.to_string()], args.to_vec()),
        None => {
            let ep = image.entrypoint.clone().unwrap_or_default();
            let cmd = if args.is_empty() {
                image.cmd.clone().unwrap_or_default()
            } else {
                args.to_vec()
            };
            (ep, cmd)
        }
    };
    let all: Vec<String> = ep.into_iter().chain(cmd).collect();
    if all.is_empty() {
        return Err(Error::invalid("no command specified"));
    }
    Ok(all)
}

fn env_key(kv: &str) -> &str {
    kv.split_once('=').map(|(k, _)| k).unwrap_or(kv)
}

/// Replaces entries with the same key, appends the others (Docker's ReplaceOrAppendEnvValues).
pub fn merge_env(base: &mut Vec<String>, overrides: &[String]) {
    for kv in overrides {
        let key = env_key(kv);
        match base.iter_mut().find(|e| env_key(e) == key) {
            Some(slot) => *slot = kv.clone(),
            None => base.push(kv.clone()),
        }
    }
}

/// A `-e` value: `KEY=VAL` as is, a bare `KEY` takes the value from strata's environment (and is
/// dropped when unset).
pub fn expand_env_arg(arg: &str) -> Option<String> {
    if arg.contains('=') {
        return Some(arg.to_string());
    }
    std::env::var(arg).ok().map(|v| format!("{arg}={v}"))
}

/// Reads an `--env-file`: one `KEY=VAL` or `KEY` per line, `#` comments and blank lines skipped.
pub fn read_env_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        Error::invalid(format!("open {}: {why}", path.display()))
    })?;
    let text = String::from_utf8(text).map_err(|_| {
        Error::invalid(format!(
            "env file {} contains invalid utf8 bytes",
            path.display()
        ))
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = env_key(line);
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(Error::invalid(format!(
                "variable '{}' contains whitespaces (line {} of {})",
                key,
                n + 1,
                path.display()
            )));
        }
        if let Some(v) = expand_env_arg(line) {
            out.push(v);
        }
    }
    Ok(out)
}

/// A resolved `user[:group]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

fn read_db(rootfs: &Path, file: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(rootfs.join(file))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').map(str::to_string).collect())
        .collect()
}

/// Resolves `user[:group]` (names or numbers) against `<rootfs>/etc/passwd` and `/etc/group`,
/// as Docker does: a numeric uid needs no passwd entry (gid 0 then), a name must have one.
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<ResolvedUser> {
    let passwd = read_db(rootfs, "etc/passwd");
    let groups = read_db(rootfs, "etc/group");
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let entry = passwd
        .iter()
        .find(|e| e.len() >= 4 && (e[0] == user || (user.parse::<u32>().is_ok() && e[2] == user)));
    let (uid, mut gid, home, name) = match (entry, user.parse::<u32>()) {
        (Some(e), _) => (
            e[2].parse::<u32>()
                .map_err(|_| Error::invalid(format!("invalid uid in passwd entry for {user}")))?,
            e[3].parse::<u32>()
                .map_err(|_| Error::invalid(format!("invalid gid in passwd entry for {user}")))?,
            e.get(5)
                .cloned()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "/".into()),
            Some(e[0].clone()),
        ),
        (None, Ok(uid)) => (uid, 0, "/".to_string(), None),
        (None, Err(_)) => {
            return Err(Error::invalid(format!(
                "unable to find user {user}: no matching entries in passwd file"
            )));
        }
    };
    if let Some(g) = group {
        gid = match groups.iter().find(|e| e.len() >= 3 && e[0] == g) {
            Some(e) => e[2]
                .parse::<u32>()
                .map_err(|_| Error::invalid(format!("invalid gid in group entry for {g}")))?,
            None => g.parse::<u32>().map_err(|_| {
                Error::invalid(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })?,
        };
    }
    // Like Docker, the primary group is also a supplementary group.
    let mut additional_gids = vec![gid];
    if let (Some(name), None) = (&name, group) {
        for e in &groups {
            if e.len() >= 4
                && e[3].split(',').any(|m| m == name)
                && let Ok(g) = e[2].parse::<u32>()
                && g != gid
                && !additional_gids.contains(&g)
            {
                additional_gids.push(g);
            }
        }
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// Everything `config.json` is made of, already resolved.
#[derive(Debug, Clone)]
pub struct BundleSpec {
    pub args: Vec<String>,
    /// The container's environment before PATH/HOSTNAME/TERM/HOME defaults.
    pub env: Vec<String>,
    pub cwd: String,
    pub user: ResolvedUser,
    pub terminal: bool,
    pub hostname: String,
    pub binds: Vec<Bind>,
    pub network: NetworkMode,
}

/// The process environment: Docker's PATH/HOSTNAME(/TERM) base, the container env over it,
/// then HOME when unset.
pub fn process_env(spec: &BundleSpec) -> Vec<String> {
    let mut env = vec![
        DEFAULT_PATH.to_string(),
        format!("HOSTNAME={}", spec.hostname),
    ];
    if spec.terminal {
        env.push("TERM=xterm".into());
    }
    merge_env(&mut env, &spec.env);
    if !env.iter().any(|e| env_key(e) == "HOME") {
        env.push(format!("HOME={}", spec.user.home));
    }
    env
}

/// Docker's open-files limit (1048576), capped by strata's own hard limit (raising it needs
/// CAP_SYS_RESOURCE in the initial namespace, which not every host grants).
pub fn nofile_limit() -> u64 {
    let own = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .unwrap_or(u64::MAX);
    own.min(1_048_576)
}

/// The OCI runtime config (`config.json`) for a bundle whose root is `rootfs/`.
pub fn runtime_config(spec: &BundleSpec) -> Value {
    let nofile = nofile_limit();
    let caps: Vec<&str> = DEFAULT_CAPS.to_vec();
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]}),
    ];
    for b in &spec.binds {
        let mut opts = vec!["rbind", "rprivate"];
        if b.read_only {
            opts.push("ro");
        }
        mounts.push(json!({"destination": b.destination, "type": "bind",
                           "source": b.source, "options": opts}));
    }
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if spec.network == NetworkMode::None {
        namespaces.push(json!({"type": "network"}));
    }
    let mut user = json!({"uid": spec.user.uid, "gid": spec.user.gid});
    if !spec.user.additional_gids.is_empty() {
        user["additionalGids"] = json!(spec.user.additional_gids);
    }
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": spec.terminal,
            "user": user,
            "args": spec.args,
            "env": process_env(spec),
            "cwd": spec.cwd,
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps,
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}],
            "noNewPrivileges": true,
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": spec.hostname,
        "mounts": mounts,
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": namespaces,
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(ep: Option<&[&str]>, cmd: Option<&[&str]>) -> ContainerConfig {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        ContainerConfig {
            entrypoint: ep.map(v),
            cmd: cmd.map(v),
            ..Default::default()
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn entrypoint_and_cmd_combine_like_docker() {
        let img = cfg(Some(&["/ep", "-x"]), Some(&["default"]));
        assert_eq!(
            command_line(&img, None, &[]).unwrap(),
            s(&["/ep", "-x", "default"])
        );
        assert_eq!(
            command_line(&img, None, &s(&["a"])).unwrap(),
            s(&["/ep", "-x", "a"])
        );
        assert_eq!(command_line(&img, Some("sh"), &[]).unwrap(), s(&["sh"]));
        assert_eq!(
            command_line(&img, Some("sh"), &s(&["-c", "x"])).unwrap(),
            s(&["sh", "-c", "x"])
        );
        assert_eq!(
            command_line(&img, Some(""), &s(&["ls"])).unwrap(),
            s(&["ls"])
        );
        let plain = cfg(None, Some(&["sh"]));
        assert_eq!(command_line(&plain, None, &[]).unwrap(), s(&["sh"]));
        assert_eq!(
            command_line(&plain, None, &s(&["cat", "/f"])).unwrap(),
            s(&["cat", "/f"])
        );
        let empty = cfg(None, None);
        assert_eq!(
            command_line(&empty, None, &[]).unwrap_err().message,
            "no command specified"
        );
    }

    #[test]
    fn env_merging_and_defaults() {
        let mut base = s(&["PATH=/bin", "A=1"]);
        merge_env(&mut base, &s(&["A=2", "B=3"]));
        assert_eq!(base, s(&["PATH=/bin", "A=2", "B=3"]));
        let spec = BundleSpec {
            args: s(&["sh"]),
            env: s(&["FOO=bar"]),
            cwd: "/".into(),
            user: ResolvedUser {
                uid: 0,
                gid: 0,
                additional_gids: vec![],
                home: "/root".into(),
            },
            terminal: true,
            hostname: "abcdef012345".into(),
            binds: vec![],
            network: NetworkMode::None,
        };
        assert_eq!(
            process_env(&spec),
            s(&[
                DEFAULT_PATH,
                "HOSTNAME=abcdef012345",
                "TERM=xterm",
                "FOO=bar",
                "HOME=/root"
            ])
        );
        let cfg = runtime_config(&spec);
        assert_eq!(cfg["process"]["args"], json!(["sh"]));
        assert_eq!(cfg["hostname"], "abcdef012345");
        assert_eq!(
            cfg["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        let ns: Vec<&str> = cfg["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "network"]);
        let host = BundleSpec {
            network: NetworkMode::Host,
            ..spec
        };
        assert_eq!(
            runtime_config(&host)["linux"]["namespaces"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
    }

    #[test]
    fn env_file_rules() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e");
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("STRATA_SPEC_TEST_VAR", "from-host") };
        std::fs::write(
            &p,
            "# comment\n\nA=1\n  B=two words\nSTRATA_SPEC_TEST_VAR\nSTRATA_SPEC_UNSET_VAR\n",
        )
        .unwrap();
        assert_eq!(
            read_env_file(&p).unwrap(),
            s(&["A=1", "B=two words", "STRATA_SPEC_TEST_VAR=from-host"])
        );
        let missing = dir.path().join("nope");
        assert_eq!(
            read_env_file(&missing).unwrap_err().message,
            format!("open {}: no such file or directory", missing.display())
        );
        std::fs::write(&p, "BAD KEY=1\n").unwrap();
        assert!(
            read_env_file(&p)
                .unwrap_err()
                .message
                .contains("contains whitespaces")
        );
    }

    #[test]
    fn users_resolve_against_the_rootfs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1001::/home/web:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nwebg:x:1001:\nextra:x:2000:web,other\n",
        )
        .unwrap();
        let r = |u| resolve_user(dir.path(), u);
        assert_eq!(
            r("web").unwrap(),
            ResolvedUser {
                uid: 1000,
                gid: 1001,
                additional_gids: vec![1001, 2000],
                home: "/home/web".into()
            }
        );
        assert_eq!(r("1000").unwrap().home, "/home/web");
        assert_eq!(
            r("4242").unwrap(),
            ResolvedUser {
                uid: 4242,
                gid: 0,
                additional_gids: vec![0],
                home: "/".into()
            }
        );
        assert_eq!(r("web:extra").unwrap().gid, 2000);
        assert_eq!(r("0:77").unwrap().gid, 77);
        assert_eq!(
            r("ghost").unwrap_err().message,
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert_eq!(
            r("root:ghosts").unwrap_err().message,
            "unable to find group ghosts: no matching entries in group file"
        );
    }

    #[test]
    fn binds_and_networks() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().display().to_string();
        assert_eq!(
            Bind::parse(&format!("{src}:/data:ro")).unwrap(),
            Bind {
                source: src.clone(),
                destination: "/data".into(),
                read_only: true
            }
        );
        assert_eq!(
            Bind::parse(&format!("{src}:/data")).unwrap().to_docker(),
            format!("{src}:/data")
        );
        assert_eq!(
            Bind::parse("/no/such/strata/dir:/x").unwrap_err().message,
            "invalid mount config for type \"bind\": bind source path does not exist: /no/such/strata/dir"
        );
        assert!(Bind::parse(&format!("{src}:rel")).is_err());
        assert!(Bind::parse("vol:/x").is_err());
        assert!(Bind::parse(&format!("{src}:/x:zz")).is_err());
        assert_eq!(NetworkMode::parse("host").unwrap(), NetworkMode::Host);
        assert_eq!(NetworkMode::parse("none").unwrap(), NetworkMode::None);
        assert!(
            NetworkMode::parse("bridge")
                .unwrap_err()
                .message
                .contains("not offered")
        );
    }
}
