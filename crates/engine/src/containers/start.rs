//! `start`/`run`: launching a created or exited container's process, in the foreground (strata
//! waits for it, attached to its own stdio) or detached (a monitor process waits for it; see
//! [`super::monitor`]). Whoever waits records the exit, so a container is recorded as running
//! only while someone is there to record its end.

use super::monitor::{MONITOR_COMMAND, Report};
use super::process::{forward_signals_to, set_subreaper, stop_forwarding, wait_exit};
use super::remove::remove_files;
use super::{driver_of, image_of, internal, now_rfc3339, runtime_for};
use oci_model::{Error, ErrorKind, Result};
use runtime::driver::{ProcessIo, Runtime};
use runtime::error::RuntimeError;
use runtime::{bundle_config_path, container_dir, rootfs};
use serde_json::{Value, json};
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use store::Store;
use store::metadata::{ContainerRecord, ContainerState};

/// How the container's output is handled when it starts.
pub(super) enum Output {
    /// Strata's own stdio (foreground).
    Inherit { interactive: bool },
    /// Pipes copied into `container.log` by the caller.
    Pipes,
}

/// The pipe ends for a detached container's stdout and stderr.
pub(super) struct LogPipes {
    pub(super) stdout: std::io::PipeReader,
    pub(super) stderr: std::io::PipeReader,
}

/// Sets `process.terminal` in the bundle's config (a `-t` container started detached has no
/// terminal to give).
pub(super) fn make_terminal(store: &Store, id: &str, terminal: bool) -> Result<()> {
    let p = bundle_config_path(store.root(), id);
    let text = std::fs::read(&p).map_err(|e| internal(format!("read {}", p.display()), e))?;
    let mut v: Value =
        serde_json::from_slice(&text).map_err(|e| internal(format!("parse {}", p.display()), e))?;
    if v["process"]["terminal"].as_bool() == Some(terminal) {
        return Ok(());
    }
    v["process"]["terminal"] = json!(terminal);
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap_or_default())
        .map_err(|e| internal(format!("write {}", p.display()), e))
}

/// Records `c` as running, waited for by this process.
fn mark_running(store: &Store, c: &mut ContainerRecord, pid: Option<i64>) -> Result<()> {
    c.state = ContainerState::Running;
    if pid.is_some() {
        c.pid = pid;
    }
    c.exit_code = None;
    c.finished_at = None;
    c.started_at = Some(now_rfc3339());
    c.config.monitor_pid = Some(i64::from(std::process::id()));
    c.config.error = None;
    store.db().update_container(c)
}

/// Mounts the rootfs and creates + starts the container's process with the runtime (this
/// process becomes the subreaper that waits for it). Returns the container's pid and, for
/// [`Output::Pipes`], the read ends of its stdout/stderr.
pub(super) fn launch(
    store: &Store,
    c: &mut ContainerRecord,
    output: Output,
) -> std::result::Result<(i64, Option<LogPipes>), RuntimeError> {
    if !c.state.can_start() {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("container {} is already running", c.id),
        )
        .into());
    }
    let prev_state = c.state;
    let rt = runtime_for(store, c)?;
    let image = image_of(store, &c.image_id)?;
    rootfs::mount(&store.snapshots, &c.id, &image.layers, driver_of(c))?;
    let _ = rt.delete(&c.id, true);
    set_subreaper()?;
    let dir = container_dir(store.root(), &c.id);
    let pid_file = dir.join("init.pid");
    let _ = std::fs::remove_file(&pid_file);
    let (io, pipes) = match output {
        Output::Inherit { interactive } => (ProcessIo::inherit(interactive), None),
        Output::Pipes => {
            let (out_r, out_w) = std::io::pipe().map_err(|e| internal("pipe", e))?;
            let (err_r, err_w) = std::io::pipe().map_err(|e| internal("pipe", e))?;
            (
                ProcessIo {
                    stdin: Stdio::null(),
                    stdout: out_w.into(),
                    stderr: err_w.into(),
                },
                Some(LogPipes {
                    stdout: out_r,
                    stderr: err_r,
                }),
            )
        }
    };
    let started = (|| -> std::result::Result<i64, RuntimeError> {
        rt.create(&c.id, &dir, &pid_file, io)?;
        let pid = std::fs::read_to_string(&pid_file)
            .map_err(|e| internal(format!("read {}", pid_file.display()), e))?
            .trim()
            .parse::<i64>()
            .map_err(|e| internal("parse pid file", e))?;
        // Record it as running before the process execs, so `ps` never misses it.
        mark_running(store, c, Some(pid))?;
        rt.start(&c.id)?;
        Ok(pid)
    })();
    match started {
        Ok(pid) => Ok((pid, pipes)),
        Err(e) => {
            let _ = rt.delete(&c.id, true);
            let _ = rootfs::unmount(store.root(), &c.id);
            c.state = prev_state;
            c.pid = None;
            c.exit_code = Some(i64::from(e.exit));
            c.config.monitor_pid = None;
            c.config.error = Some(e.error.message.clone());
            let _ = store.db().update_container(c);
            Err(e)
        }
    }
}

