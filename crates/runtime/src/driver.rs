//! OCI runtimes driven through their CLI (`runc`, or the compatible `crun`).

use oci_model::{Error, ErrorKind, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The standard streams given to the container's process.
pub struct ProcessIo {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

impl ProcessIo {
    /// strata's own stdout/stderr; stdin only when `interactive` (else `/dev/null`).
    pub fn inherit(interactive: bool) -> ProcessIo {
        ProcessIo {
            stdin: if interactive {
                Stdio::inherit()
            } else {
                Stdio::null()
            },
            stdout: Stdio::inherit(),
            stderr: Stdio::inherit(),
        }
    }
}

/// The prefix of every error the runtime reports about starting a container's process.
pub const TASK_PREFIX: &str =
    "failed to create task for container: failed to create shim task: OCI runtime create failed: ";

/// A failure reported by the runtime (see [`exit_code_for`] for its exit code).
pub fn runtime_failure(message: &str) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("{TASK_PREFIX}{message}: unknown"),
    )
}

/// The exit code of `strata run`/`start`/`exec` for an error: Docker's 127 when the command
/// does not exist, 126 when it cannot be executed, 125 for every other failure.
pub fn exit_code_of(e: &Error) -> u8 {
    if e.message.starts_with(TASK_PREFIX) {
        exit_code_for(&e.message) as u8
    } else {
        125
    }
}

/// Docker's mapping of runtime errors to exit codes.
pub fn exit_code_for(message: &str) -> i32 {
    let m = message.to_ascii_lowercase();
    if m.contains("executable file not found") || m.contains("no such file or directory") {
        127
    } else if m.contains("permission denied") || m.contains("exec format error") {
        126
    } else {
        125
    }
}

/// What the runtime knows about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeState {
    /// `created`, `running`, `stopped`, `paused`.
    pub status: String,
    pub pid: i64,
}

/// The lifecycle operations strata needs from an OCI runtime.
pub trait Runtime {
    /// The runtime's name (`runc`, `crun`).
    fn name(&self) -> &str;
    /// Creates container `id` from the bundle; its process waits for [`Runtime::start`]. The
    /// process's pid is written to `pid_file`.
    fn create(&self, id: &str, bundle: &Path, pid_file: &Path, io: ProcessIo) -> Result<()>;
    fn start(&self, id: &str) -> Result<()>;
    /// Creates, starts and waits (the runtime handles a terminal); returns the exit code.
    fn run(&self, id: &str, bundle: &Path, pid_file: &Path, io: ProcessIo) -> Result<i32>;
    fn state(&self, id: &str) -> Result<Option<RuntimeState>>;
    fn kill(&self, id: &str, signal: &str) -> Result<()>;
    /// Forgets the container (force: kills it first). Unknown containers are not an error.
    fn delete(&self, id: &str, force: bool) -> Result<()>;
    /// Runs `args` inside the running container; returns the exit code.
    fn exec(&self, id: &str, opts: &ExecOptions, io: ProcessIo) -> Result<i32>;
}

/// `exec` options in runtime terms.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<String>,
    /// `uid:gid`
    pub user: Option<String>,
    pub tty: bool,
}

/// A runc-compatible CLI runtime (`runc`, `crun`) with its state under `<store>/runc`.
#[derive(Debug)]
pub struct CliRuntime {
    name: String,
    binary: PathBuf,
    state_root: PathBuf,
    log_dir: PathBuf,
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The runtime to use: `name` (from `--runtime` or the config's `runtime`) or, by default,
/// `runc`, then `crun`, from `PATH`.
pub fn select(name: Option<&str>, store_root: &Path) -> Result<CliRuntime> {
    let make = |name: &str, binary: PathBuf| CliRuntime {
        name: name.rsplit('/').next().unwrap_or(name).to_string(),
        binary,
        state_root: store_root.join("runc"),
        log_dir: store_root.join("runc-logs"),
    };
    match name.filter(|n| !n.is_empty()) {
        Some(n) => find_on_path(n).map(|b| make(n, b)).ok_or_else(|| {
            Error::not_found(format!("OCI runtime {n:?} not found on PATH"))
        }),
        None => ["runc", "crun"]
            .iter()
            .find_map(|n| find_on_path(n).map(|b| make(n, b)))
            .ok_or_else(|| {
                Error::not_found(
                    "no OCI runtime found: neither runc nor crun is on PATH (install one, or set --runtime)",
                )
            }),
    }
}

/// The last error message in a runc/crun JSON log (`{"level":"error","msg":…}` lines).
fn last_error(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        (v["level"] == "error").then(|| v["msg"].as_str().unwrap_or_default().to_string())
    })
}

impl CliRuntime {
    fn base(&self, log: Option<&Path>) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--root").arg(&self.state_root);
        if let Some(log) = log {
            c.arg("--log").arg(log).arg("--log-format").arg("json");
        }
        c
    }

    fn log_file(&self, id: &str, what: &str) -> Result<PathBuf> {
        fsutil::private_dir(&self.log_dir).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("create {}: {e}", self.log_dir.display()),
            )
        })?;
        let p = self
            .log_dir
            .join(format!("{id}-{what}-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&p);
        Ok(p)
    }

    fn spawn_err(&self, e: std::io::Error) -> Error {
        Error::new(
            ErrorKind::Unavailable,
            format!("running {}: {e}", self.binary.display()),
        )
    }

    /// Runs a short command, capturing stderr; failure text from stderr.
    fn simple(&self, args: &[&str]) -> Result<String> {
        let out = self
            .base(None)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.spawn_err(e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
            Err(Error::new(ErrorKind::Internal, msg))
        }
    }

    /// Runs a command whose own errors go to its JSON log (its stdio being the container's).
    fn logged(&self, mut cmd: Command) -> Result<std::process::ExitStatus> {
        cmd.status().map_err(|e| self.spawn_err(e))
    }
}

