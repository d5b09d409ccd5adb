//! Container commands: run, create, start, stop, kill, restart, wait, rm, ps, logs, exec,
//! container inspect, container prune (and the hidden detached-container monitor).

use super::Ctx;
use crate::format::template::{Format, render, render_one};
use crate::format::units::{human_duration, human_size};
use crate::format::width::ellipsis;
use clap::Args;
use engine::containers::lifecycle::{self, CreateOptions, ExecRequest};
use engine::images::pull::{self as pull_op, PullOptions};
use engine::images::query::lookup;
use engine::progress::ProgressEvent;
use oci_model::reference::Reference;
use oci_model::{Error, ErrorKind, Result, platform};
use runtime::driver::exit_code_of;
use runtime::{logs, spec};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use store::metadata::ContainerRecord;

/// Prints `Error: <message>` and returns `code`.
fn fail(e: &Error, code: u8) -> Result<u8> {
    eprintln!("Error: {}", e.message);
    Ok(code)
}

/// Options shared by `run` and `create`.
#[derive(Args, Clone)]
pub struct CreateFlags {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long = "user", value_name = "string")]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "string")]
    pub entrypoint: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Bind mount a host path: HOST:CONTAINER[:ro]
    #[arg(short = 'v', long = "volume", value_name = "list")]
    pub volume: Vec<String>,
    /// Network mode: none (default: a private network namespace with only lo) or host; bridge is not offered
    #[arg(long, value_name = "network")]
    pub network: Option<String>,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long, env = "DOCKER_DEFAULT_PLATFORM", value_name = "string")]
    pub platform: Option<String>,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing", value_name = "string")]
    pub pull: String,
    /// OCI runtime to use (runc or crun; default: the config's runtime, else runc, else crun)
    #[arg(long, value_name = "string")]
    pub runtime: Option<String>,
    /// Image
    pub image: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[command(flatten)]
    pub flags: CreateFlags,
}

#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub flags: CreateFlags,
}

/// A plain stderr progress sink (`run` prints pull progress on stderr, as Docker does).
fn stderr_sink() -> engine::progress::ProgressSink {
    Arc::new(|ev: ProgressEvent| {
        if ev.detail.is_some_and(|(c, t)| c > 0 || t.unwrap_or(0) > 0) {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", crate::progress::line_text(&ev, 200));
    })
}

/// The local image for `name`, pulled first as `--pull` says.
fn ensure_image(ctx: &Ctx, store: &Arc<Store>, f: &CreateFlags) -> Result<String> {
    let local = lookup::find_image(store.db(), &f.image);
    let must_pull = match f.pull.as_str() {
        "always" => true,
        "missing" => local.is_err(),
        "never" => false,
        other => {
            return Err(Error::invalid(format!(
                "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
            )));
        }
    };
    if !must_pull {
        return local;
    }
    if let Err(e) = &local
        && e.kind != ErrorKind::NotFound
    {
        return local;
    }
    let mut reference = Reference::parse_normalized(&f.image)?;
    if reference.is_name_only() {
        reference = reference.with_default_tag();
    }
    if local.is_err() {
        eprintln!(
            "Unable to find image '{}' locally",
            reference.familiar_string()
        );
    }
    let platform = f
        .platform
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(platform::parse)
        .transpose()?;
    let opts = PullOptions {
        platform,
        max_concurrent_downloads: ctx.config.max_concurrent_downloads,
    };
    let client = ctx.client()?;
    let sink = stderr_sink();
    let rt = super::runtime()?;
    let outcome = rt.block_on(pull_op::pull(store, &client, &reference, &opts, &sink))?;
    Ok(outcome.image_id)
}

fn create_options(ctx: &Ctx, f: &CreateFlags) -> Result<CreateOptions> {
    let mut env = Vec::new();
    for file in &f.env_file {
        env.extend(spec::read_env_file(file)?);
    }
    env.extend(f.env.iter().filter_map(|e| spec::expand_env_arg(e)));
    Ok(CreateOptions {
        image_ref: f.image.clone(),
        name: f.name.clone(),
        env,
        workdir: f.workdir.clone(),
        user: f.user.clone(),
        entrypoint: f.entrypoint.clone(),
        args: f.command.clone(),
        interactive: f.interactive,
        tty: f.tty,
        binds: f.volume.clone(),
        network: f.network.clone(),
        auto_remove: f.rm,
        runtime: f.runtime.clone().or_else(|| ctx.config.runtime.clone()),
    })
}

fn do_create(ctx: &Ctx, f: &CreateFlags) -> Result<(Arc<Store>, ContainerRecord)> {
    // Options first: a bad --env-file is reported before any pull.
    let opts = create_options(ctx, f)?;
    let store = ctx.store()?;
    let image_id = ensure_image(ctx, &store, f)?;
    let rec = lifecycle::create(&store, &image_id, &opts)?;
    Ok((store, rec))
}

fn exe() -> Result<PathBuf> {
    std::env::current_exe().map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("cannot find the strata executable: {e}"),
        )
    })
}

