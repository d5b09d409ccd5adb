//! Container verbs: create, start (foreground or through a detached monitor), stop, kill,
//! wait, remove, exec. The CLI only parses and renders.

use oci_model::image_config::ImageConfig;
use oci_model::{Digest, Error, ErrorKind, Result};
use runtime::driver::{CliRuntime, ExecOptions, ProcessIo, Runtime};
use runtime::spec::{self, Bind, BundleSpec, NetworkMode};
use runtime::{bundle_config_path, container_dir, log_path, rootfs, rootfs_dir};
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use store::Store;
use store::metadata::{ContainerRecord, MONITOR_PID_KEY};

/// What `create`/`run` were asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The image as the user named it (Docker's `Config.Image`).
    pub image_ref: String,
    pub name: Option<String>,
    /// `-e` (already expanded) and `--env-file` entries, in order.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub entrypoint: Option<String>,
    pub args: Vec<String>,
    pub interactive: bool,
    pub tty: bool,
    /// `-v HOST:CTR[:ro]`
    pub binds: Vec<String>,
    pub network: Option<String>,
    pub auto_remove: bool,
    /// `--runtime` or the config's `runtime`.
    pub runtime: Option<String>,
}

fn internal(context: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, format!("{context}: {e}"))
}

/// `No such container: X`.
pub fn no_such_container(key: &str) -> Error {
    Error::not_found(format!("No such container: {key}"))
}

/// Finds a container by name, ID or unique ID prefix.
pub fn find(store: &Store, key: &str) -> Result<ContainerRecord> {
    store
        .db()
        .find_container(key)?
        .ok_or_else(|| no_such_container(key))
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

fn cfg_str<'a>(c: &'a ContainerRecord, key: &str) -> Option<&'a str> {
    c.config.get(key).and_then(Value::as_str)
}

fn cfg_bool(c: &ContainerRecord, key: &str) -> bool {
    c.config.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The runtime a container was created with.
pub fn runtime_for(store: &Store, c: &ContainerRecord) -> Result<CliRuntime> {
    runtime::driver::select(cfg_str(c, "Runtime"), store.root())
}

fn image_config(store: &Store, image_id: &str) -> Result<ImageConfig> {
    let bytes = store.content.read(&Digest::parse(image_id)?)?;
    serde_json::from_slice(&bytes).map_err(|e| internal(format!("image config {image_id}"), e))
}

fn conflict(name: &str, id: &str) -> Error {
    Error::new(
        ErrorKind::Conflict,
        format!(
            "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
        ),
    )
}

fn name_owner(store: &Store, name: &str) -> Result<Option<String>> {
    Ok(store
        .db()
        .containers()?
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| c.id))
}

/// Removes whatever a failed create left behind.
fn discard(store: &Store, id: &str) {
    let _ = rootfs::unmount(store.root(), id);
    let _ = std::fs::remove_dir_all(container_dir(store.root(), id));
}

