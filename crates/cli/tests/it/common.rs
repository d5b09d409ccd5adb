//! Shared helpers: a temp store, a `strata` command bound to it, fixture publishing.

use oci_model::Digest;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use test_support::proxy::{Fault, FaultProxy};
use test_support::{BuiltImage, BuiltIndex, ImageSpec, OciLayout, Registry};

pub struct Env {
    pub dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("docker")).unwrap();
        Env {
            dir,
            vars: Vec::new(),
        }
    }

    /// An extra environment variable for every strata run of this env.
    pub fn with_var(mut self, k: &str, v: &str) -> Env {
        self.vars.push((k.into(), v.into()));
        self
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    pub fn docker_config(&self) -> PathBuf {
        self.dir.path().join("docker")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
        c.env("STRATA_ROOT", self.root())
            .env("STRATA_CONFIG", self.dir.path().join("strata-config.json"))
            .env("DOCKER_CONFIG", self.docker_config())
            .env("STRATA_RETRY_BASE_MS", "20")
            .env_remove("DOCKER_DEFAULT_PLATFORM")
            .env_remove("STRATA_SNAPSHOTTER")
            .envs(self.vars.iter().map(|(k, v)| (k, v)));
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run strata")
    }

    /// `strata login -u USER --password-stdin SERVER`, the password on stdin.
    pub fn login(&self, server: &str, user: &str, pass: &str) -> Output {
        self.run_with_stdin(
            &["login", "-u", user, "--password-stdin", server],
            format!("{pass}\n").as_bytes(),
        )
    }

    /// Runs with `input` on stdin; captures stdout and stderr.
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut cmd = self.cmd();
        cmd.args(args);
        run_fed(cmd, input)
    }

    /// Runs `strata <args>` on a pseudo-terminal (through `script`), as from an interactive shell.
    pub fn run_on_tty(&self, args: &str) -> Output {
        let mut script = Command::new("script");
        script.envs(self.cmd().get_envs().filter_map(|(k, v)| Some((k, v?))));
        let cmdline = format!("{} {args}", env!("CARGO_BIN_EXE_strata"));
        script
            .args(["-qfec", &cmdline, "/dev/null"])
            .output()
            .unwrap()
    }

    /// Runs with `{REGISTRY}` in `args` replaced by `registry`; returns stdout, stderr and
    /// `exit N`, with `registry` written back as `{REGISTRY}` (for goldens).
    pub fn transcript(&self, registry: &str, args: &[&str]) -> String {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{REGISTRY}", registry))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.run(&args);
        let mut text = String::from_utf8_lossy(&out.stdout).to_string();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        text.push_str(&format!("exit {}\n", out.status.code().unwrap_or(-1)));
        text.replace(registry, "{REGISTRY}")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "strata {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and asserts exit code 1; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "strata {args:?} should fail with 1:\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn inspect(&self, image: &str) -> serde_json::Value {
        let out = self.ok(&["image", "inspect", image]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v[0].clone()
    }

    /// Every blob in the store hashes to its name (nothing partial or corrupt is visible).
    pub fn assert_blobs_valid(&self) -> usize {
        let dir = self.root().join("blobs/sha256");
        let mut n = 0;
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd {
                let e = e.unwrap();
                let name = e.file_name().into_string().unwrap();
                let bytes = std::fs::read(e.path()).unwrap();
                assert_eq!(
                    Digest::of(&bytes).hex(),
                    name,
                    "blob {name} does not match its digest"
                );
                n += 1;
            }
        }
        n
    }

    /// Committed layer directories (by ChainID), excluding in-progress ones.
    pub fn layer_dirs(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root().join("layers"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().into_string().unwrap())
                    .filter(|n| n.len() == 64)
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// Runs `cmd` with `input` written to its stdin from another thread (so a large input cannot
/// block against unread output); captures stdout and stderr.
pub fn run_fed(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

/// A [`FaultProxy`] in front of `reg` with the one `fault`.
pub fn fault_proxy(reg: &Registry, fault: Fault) -> FaultProxy {
    FaultProxy::start(&reg.addr, vec![fault]).unwrap()
}

/// Builds `spec` into a fresh OCI layout and pushes it as `repo:tag`.
pub fn publish(reg: &Registry, spec: &ImageSpec, repo_tag: &str) -> BuiltImage {
    let dir = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new(dir.path()).unwrap();
    let built = layout.add_image(spec, "t").unwrap();
    test_support::push(dir.path(), "t", reg, repo_tag).unwrap();
    built
}

pub fn publish_index(
    reg: &Registry,
    specs: &[ImageSpec],
    repo_tag: &str,
    docker_list: bool,
) -> BuiltIndex {
    let dir = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new(dir.path()).unwrap();
    let built = layout.add_index(specs, "t", docker_list).unwrap();
    test_support::push(dir.path(), "t", reg, repo_tag).unwrap();
    built
}

/// The `id: status` lines for one layer id, in order.
pub fn statuses_for<'a>(out: &'a str, id: &str) -> Vec<&'a str> {
    let prefix = format!("{id}: ");
    out.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Mounts `image`, returns the mount path; the guard unmounts.
pub struct Mounted<'a> {
    env: &'a Env,
    image: String,
    pub path: PathBuf,
}

impl<'a> Mounted<'a> {
    pub fn new(env: &'a Env, image: &str) -> Mounted<'a> {
        let out = env.ok(&["image", "mount", image]);
        Mounted {
            env,
            image: image.to_string(),
            path: PathBuf::from(out.trim()),
        }
    }
}

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        let _ = self.env.run(&["image", "unmount", &self.image]);
    }
}
