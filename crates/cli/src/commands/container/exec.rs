//! `exec`: flags to an [`ExecRequest`]; the command's exit code, or Docker's for the failure.

use super::{fail, fail_start};
use crate::commands::Ctx;
use clap::Args;
use engine::containers::exec::{self as exec_op, ExecRequest};
use engine::containers::find;
use oci_model::{ErrorKind, Result};
use runtime::spec;

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
    let c = match find(&store, &a.container) {
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
    match exec_op::exec(&store, &c, &req) {
        Ok(code) => Ok(u8::try_from(code).unwrap_or(255)),
        Err(e) if e.error.kind == ErrorKind::Conflict => fail(&e.error, 1),
        Err(e) => fail_start(&e),
    }
}