/// Creates a container from image `image_id` (already local). Everything is validated before
/// anything is written; a failure leaves no record, directory or mount behind.
pub fn create(store: &Store, image_id: &str, opts: &CreateOptions) -> Result<ContainerRecord> {
    let name = match &opts.name {
        Some(n) => {
            let n = runtime::validate_name(n)?;
            if let Some(owner) = name_owner(store, &n)? {
                return Err(conflict(&n, &owner));
            }
            n
        }
        None => {
            let mut retry = 0;
            loop {
                let n = runtime::generate_name(retry)?;
                if name_owner(store, &n)?.is_none() {
                    break n;
                }
                retry += 1;
            }
        }
    };
    let binds = opts
        .binds
        .iter()
        .map(|b| Bind::parse(b))
        .collect::<Result<Vec<_>>>()?;
    let network = NetworkMode::parse(opts.network.as_deref().unwrap_or("none"))?;
    let rt = runtime::driver::select(opts.runtime.as_deref(), store.root())?;
    let image = store
        .db()
        .image(image_id)?
        .ok_or_else(|| Error::not_found(format!("No such image: {image_id}")))?;
    let config = image_config(store, image_id)?;
    let icfg = config.config.clone().unwrap_or_default();
    let args = spec::command_line(&icfg, opts.entrypoint.as_deref(), &opts.args)?;
    let workdir = match opts.workdir.as_deref().filter(|w| !w.is_empty()) {
        Some(w) if !w.starts_with('/') => {
            return Err(Error::invalid(format!(
                "the working directory '{w}' is invalid, it needs to be an absolute path"
            )));
        }
        Some(w) => w.to_string(),
        None => icfg
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into()),
    };
    let user = opts
        .user
        .clone()
        .or_else(|| icfg.user.clone())
        .unwrap_or_default();
    let mut env = icfg.env.clone().unwrap_or_default();
    spec::merge_env(&mut env, &opts.env);

    let id = runtime::generate_id()?;
    let hostname = id[..12].to_string();
    let dir = container_dir(store.root(), &id);
    fsutil::private_dir(&dir).map_err(|e| internal(format!("create {}", dir.display()), e))?;
    let result = (|| -> Result<ContainerRecord> {
        let driver = rootfs::mount(&store.snapshots, &id, &image.layers, None)?;
        let rootfs_path = rootfs_dir(store.root(), &id);
        let resolved = spec::resolve_user(&rootfs_path, if user.is_empty() { "0" } else { &user })?;
        let cwd_in_rootfs = rootfs_path.join(workdir.trim_start_matches('/'));
        if !cwd_in_rootfs.exists() {
            std::fs::create_dir_all(&cwd_in_rootfs)
                .map_err(|e| internal(format!("create working directory {workdir}"), e))?;
        }
        let bundle = BundleSpec {
            args: args.clone(),
            env: env.clone(),
            cwd: workdir.clone(),
            user: resolved,
            terminal: opts.tty,
            hostname: hostname.clone(),
            binds: binds.clone(),
            network,
        };
        let cfg_path = bundle_config_path(store.root(), &id);
        let text = serde_json::to_vec_pretty(&spec::runtime_config(&bundle))
            .map_err(|e| internal("encode config.json", e))?;
        std::fs::write(&cfg_path, text)
            .map_err(|e| internal(format!("write {}", cfg_path.display()), e))?;
        rootfs::unmount(store.root(), &id)?;
        let (entrypoint, cmd): (Value, Value) = match opts.entrypoint.as_deref() {
            Some("") => (Value::Null, json!(opts.args)),
            Some(e) => (json!([e]), json!(opts.args)),
            None => (
                json!(icfg.entrypoint),
                if opts.args.is_empty() {
                    json!(icfg.cmd)
                } else {
                    json!(opts.args)
                },
            ),
        };
        let record = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            image_id: image_id.to_string(),
            image_ref: opts.image_ref.clone(),
            command: args.clone(),
            created_unix: jiff::Timestamp::now().as_second(),
            state: "created".into(),
            pid: None,
            exit_code: None,
            started_at: None,
            finished_at: None,
            config: json!({
                "Created": now_rfc3339(),
                "Hostname": hostname,
                "User": user,
                "Env": env,
                "Cmd": cmd,
                "Entrypoint": entrypoint,
                "WorkingDir": opts.workdir.clone().unwrap_or_else(|| icfg.working_dir.clone().unwrap_or_default()),
                "Labels": icfg.labels.clone().unwrap_or_default(),
                "Tty": opts.tty,
                "OpenStdin": opts.interactive,
                "AttachStdin": opts.interactive,
                "Binds": binds.iter().map(Bind::to_docker).collect::<Vec<_>>(),
                "NetworkMode": network.name(),
                "AutoRemove": opts.auto_remove,
                "Runtime": rt.name(),
                "Driver": driver.name(),
                "StopSignal": icfg.stop_signal.clone(),
            }),
        };
        store.db().insert_container(&record).map_err(|e| {
            if e.kind == ErrorKind::Conflict
                && let Ok(Some(owner)) = name_owner(store, &name)
            {
                return conflict(&name, &owner);
            }
            e
        })?;
        Ok(record)
    })();
    if result.is_err() {
        discard(store, &id);
    }
    result
}

/// How the container's output is handled when it starts.
enum Output {
    /// Strata's own stdio (foreground).
    Inherit { interactive: bool },
    /// Pipes copied into `container.log` by the caller.
    Pipes,
}

/// The pipe ends for a detached container's stdout and stderr.
struct LogPipes {
    stdout: std::io::PipeReader,
    stderr: std::io::PipeReader,
}