pub fn run(ctx: &Ctx, a: RunArgs) -> Result<u8> {
    let (store, mut rec) = match do_create(ctx, &a.flags) {
        Ok(x) => x,
        Err(e) => return fail(&e, 125),
    };
    if a.detach {
        let started = exe().and_then(|exe| lifecycle::start_detached(&store, &rec, &exe));
        match started {
            Ok(()) => {
                println!("{}", rec.id);
                Ok(0)
            }
            Err(e) => fail(&e, exit_code_of(&e)),
        }
    } else {
        match lifecycle::start_foreground(&store, &mut rec, a.flags.interactive) {
            Ok(code) => Ok(u8::try_from(code).unwrap_or(255)),
            Err(e) => fail(&e, exit_code_of(&e)),
        }
    }
}

pub fn create(ctx: &Ctx, a: CreateArgs) -> Result<u8> {
    match do_create(ctx, &a.flags) {
        Ok((_, rec)) => {
            println!("{}", rec.id);
            Ok(0)
        }
        Err(e) => fail(&e, 125),
    }
}

#[derive(Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Runs `f` for each named container, printing errors as Docker does; exit 1 if any failed.
fn each(
    ctx: &Ctx,
    names: &[String],
    mut f: impl FnMut(&Store, &ContainerRecord, &str) -> Result<()>,
) -> Result<u8> {
    let store = ctx.store()?;
    let mut failed = false;
    for n in names {
        let r = lifecycle::find(&store, n).and_then(|c| f(&store, &c, n));
        if let Err(e) = r {
            eprintln!("Error: {}", e.message);
            failed = true;
        }
    }
    Ok(u8::from(failed))
}

pub fn start(ctx: &Ctx, a: StartArgs) -> Result<u8> {
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            return fail(
                &Error::invalid("you cannot start and attach multiple containers at once"),
                1,
            );
        }
        let store = ctx.store()?;
        let mut c = match lifecycle::find(&store, &a.containers[0]) {
            Ok(c) => c,
            Err(e) => return fail(&e, 1),
        };
        if c.state == "running" {
            return fail(
                &Error::invalid(format!("container {} is already running", c.id)),
                1,
            );
        }
        return match lifecycle::start_foreground(&store, &mut c, a.interactive) {
            Ok(code) => Ok(u8::try_from(code).unwrap_or(255)),
            Err(e) => fail(&e, exit_code_of(&e)),
        };
    }
    let exe = exe()?;
    each(ctx, &a.containers, |store, c, n| {
        lifecycle::start_detached(store, c, &exe)?;
        println!("{n}");
        Ok(())
    })
}

#[derive(Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout", default_value_t = 10)]
    pub time: u64,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn stop(ctx: &Ctx, a: StopArgs) -> Result<u8> {
    each(ctx, &a.containers, |store, c, n| {
        lifecycle::stop(store, c, Duration::from_secs(a.time))?;
        println!("{n}");
        Ok(())
    })
}