impl Runtime for CliRuntime {
    fn name(&self) -> &str {
        &self.name
    }

    fn create(&self, id: &str, bundle: &Path, pid_file: &Path, io: ProcessIo) -> Result<()> {
        let log = self.log_file(id, "create")?;
        let mut cmd = self.base(Some(&log));
        cmd.arg("create")
            .arg("--bundle")
            .arg(bundle)
            .arg("--pid-file")
            .arg(pid_file)
            .arg(id)
            .stdin(io.stdin)
            .stdout(io.stdout)
            .stderr(io.stderr);
        let status = self.logged(cmd)?;
        let err = last_error(&log);
        let _ = std::fs::remove_file(&log);
        if status.success() {
            return Ok(());
        }
        Err(runtime_failure(&err.unwrap_or_else(|| {
            format!("{} create failed ({status})", self.name)
        })))
    }

    fn start(&self, id: &str) -> Result<()> {
        self.simple(&["start", id])
            .map(|_| ())
            .map_err(|e| runtime_failure(&e.message))
    }

    fn run(&self, id: &str, bundle: &Path, pid_file: &Path, io: ProcessIo) -> Result<i32> {
        let log = self.log_file(id, "run")?;
        let mut cmd = self.base(Some(&log));
        cmd.arg("run")
            .arg("--bundle")
            .arg(bundle)
            .arg("--pid-file")
            .arg(pid_file)
            .arg(id)
            .stdin(io.stdin)
            .stdout(io.stdout)
            .stderr(io.stderr);
        let status = self.logged(cmd)?;
        let err = last_error(&log);
        let _ = std::fs::remove_file(&log);
        match (err, status.code()) {
            (Some(msg), _) if !pid_file.exists() => Err(runtime_failure(&msg)),
            (_, Some(code)) => Ok(code),
            (_, None) => {
                use std::os::unix::process::ExitStatusExt;
                Ok(128 + status.signal().unwrap_or(9))
            }
        }
    }

    fn state(&self, id: &str) -> Result<Option<RuntimeState>> {
        match self.simple(&["state", id]) {
            Ok(out) => {
                let v: serde_json::Value = serde_json::from_str(&out).map_err(|e| {
                    Error::new(ErrorKind::Internal, format!("{} state: {e}", self.name))
                })?;
                Ok(Some(RuntimeState {
                    status: v["status"].as_str().unwrap_or_default().to_string(),
                    pid: v["pid"].as_i64().unwrap_or(0),
                }))
            }
            Err(e) if e.message.contains("does not exist") || e.message.contains("not exist") => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn kill(&self, id: &str, signal: &str) -> Result<()> {
        self.simple(&["kill", id, signal]).map(|_| ())
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut args = vec!["delete"];
        if force {
            args.push("--force");
        }
        args.push(id);
        match self.simple(&args) {
            Ok(_) => Ok(()),
            Err(e) if e.message.contains("does not exist") || e.message.contains("not exist") => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn exec(&self, id: &str, opts: &ExecOptions, io: ProcessIo) -> Result<i32> {
        let log = self.log_file(id, "exec")?;
        let mut cmd = self.base(Some(&log));
        cmd.arg("exec");
        if opts.tty {
            cmd.arg("--tty");
        }
        if let Some(cwd) = &opts.cwd {
            cmd.arg("--cwd").arg(cwd);
        }
        for e in &opts.env {
            cmd.arg("--env").arg(e);
        }
        if let Some(u) = &opts.user {
            cmd.arg("--user").arg(u);
        }
        cmd.arg(id)
            .args(&opts.args)
            .stdin(io.stdin)
            .stdout(io.stdout)
            .stderr(io.stderr);
        let status = self.logged(cmd)?;
        let err = last_error(&log);
        let _ = std::fs::remove_file(&log);
        if let Some(msg) = err
            && !status.success()
        {
            return Err(runtime_failure(&msg));
        }
        use std::os::unix::process::ExitStatusExt;
        Ok(status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(9)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_docker_exit_codes() {
        let e = runtime_failure(
            "runc create failed: unable to start container process: exec: \"nope\": executable file not found in $PATH",
        );
        assert_eq!(exit_code_of(&e), 127);
        assert_eq!(
            e.message,
            "failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"nope\": executable file not found in $PATH: unknown"
        );
        assert_eq!(
            exit_code_of(&Error::invalid("no such file or directory")),
            125
        );
        assert_eq!(
            exit_code_for("exec: \"/etc/passwd\": permission denied"),
            126
        );
        assert_eq!(
            exit_code_for("exec: \"/x\": stat /x: no such file or directory"),
            127
        );
        assert_eq!(exit_code_for("cgroup trouble"), 125);
    }

    #[test]
    fn missing_runtime_is_a_clear_error() {
        let e = select(Some("strata-no-such-runtime"), Path::new("/tmp")).unwrap_err();
        assert!(e.message.contains("strata-no-such-runtime"));
    }
}