fn set_subreaper() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if r != 0 {
        return Err(internal(
            "prctl(PR_SET_CHILD_SUBREAPER)",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

fn make_terminal(store: &Store, id: &str, terminal: bool) -> Result<()> {
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

/// Mounts the rootfs and creates + starts the container's process with the runtime (this
/// process becomes the subreaper that waits for it). Returns the container's pid and, for
/// [`Output::Pipes`], the read ends of its stdout/stderr.
fn launch(
    store: &Store,
    c: &mut ContainerRecord,
    output: Output,
) -> Result<(i64, Option<LogPipes>)> {
    if c.state == "running" {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("container {} is already running", c.id),
        ));
    }
    let prev_state = c.state.clone();
    let rt = runtime_for(store, c)?;
    let image = store
        .db()
        .image(&c.image_id)?
        .ok_or_else(|| Error::not_found(format!("No such image: {}", c.image_id)))?;
    rootfs::mount(&store.snapshots, &c.id, &image.layers, cfg_str(c, "Driver"))?;
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
    let started = rt
        .create(&c.id, &dir, &pid_file, io)
        .and_then(|()| {
            let pid = std::fs::read_to_string(&pid_file)
                .map_err(|e| internal(format!("read {}", pid_file.display()), e))?
                .trim()
                .parse::<i64>()
                .map_err(|e| internal("parse pid file", e))?;
            Ok(pid)
        })
        .and_then(|pid| {
            // Record it as running before the process execs, so `ps` never misses it.
            c.state = "running".into();
            c.pid = Some(pid);
            c.exit_code = None;
            c.finished_at = None;
            c.started_at = Some(now_rfc3339());
            c.config[MONITOR_PID_KEY] = json!(std::process::id());
            c.config.as_object_mut().map(|o| o.remove("Error"));
            store.db().update_container(c)?;
            rt.start(&c.id).map(|()| pid)
        });
    match started {
        Ok(pid) => Ok((pid, pipes)),
        Err(e) => {
            let _ = rt.delete(&c.id, true);
            let _ = rootfs::unmount(store.root(), &c.id);
            c.state = prev_state;
            c.pid = None;
            c.exit_code = Some(i64::from(runtime::driver::exit_code_of(&e)));
            c.config[MONITOR_PID_KEY] = Value::Null;
            c.config["Error"] = json!(e.message);
            let _ = store.db().update_container(c);
            Err(e)
        }
    }
}

/// Waits for `pid` (a child of this subreaper); its exit code (128+signal when killed).
fn wait_exit(pid: i64) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on a pid we reap; status is a valid out pointer.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        if r == pid as libc::pid_t {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        // Not our child (should not happen): poll until it is gone.
        while Path::new(&format!("/proc/{pid}")).exists() {
            std::thread::sleep(Duration::from_millis(100));
        }
        return 255;
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

/// Records the exit, releases runtime state and the rootfs; removes the container when it
/// was created with `--rm`.
fn finish(store: &Store, id: &str, code: i32) -> Result<()> {
    let Some(mut c) = store.db().container(id)? else {
        return Ok(());
    };
    if let Ok(rt) = runtime_for(store, &c) {
        let _ = rt.delete(id, true);
    }
    let _ = rootfs::unmount(store.root(), id);
    c.state = "exited".into();
    c.pid = None;
    c.exit_code = Some(i64::from(code));
    c.finished_at = Some(now_rfc3339());
    c.config[MONITOR_PID_KEY] = Value::Null;
    store.db().update_container(&c)?;
    if cfg_bool(&c, "AutoRemove") {
        remove_files(store, &c)?;
    }
    Ok(())
}

static FORWARD_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int) {
    let pid = FORWARD_PID.load(std::sync::atomic::Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

fn forward_signals_to(pid: i64) {
    FORWARD_PID.store(pid as i32, std::sync::atomic::Ordering::SeqCst);
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        // SAFETY: installing an async-signal-safe handler.
        unsafe {
            libc::signal(sig, forward_signal as *const () as libc::sighandler_t);
        }
    }
}

/// Starts container `id` attached to strata's stdio and waits for it; returns its exit code.
/// Signals strata receives are forwarded to it.
pub fn start_foreground(store: &Store, c: &mut ContainerRecord, interactive: bool) -> Result<i32> {
    if cfg_bool(c, "Tty") {
        return run_with_terminal(store, c);
    }
    let (pid, _) = match launch(store, c, Output::Inherit { interactive }) {
        Ok(x) => x,
        Err(e) => {
            if cfg_bool(c, "AutoRemove") {
                let _ = remove_files(store, c);
            }
            return Err(e);
        }
    };
    forward_signals_to(pid);
    let code = wait_exit(pid);
    FORWARD_PID.store(0, std::sync::atomic::Ordering::SeqCst);
    finish(store, &c.id, code)?;
    Ok(code)
}

/// A terminal in the foreground: the runtime's `run` owns the terminal and waits.
fn run_with_terminal(store: &Store, c: &mut ContainerRecord) -> Result<i32> {
    let rt = runtime_for(store, c)?;
    let image = store
        .db()
        .image(&c.image_id)?
        .ok_or_else(|| Error::not_found(format!("No such image: {}", c.image_id)))?;
    rootfs::mount(&store.snapshots, &c.id, &image.layers, cfg_str(c, "Driver"))?;
    make_terminal(store, &c.id, true)?;
    let _ = rt.delete(&c.id, true);
    let dir = container_dir(store.root(), &c.id);
    let pid_file = dir.join("init.pid");
    let _ = std::fs::remove_file(&pid_file);
    c.state = "running".into();
    c.started_at = Some(now_rfc3339());
    c.exit_code = None;
    c.finished_at = None;
    c.config[MONITOR_PID_KEY] = json!(std::process::id());
    store.db().update_container(c)?;
    // The runtime forwards signals itself; strata must merely survive them.
    forward_signals_to(0);
    let result = rt.run(&c.id, &dir, &pid_file, ProcessIo::inherit(true));
    match result {
        Ok(code) => {
            finish(store, &c.id, code)?;
            Ok(code)
        }
        Err(e) => {
            let code = i32::from(runtime::driver::exit_code_of(&e));
            finish(store, &c.id, code)?;
            Err(e)
        }
    }
}

/// Hidden subcommand that a detached start spawns: `strata --root R container-monitor ID`.
pub const MONITOR_COMMAND: &str = "__container-monitor";

/// Starts container `id` in the background through a monitor process (`exe` re-executed with
/// [`MONITOR_COMMAND`], in its own session) that waits for it and records its exit. Returns
/// once the container's process runs, or with the runtime's error.
pub fn start_detached(store: &Store, c: &ContainerRecord, exe: &Path) -> Result<()> {
    if c.state == "running" {
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
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
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
    let line = line.trim_end();
    if line == "OK" {
        // The monitor lives on; it is reaped by init once strata exits.
        return Ok(());
    }
    let _ = child.wait();
    match line.strip_prefix("ERR ") {
        Some(msg) => Err(Error::new(ErrorKind::Internal, msg.to_string())),
        None => Err(Error::new(
            ErrorKind::Internal,
            format!(
                "the container monitor for {} exited before starting it",
                c.id
            ),
        )),
    }
}

fn copy_to_log(
    reader: std::io::PipeReader,
    stream: &'static str,
    log: std::sync::Arc<std::sync::Mutex<std::fs::File>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = std::io::BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let full = buf.last() == Some(&b'\n');
                    if full {
                        buf.pop();
                    }
                    let line = runtime::logs::encode_line(&now_rfc3339(), stream, full, &buf);
                    let mut f = log.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = f.write_all(&line);
                }
            }
        }
    })
}

