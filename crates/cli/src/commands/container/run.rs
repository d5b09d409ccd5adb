//! `run` and `create`: flags to [`CreateOptions`], the image pulled first as `--pull` says,
//! then the engine's create (and start, for `run`).

use super::{exe, fail, fail_start};
use crate::commands::Ctx;
use clap::Args;
use engine::containers::create::{self, CreateOptions};
use engine::containers::start;
use engine::images::pull::{self as pull_op, PullOptions};
use engine::images::query::lookup;
use engine::progress::ProgressEvent;
use oci_model::reference::Reference;
use oci_model::{Error, ErrorKind, Result, platform};
use runtime::error::RuntimeError;
use runtime::spec;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use store::Store;
use store::metadata::ContainerRecord;

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
    let rt = crate::commands::runtime()?;
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
    let rec = create::create(&store, &image_id, &opts)?;
    Ok((store, rec))
}

pub fn run(ctx: &Ctx, a: RunArgs) -> Result<u8> {
    let (store, mut rec) = match do_create(ctx, &a.flags) {
        Ok(x) => x,
        Err(e) => return fail(&e, 125),
    };
    if a.detach {
        let started = exe()
            .map_err(RuntimeError::from)
            .and_then(|exe| start::start_detached(&store, &rec, &exe));
        match started {
            Ok(()) => {
                println!("{}", rec.id);
                Ok(0)
            }
            Err(e) => fail_start(&e),
        }
    } else {
        match start::start_foreground(&store, &mut rec, a.flags.interactive) {
            Ok(code) => Ok(u8::try_from(code).unwrap_or(255)),
            Err(e) => fail_start(&e),
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