pub fn restart(ctx: &Ctx, a: StopArgs) -> Result<u8> {
    let exe = exe()?;
    each(ctx, &a.containers, |store, c, n| {
        lifecycle::stop(store, c, Duration::from_secs(a.time))?;
        let fresh = lifecycle::find(store, &c.id)?;
        lifecycle::start_detached(store, &fresh, &exe)?;
        println!("{n}");
        Ok(())
    })
}

#[derive(Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn kill(ctx: &Ctx, a: KillArgs) -> Result<u8> {
    each(ctx, &a.containers, |store, c, n| {
        lifecycle::kill(store, c, &a.signal)?;
        println!("{n}");
        Ok(())
    })
}

#[derive(Args)]
pub struct WaitArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn wait(ctx: &Ctx, a: WaitArgs) -> Result<u8> {
    each(ctx, &a.containers, |store, c, _| {
        let done = lifecycle::wait_not_running(store, &c.id, None)?;
        let code = done.and_then(|d| d.exit_code).unwrap_or(0);
        println!("{code}");
        Ok(())
    })
}

#[derive(Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container (strata has none)
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn rm(ctx: &Ctx, a: RmArgs) -> Result<u8> {
    each(ctx, &a.containers, |store, c, n| {
        lifecycle::remove(store, c, a.force)?;
        println!("{n}");
        Ok(())
    })
}

#[derive(Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

fn dir_size(p: &std::path::Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(p)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

pub fn prune(ctx: &Ctx, a: PruneArgs) -> Result<u8> {
    if !a.force {
        print!(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
        );
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y") {
            return Ok(0);
        }
    }
    let store = ctx.store()?;
    let mut deleted = Vec::new();
    let mut reclaimed = 0;
    let all = store.db().containers()?;
    for c in all {
        if c.state == "running" {
            continue;
        }
        let size = dir_size(&runtime::upper_dir(store.root(), &c.id));
        lifecycle::remove(&store, &c, false)?;
        reclaimed += size;
        deleted.push(c.id);
    }
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &deleted {
            println!("{id}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(reclaimed));
    Ok(0)
}

#[derive(Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (status, ancestor, name, id, label)
    #[arg(short, long, value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
}

const PS_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
const PS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

/// Go's `strconv.Quote` for the text Docker shows.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn parse_time(s: Option<&str>) -> Option<jiff::Timestamp> {
    s.and_then(|t| t.parse::<jiff::Timestamp>().ok())
}

fn since(t: jiff::Timestamp, now: jiff::Timestamp) -> Duration {
    let secs = (now.as_millisecond() - t.as_millisecond()).max(0) as u64;
    Duration::from_millis(secs)
}

/// Docker's STATUS text: `Created`, `Up 3 seconds`, `Exited (0) 2 seconds ago`.
pub fn status_text(c: &ContainerRecord, now: jiff::Timestamp) -> String {
    match c.state.as_str() {
        "running" => match parse_time(c.started_at.as_deref()) {
            Some(t) => format!("Up {}", human_duration(since(t, now))),
            None => "Up Less than a second".into(),
        },
        "exited" => {
            let code = c.exit_code.unwrap_or(0);
            match parse_time(c.finished_at.as_deref()) {
                Some(t) => format!("Exited ({code}) {} ago", human_duration(since(t, now))),
                None => format!("Exited ({code})"),
            }
        }
        _ => "Created".into(),
    }
}

