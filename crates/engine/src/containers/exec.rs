//! `exec`: another process in a running container, through the runtime, attached to strata's
//! stdio. Strata survives the signals meant for it; the runtime passes them on.

use super::process::forward_signals_to;
use super::runtime_for;
use oci_model::{Error, ErrorKind};
use runtime::driver::{ExecOptions, ProcessIo, Runtime};
use runtime::error::RuntimeError;
use runtime::{rootfs_dir, spec};
use store::Store;
use store::metadata::ContainerRecord;

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

/// Runs a command in a running container; returns its exit code. A container that is not
/// running is a [`ErrorKind::Conflict`].
pub fn exec(store: &Store, c: &ContainerRecord, req: &ExecRequest) -> Result<i32, RuntimeError> {
    if !c.state.is_running() {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("container {} is not running", c.id),
        )
        .into());
    }
    if req.args.is_empty() {
        return Err(Error::invalid("exec requires at least 1 argument").into());
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
