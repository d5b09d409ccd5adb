//! The host-process side of running a container. The runtime's `create` forks the container's
//! init and exits, so the init is re-parented: strata (or the detached monitor) makes itself
//! the child subreaper to get it as a child, and reaps it with `waitpid` to learn its exit
//! code. Signals strata receives in the foreground are passed on to the container.
//!
//! rustix for the syscalls; libc only to install a signal handler, which rustix does not offer.

use super::internal;
use oci_model::Result;
use rustix::process::{Pid, Signal, WaitOptions};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// Makes this process the subreaper of its descendants.
pub(super) fn set_subreaper() -> Result<()> {
    // Any pid sets the attribute (the kernel reads a flag); `None` would clear it.
    rustix::process::set_child_subreaper(Some(Pid::INIT))
        .map_err(|e| internal("prctl(PR_SET_CHILD_SUBREAPER)", e))
}

/// Waits for `pid` (a child of this subreaper); its exit code (128+signal when killed).
pub(super) fn wait_exit(pid: i64) -> i32 {
    let child = i32::try_from(pid).ok().and_then(Pid::from_raw);
    loop {
        match child.map(|p| rustix::process::waitpid(Some(p), WaitOptions::empty())) {
            Some(Ok(Some((_, status)))) => {
                return match (status.exit_status(), status.terminating_signal()) {
                    (Some(code), _) => code,
                    (None, Some(sig)) => 128 + sig,
                    (None, None) => 255,
                };
            }
            Some(Err(rustix::io::Errno::INTR)) => continue,
            _ => break,
        }
    }
    // Not our child (should not happen): poll until it is gone.
    while Path::new(&format!("/proc/{pid}")).exists() {
        std::thread::sleep(Duration::from_millis(100));
    }
    255
}

/// The process signals are forwarded to; 0 for none.
static FORWARD_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int) {
    let pid = Pid::from_raw(FORWARD_PID.load(Ordering::SeqCst));
    if let (Some(pid), Some(sig)) = (pid, Signal::from_named_raw(sig)) {
        // kill(2) is async-signal-safe, and so are these loads and conversions.
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// Forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to `pid` from now on; with
/// 0, strata merely survives them (the runtime forwards them itself).
pub(super) fn forward_signals_to(pid: i64) {
    FORWARD_PID.store(i32::try_from(pid).unwrap_or(0), Ordering::SeqCst);
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        // SAFETY: `forward_signal` only does async-signal-safe work (an atomic load, kill(2)).
        unsafe {
            libc::signal(sig, forward_signal as *const () as libc::sighandler_t);
        }
    }
}

/// Stops forwarding (the container is gone).
pub(super) fn stop_forwarding() {
    FORWARD_PID.store(0, Ordering::SeqCst);
}

/// Ignores SIGINT, SIGHUP and SIGPIPE: the detached monitor outlives the terminal and the
/// reader of its first line.
pub(super) fn ignore_hangups() {
    for sig in [libc::SIGINT, libc::SIGHUP, libc::SIGPIPE] {
        // SAFETY: setting a signal's disposition to "ignore" installs no code.
        unsafe {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
}
