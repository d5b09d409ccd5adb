//! OCI runtimes driven through their CLI (`runc`, or the compatible `crun`).
//!
//! Whether the runtime knows a container is read from its state directory
//! (`<state root>/<id>`, for runc and crun alike), not from the wording of its errors; why a
//! process could not start is classified once, into a [`RuntimeError`]'s exit code.

use crate::error::RuntimeError;
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

/// The lifecycle operations strata needs from an OCI runtime.
pub trait Runtime {
    /// The runtime's name (`runc`, `crun`).
    fn name(&self) -> &str;
    /// Creates container `id` from the bundle; its process waits for [`Runtime::start`]. The
    /// process's pid is written to `pid_file`.
    fn create(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        io: ProcessIo,
    ) -> std::result::Result<(), RuntimeError>;
    fn start(&self, id: &str) -> std::result::Result<(), RuntimeError>;
    /// Creates, starts and waits (the runtime handles a terminal); returns the exit code.
    fn run(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        io: ProcessIo,
    ) -> std::result::Result<i32, RuntimeError>;
    fn kill(&self, id: &str, signal: &str) -> Result<()>;
    /// Forgets the container (force: kills it first). Unknown containers are not an error.
    fn delete(&self, id: &str, force: bool) -> Result<()>;
    /// Runs `args` inside the running container; returns the exit code.
    fn exec(
        &self,
        id: &str,
        opts: &ExecOptions,
        io: ProcessIo,
    ) -> std::result::Result<i32, RuntimeError>;
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

    /// Runs `<runtime> <what> …` for container `id` with `io` attached and the runtime's log in
    /// a file of its own; returns the exit status and the log's last error (the log is removed).
    fn invoke(
        &self,
        id: &str,
        what: &str,
        io: ProcessIo,
        args: impl FnOnce(&mut Command),
    ) -> std::result::Result<(std::process::ExitStatus, Option<String>), RuntimeError> {
        let log = self.log_file(id, what)?;
        let mut cmd = self.base(Some(&log));
        cmd.arg(what);
        args(&mut cmd);
        cmd.stdin(io.stdin).stdout(io.stdout).stderr(io.stderr);
        let status = self.logged(cmd)?;
        let err = last_error(&log);
        let _ = std::fs::remove_file(&log);
        Ok((status, err))
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

    /// Whether the runtime holds state for container `id`.
    fn knows(&self, id: &str) -> bool {
        self.state_root.join(id).exists()
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

    fn create(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        io: ProcessIo,
    ) -> std::result::Result<(), RuntimeError> {
        let (status, err) = self.invoke(id, "create", io, |cmd| {
            bundle_args(cmd, bundle, pid_file, id);
        })?;
        if status.success() {
            return Ok(());
        }
        Err(RuntimeError::task(&err.unwrap_or_else(|| {
            format!("{} create failed ({status})", self.name)
        })))
    }

    fn start(&self, id: &str) -> std::result::Result<(), RuntimeError> {
        self.simple(&["start", id])
            .map(|_| ())
            .map_err(|e| RuntimeError::task(&e.message))
    }

    fn run(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        io: ProcessIo,
    ) -> std::result::Result<i32, RuntimeError> {
        let (status, err) = self.invoke(id, "run", io, |cmd| {
            bundle_args(cmd, bundle, pid_file, id);
        })?;
        match err {
            Some(msg) if !pid_file.exists() => Err(RuntimeError::task(&msg)),
            _ => Ok(exit_code(status)),
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
        if !self.knows(id) {
            return Ok(());
        }
        match self.simple(&args) {
            Ok(_) => Ok(()),
            // Deleted meanwhile (by the monitor, or a concurrent `rm`).
            Err(_) if !self.knows(id) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn exec(
        &self,
        id: &str,
        opts: &ExecOptions,
        io: ProcessIo,
    ) -> std::result::Result<i32, RuntimeError> {
        let (status, err) = self.invoke(id, "exec", io, |cmd| {
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
            cmd.arg(id).args(&opts.args);
        })?;
        if let Some(msg) = err
            && !status.success()
        {
            return Err(RuntimeError::task(&msg));
        }
        Ok(exit_code(status))
    }
}

/// `--bundle B --pid-file P ID`, as `create` and `run` take them.
fn bundle_args(cmd: &mut Command, bundle: &Path, pid_file: &Path, id: &str) {
    cmd.arg("--bundle")
        .arg(bundle)
        .arg("--pid-file")
        .arg(pid_file)
        .arg(id);
}

/// A process's exit code as a shell reports it: its code, or 128 + the signal that ended it.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_runtime_is_a_clear_error() {
        let e = select(Some("strata-no-such-runtime"), Path::new("/tmp")).unwrap_err();
        assert!(e.message.contains("strata-no-such-runtime"));
    }
}