fn labels_of(c: &ContainerRecord) -> Vec<(String, String)> {
    c.config
        .get("Labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The daemon's COMMAND text: the path, then the arguments, those with a space in single quotes.
fn ps_command(command: &[String]) -> String {
    command
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if i > 0 && a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One `ps` row as template data.
fn ps_row(c: &ContainerRecord, trunc: bool, now: jiff::Timestamp) -> Value {
    let command = ps_command(&c.command);
    let command = if trunc {
        ellipsis(&command, 20)
    } else {
        command
    };
    let id = if trunc {
        c.id[..12].to_string()
    } else {
        c.id.clone()
    };
    let labels = labels_of(c)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    json!({
        "ID": id,
        "Image": c.image_ref,
        "Command": go_quote(&command),
        "CreatedAt": super::images::go_time_string(c.created_unix),
        "RunningFor": super::images::created_since(c.created_unix, now.as_second()),
        "Ports": "",
        "State": c.state,
        "Status": status_text(c, now),
        "Size": "0B",
        "Names": c.name,
        "Labels": labels,
        "Mounts": "",
        "Networks": c.config.get("NetworkMode").and_then(Value::as_str).unwrap_or("none"),
        "LocalVolumes": "0",
    })
}

/// `ps --filter` with Docker's rules: values of one key are ORed, keys are ANDed.
fn ps_filter(store: &Store, filters: &[String]) -> Result<impl Fn(&ContainerRecord) -> bool> {
    let mut by_key: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Error::invalid("bad format of filter (expected name=value)"))?;
        let k = k.trim().to_ascii_lowercase();
        match k.as_str() {
            "status" => {
                if !matches!(
                    v,
                    "created"
                        | "restarting"
                        | "running"
                        | "removing"
                        | "paused"
                        | "exited"
                        | "dead"
                ) {
                    return Err(Error::invalid(format!("invalid filter 'status={v}'")));
                }
            }
            "ancestor" | "name" | "id" | "label" => {}
            _ => return Err(Error::invalid(format!("invalid filter '{k}'"))),
        }
        by_key.entry(k).or_default().push(v.to_string());
    }
    // Ancestors resolve to image IDs once.
    let ancestors: Vec<(String, Option<String>)> = by_key
        .get("ancestor")
        .map(|vs| {
            vs.iter()
                .map(|v| (v.clone(), lookup::find_image(store.db(), v).ok()))
                .collect()
        })
        .unwrap_or_default();
    Ok(move |c: &ContainerRecord| {
        by_key.iter().all(|(k, vs)| match k.as_str() {
            "status" => vs.contains(&c.state),
            "name" => vs
                .iter()
                .any(|v| c.name.contains(v.trim_start_matches('/'))),
            "id" => vs.iter().any(|v| c.id.starts_with(v.as_str())),
            "label" => {
                let labels = labels_of(c);
                vs.iter().any(|v| match v.split_once('=') {
                    Some((lk, lv)) => labels.iter().any(|(k, val)| k == lk && val == lv),
                    None => labels.iter().any(|(k, _)| k == v),
                })
            }
            "ancestor" => ancestors.iter().any(|(given, id)| {
                c.image_ref == *given || id.as_deref() == Some(c.image_id.as_str())
            }),
            _ => true,
        })
    })
}

pub fn ps(ctx: &Ctx, a: PsArgs) -> Result<u8> {
    let store = ctx.store()?;
    let filter = match ps_filter(&store, &a.filter) {
        Ok(f) => f,
        Err(e) => return fail(&e, 1),
    };
    let show_all = a.all || a.filter.iter().any(|f| f.starts_with("status="));
    let now = jiff::Timestamp::now();
    let containers: Vec<ContainerRecord> = store
        .db()
        .containers()?
        .into_iter()
        .filter(|c| show_all || c.state == "running")
        .filter(|c| filter(c))
        .collect();
    let trunc = !a.no_trunc;
    let format = match (&a.format, a.quiet) {
        (_, true) => Format::Raw("{{.ID}}".into()),
        (Some(f), false) if !f.is_empty() => Format::parse(f),
        _ => Format::Table(None),
    };
    let rows: Vec<Value> = containers.iter().map(|c| ps_row(c, trunc, now)).collect();
    match render(&format, PS_TABLE, PS_HEADERS, &rows) {
        Ok(out) => {
            print!("{out}");
            Ok(0)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(1)
        }
    }
}

#[derive(Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    pub container: String,
}