/// Records the exit, releases runtime state and the rootfs; removes the container when it
/// was created with `--rm`.
pub(super) fn finish(store: &Store, id: &str, code: i32) -> Result<()> {
    let Some(mut c) = store.db().container(id)? else {
        return Ok(());
    };
    if let Ok(rt) = runtime_for(store, &c) {
        let _ = rt.delete(id, true);
    }
    let _ = rootfs::unmount(store.root(), id);
    c.state = ContainerState::Exited;
    c.pid = None;
    c.exit_code = Some(i64::from(code));
    c.finished_at = Some(now_rfc3339());
    c.config.monitor_pid = None;
    store.db().update_container(&c)?;
    if c.config.auto_remove {
        remove_files(store, &c)?;
    }
    Ok(())
}

/// Starts container `c` attached to strata's stdio and waits for it; returns its exit code.
/// Signals strata receives are forwarded to it.
pub fn start_foreground(
    store: &Store,
    c: &mut ContainerRecord,
    interactive: bool,
) -> std::result::Result<i32, RuntimeError> {
    if c.config.tty {
        return run_with_terminal(store, c);
    }
    let (pid, _) = match launch(store, c, Output::Inherit { interactive }) {
        Ok(x) => x,
        Err(e) => {
            if c.config.auto_remove {
                let _ = remove_files(store, c);
            }
            return Err(e);
        }
    };
    forward_signals_to(pid);
    let code = wait_exit(pid);
    stop_forwarding();
    finish(store, &c.id, code)?;
    Ok(code)
}

/// A terminal in the foreground: the runtime's `run` owns the terminal and waits.
fn run_with_terminal(
    store: &Store,
    c: &mut ContainerRecord,
) -> std::result::Result<i32, RuntimeError> {
    let rt = runtime_for(store, c)?;
    let image = image_of(store, &c.image_id)?;
    rootfs::mount(&store.snapshots, &c.id, &image.layers, driver_of(c))?;
    make_terminal(store, &c.id, true)?;
    let _ = rt.delete(&c.id, true);
    let dir = container_dir(store.root(), &c.id);
    let pid_file = dir.join("init.pid");
    let _ = std::fs::remove_file(&pid_file);
    mark_running(store, c, None)?;
    // The runtime forwards signals itself; strata must merely survive them.
    forward_signals_to(0);
    match rt.run(&c.id, &dir, &pid_file, ProcessIo::inherit(true)) {
        Ok(code) => {
            finish(store, &c.id, code)?;
            Ok(code)
        }
        Err(e) => {
            finish(store, &c.id, i32::from(e.exit))?;
            Err(e)
        }
    }
}

/// Starts container `c` in the background through a monitor process (`exe` re-executed with
/// [`super::monitor::MONITOR_COMMAND`], in its own session) that waits for it and records its
/// exit. Returns once the container's process runs, or with the runtime's error.
pub fn start_detached(
    store: &Store,
    c: &ContainerRecord,
    exe: &Path,
) -> std::result::Result<(), RuntimeError> {
    if !c.state.can_start() {
        return Ok(());
    }
    // Fail early (before forking) on a missing runtime.
    runtime_for(store, c)?;
    // The monitor's own diagnostics (a panic, a failed database write) go next to the log.
    let monitor_log: Stdio = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(container_dir(store.root(), &c.id).join("monitor.log"))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let mut cmd = Command::new(exe);
    cmd.arg("--root")
        .arg(store.root())
        .arg(MONITOR_COMMAND)
        .arg(&c.id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(monitor_log);
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure runs between fork and exec and only calls setsid(2), which is
        // async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                let _ = rustix::process::setsid();
                Ok(())
            });
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| internal("starting the container monitor", e))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    match Report::parse(line.trim_end()) {
        // The monitor lives on; it is reaped by init once strata exits.
        Some(Report::Started) => Ok(()),
        Some(Report::Failed { exit, message }) => {
            let _ = child.wait();
            Err(RuntimeError {
                error: Error::new(ErrorKind::Internal, message),
                exit,
            })
        }
        None => {
            let _ = child.wait();
            Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "the container monitor for {} exited before starting it",
                    c.id
                ),
            )
            .into())
        }
    }
}