/// The body of the detached monitor: launches the container with its output going to
/// `container.log`, reports `OK` (or `ERR message`) on stdout, then waits for it and records
/// the exit.
pub fn monitor(store: &Store, id: &str) -> Result<()> {
    let report = |s: &str| {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
        // Nobody reads after the first line: later writes must not raise SIGPIPE.
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            use std::os::fd::AsRawFd;
            // SAFETY: dup2 onto our own stdout.
            unsafe {
                libc::dup2(null.as_raw_fd(), 1);
            }
        }
    };
    let mut c = match find(store, id) {
        Ok(c) => c,
        Err(e) => {
            report(&format!("ERR {}", e.message));
            return Err(e);
        }
    };
    for sig in [libc::SIGINT, libc::SIGHUP, libc::SIGPIPE] {
        // SAFETY: ignoring signals in this single-threaded process before any thread starts.
        unsafe {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
    let _ = make_terminal(store, &c.id, false);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(store.root(), &c.id))
        .map_err(|e| internal("open container.log", e))?;
    let (pid, pipes) = match launch(store, &mut c, Output::Pipes) {
        Ok(x) => x,
        Err(e) => {
            report(&format!("ERR {}", e.message.replace('\n', " ")));
            if cfg_bool(&c, "AutoRemove") {
                let _ = remove_files(store, &c);
            }
            return Err(e);
        }
    };
    report("OK");
    let log = std::sync::Arc::new(std::sync::Mutex::new(log));
    let mut threads = Vec::new();
    if let Some(p) = pipes {
        threads.push(copy_to_log(p.stdout, "stdout", log.clone()));
        threads.push(copy_to_log(p.stderr, "stderr", log.clone()));
    }
    let code = wait_exit(pid);
    for t in threads {
        let _ = t.join();
    }
    finish(store, &c.id, code)
}