fn print_entries(entries: &[logs::LogEntry], timestamps: bool) {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for e in entries {
        let w: &mut dyn Write = if e.stream == "stderr" {
            &mut err
        } else {
            &mut out
        };
        if timestamps {
            let _ = write!(w, "{} ", e.time);
        }
        let _ = w.write_all(&e.text);
        if e.full {
            let _ = w.write_all(b"\n");
        }
        let _ = w.flush();
    }
}

pub fn logs(ctx: &Ctx, a: LogsArgs) -> Result<u8> {
    let store = ctx.store()?;
    let c = match lifecycle::find(&store, &a.container) {
        Ok(c) => c,
        Err(e) => return fail(&e, 1),
    };
    let path = runtime::log_path(store.root(), &c.id);
    let (entries, mut offset) = logs::read_all(&path)?;
    let skip = match a.tail.as_str() {
        "all" | "" => 0,
        n => match n.parse::<usize>() {
            Ok(n) => entries.len().saturating_sub(n),
            Err(_) => 0,
        },
    };
    print_entries(&entries[skip..], a.timestamps);
    if !a.follow {
        return Ok(0);
    }
    loop {
        let running = store
            .db()
            .container(&c.id)?
            .is_some_and(|c| c.state == "running");
        let (more, next) = logs::read_from(&path, offset)?;
        offset = next;
        print_entries(&more, a.timestamps);
        if !running {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[derive(Args)]
pub struct ExecArgs {
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long = "user", value_name = "string")]
    pub user: Option<String>,
    pub container: String,
    /// Command and arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn exec(ctx: &Ctx, a: ExecArgs) -> Result<u8> {
    let store = ctx.store()?;
    let c = match lifecycle::find(&store, &a.container) {
        Ok(c) => c,
        Err(e) => return fail(&e, 1),
    };
    let req = ExecRequest {
        args: a.command,
        env: a
            .env
            .iter()
            .filter_map(|e| spec::expand_env_arg(e))
            .collect(),
        workdir: a.workdir,
        user: a.user,
        interactive: a.interactive,
        tty: a.tty,
    };
    match lifecycle::exec(&store, &c, &req) {
        Ok(code) => Ok(u8::try_from(code).unwrap_or(255)),
        Err(e) if e.kind == ErrorKind::Conflict => fail(&e, 1),
        Err(e) => fail(&e, exit_code_of(&e)),
    }
}

#[derive(Args)]
pub struct InspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Docker's `container inspect` object.
pub fn inspect_value(store: &Store, c: &ContainerRecord) -> Value {
    let cfg = &c.config;
    let get = |k: &str| cfg.get(k).cloned().unwrap_or(Value::Null);
    let root = store.root();
    let layers = store
        .db()
        .image(&c.image_id)
        .ok()
        .flatten()
        .map(|i| i.layers)
        .unwrap_or_default();
    let lower: Vec<String> = layers
        .iter()
        .rev()
        .map(|l| store.snapshots.layer_dir(l).display().to_string())
        .collect();
    json!({
        "Id": c.id,
        "Created": get("Created"),
        "Path": c.command.first().cloned().unwrap_or_default(),
        "Args": c.command.iter().skip(1).cloned().collect::<Vec<_>>(),
        "State": {
            "Status": c.state,
            "Running": c.state == "running",
            "Paused": false,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": c.pid.unwrap_or(0),
            "ExitCode": c.exit_code.unwrap_or(0),
            "Error": cfg.get("Error").and_then(Value::as_str).unwrap_or(""),
            "StartedAt": c.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            "FinishedAt": c.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
        },
        "Image": c.image_id,
        "ResolvConfPath": "",
        "HostnamePath": "",
        "HostsPath": "",
        "LogPath": runtime::log_path(root, &c.id),
        "Name": format!("/{}", c.name),
        "RestartCount": 0,
        "Driver": get("Driver"),
        "Platform": "linux",
        "HostConfig": {
            "Binds": get("Binds"),
            "NetworkMode": get("NetworkMode"),
            "AutoRemove": get("AutoRemove"),
            "Runtime": get("Runtime"),
        },
        "GraphDriver": {
            "Data": {
                "LowerDir": lower.join(":"),
                "MergedDir": runtime::rootfs_dir(root, &c.id),
                "UpperDir": runtime::upper_dir(root, &c.id),
                "WorkDir": runtime::work_dir(root, &c.id),
            },
            "Name": get("Driver"),
        },
        "Mounts": [],
        "Config": {
            "Hostname": get("Hostname"),
            "Domainname": "",
            "User": get("User"),
            "AttachStdin": get("AttachStdin"),
            "AttachStdout": true,
            "AttachStderr": true,
            "Tty": get("Tty"),
            "OpenStdin": get("OpenStdin"),
            "StdinOnce": false,
            "Env": get("Env"),
            "Cmd": get("Cmd"),
            "Image": c.image_ref,
            "Volumes": null,
            "WorkingDir": get("WorkingDir"),
            "Entrypoint": get("Entrypoint"),
            "OnBuild": null,
            "Labels": get("Labels"),
        },
        "NetworkSettings": {},
    })
}

pub fn inspect(ctx: &Ctx, a: InspectArgs) -> Result<u8> {
    let store = ctx.store()?;
    let mut values = Vec::new();
    let mut failed = false;
    for n in &a.containers {
        match lifecycle::find(&store, n) {
            Ok(c) => values.push(inspect_value(&store, &c)),
            Err(e) => {
                eprintln!("Error: {}", e.message);
                failed = true;
            }
        }
    }
    match a.format.as_deref() {
        None | Some("") | Some("json") => {
            if a.format.is_none() || !values.is_empty() {
                println!("{}", engine::images::inspect::to_docker_json(&values));
            }
        }
        Some(t) => {
            for v in &values {
                match render_one(t, v) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("{e}");
                        return Ok(1);
                    }
                }
            }
        }
    }
    Ok(u8::from(failed))
}

