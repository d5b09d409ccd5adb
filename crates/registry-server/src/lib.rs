//! Strata's registry server: the OCI distribution API (v1.1) plus Docker Hub's `/v1/search`,
//! over a small storage backend trait (filesystem by default).
//!
//! A request flows through the modules in this order:
//!
//! - [`server`]: config, the router, dispatch of `/v2/<name>/…`, serving and shutdown;
//! - [`request`]: the path parsed once into the [`names::Target`] auth and dispatch share;
//! - [`auth`]: authentication and authorization (a middleware plus the token realm);
//! - [`blobs`], [`manifests`], [`search`]: the handlers — blob reads (with `Range`), deletes and
//!   uploads; manifests, tags, catalog and referrers; repository metadata and `/v1/search`;
//! - [`state`]: the state and helpers every handler shares;
//! - [`storage`]: the backend trait and the filesystem backend.
//!
//! Nothing imports [`server`], and the imports between the others have no cycle: handlers reach
//! what they share through [`state`], never through the router that calls them. Beside the
//! flow: [`names`] (the path parser and the validation of names, tags and ids), [`error`] (the
//! spec's error body) and [`gc`] (offline mark-and-sweep of unreferenced blobs and stale
//! uploads).

pub mod auth;
pub mod blobs;
pub mod error;
pub mod gc;
pub mod manifests;
pub mod names;
pub mod request;
pub mod search;
pub mod server;
pub mod state;
pub mod storage;

pub use server::{ConfigFile, Options, serve, shutdown_signal};

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, ignoring poisoning: every critical section in this crate leaves its data whole at
/// each step (a map insert or remove, a field replaced), so a panic elsewhere while holding the
/// lock is no reason to fail every later request.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