/// Waits until container `id` is no longer running (or `timeout` passes); its record then.
pub fn wait_not_running(
    store: &Store,
    id: &str,
    timeout: Option<Duration>,
) -> Result<Option<ContainerRecord>> {
    let start = Instant::now();
    loop {
        let Some(c) = store.db().container(id)? else {
            return Ok(None);
        };
        if c.state != "running" {
            return Ok(Some(c));
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            return Ok(Some(c));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends `signal` (a name like `KILL`/`SIGTERM` or a number) to a running container.
pub fn kill(store: &Store, c: &ContainerRecord, signal: &str) -> Result<()> {
    if c.state != "running" {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "Cannot kill container: {}: container {} is not running",
                c.name, c.id
            ),
        ));
    }
    let sig = signal.trim_start_matches("SIG");
    runtime_for(store, c)?.kill(&c.id, sig)
}

/// Docker's stop: the stop signal (image `StopSignal`, default SIGTERM), then SIGKILL after
/// `timeout`; waits for the exit to be recorded.
pub fn stop(store: &Store, c: &ContainerRecord, timeout: Duration) -> Result<()> {
    if c.state != "running" {
        return Ok(());
    }
    let rt = runtime_for(store, c)?;
    let sig = cfg_str(c, "StopSignal")
        .unwrap_or("TERM")
        .trim_start_matches("SIG")
        .to_string();
    let _ = rt.kill(&c.id, &sig);
    let after = wait_not_running(store, &c.id, Some(timeout))?;
    if after.is_some_and(|a| a.state == "running") {
        let _ = rt.kill(&c.id, "KILL");
        wait_not_running(store, &c.id, Some(Duration::from_secs(30)))?;
    }
    Ok(())
}

/// Removes the container's runtime state, mount, directory and record.
fn remove_files(store: &Store, c: &ContainerRecord) -> Result<()> {
    if let Ok(rt) = runtime_for(store, c) {
        let _ = rt.delete(&c.id, true);
    }
    rootfs::unmount(store.root(), &c.id)?;
    let dir = container_dir(store.root(), &c.id);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(internal(format!("remove {}", dir.display()), e)),
    }
    store.db().remove_container(&c.id)
}

/// `rm`: a running container is refused unless `force` (then killed first).
pub fn remove(store: &Store, c: &ContainerRecord, force: bool) -> Result<()> {
    if c.state == "running" {
        if !force {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                    c.name
                ),
            ));
        }
        let rt = runtime_for(store, c)?;
        let _ = rt.kill(&c.id, "KILL");
        wait_not_running(store, &c.id, Some(Duration::from_secs(30)))?;
    }
    let fresh = store.db().container(&c.id)?;
    match fresh {
        Some(fresh) => remove_files(store, &fresh),
        None => Ok(()),
    }
}

/// `exec` options as the user gave them.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub interactive: bool,
    pub tty: bool,
}

/// Runs a command in a running container; returns its exit code.
pub fn exec(store: &Store, c: &ContainerRecord, req: &ExecRequest) -> Result<i32> {
    if c.state != "running" {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("container {} is not running", c.id),
        ));
    }
    if req.args.is_empty() {
        return Err(Error::invalid("exec requires at least 1 argument"));
    }
    let rt = runtime_for(store, c)?;
    let user = match req.user.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => {
            let r = spec::resolve_user(&rootfs_dir(store.root(), &c.id), u)?;
            Some(format!("{}:{}", r.uid, r.gid))
        }
        None => None,
    };
    let opts = ExecOptions {
        args: req.args.clone(),
        env: req.env.clone(),
        cwd: req.workdir.clone().filter(|w| !w.is_empty()),
        user,
        tty: req.tty,
    };
    forward_signals_to(0);
    rt.exec(&c.id, &opts, ProcessIo::inherit(req.interactive))
}