#[derive(Args)]
pub struct MonitorArgs {
    pub id: String,
}

/// The hidden detached-container monitor.
pub fn monitor(ctx: &Ctx, a: MonitorArgs) -> Result<u8> {
    let store = ctx.store()?;
    lifecycle::monitor(&store, &a.id)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(state: &str) -> ContainerRecord {
        ContainerRecord {
            id: "0123456789ab".repeat(5) + "cdef",
            name: "web".into(),
            image_id: "sha256:x".into(),
            image_ref: "busybox".into(),
            command: vec![
                "sh".into(),
                "-c".into(),
                "echo \"hello world\"; sleep 1000".into(),
            ],
            created_unix: 1_700_000_000,
            state: state.into(),
            pid: None,
            exit_code: Some(3),
            started_at: Some("2026-01-01T00:00:00Z".into()),
            finished_at: Some("2026-01-01T00:00:02Z".into()),
            config: json!({}),
        }
    }

    #[test]
    fn statuses_like_docker() {
        let now: jiff::Timestamp = "2026-01-01T00:00:05Z".parse().unwrap();
        assert_eq!(status_text(&rec("running"), now), "Up 5 seconds");
        assert_eq!(status_text(&rec("exited"), now), "Exited (3) 3 seconds ago");
        assert_eq!(status_text(&rec("created"), now), "Created");
    }

    #[test]
    fn command_column_is_truncated_then_quoted() {
        let now: jiff::Timestamp = "2026-01-01T00:00:05Z".parse().unwrap();
        let row = ps_row(&rec("running"), true, now);
        assert_eq!(row["Command"], "\"sh -c 'echo \\\"hello …\"");
        assert_eq!(row["ID"], "0123456789ab");
        let full = ps_row(&rec("running"), false, now);
        assert_eq!(
            full["Command"],
            "\"sh -c 'echo \\\"hello world\\\"; sleep 1000'\""
        );
        assert_eq!(go_quote("a\tb\u{1}"), "\"a\\tb\\x01\"");
    }
}
