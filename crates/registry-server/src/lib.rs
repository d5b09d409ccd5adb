//! Strata's registry server: the OCI distribution API (v1.1) plus Docker Hub's `/v1/search`,
//! over a small storage backend trait (filesystem by default).
//!
//! - [`server`]: config, state, router, dispatch of `/v2/<name>/…`, serving and shutdown;
//! - [`blobs`]: blob reads (with `Range`), deletes and uploads (chunked, monolithic, mounts);
//! - [`manifests`]: manifests, tags, catalog, referrers;
//! - [`search`]: repository metadata and `/v1/search`;
//! - [`gc`]: offline mark-and-sweep of unreferenced blobs and stale uploads;
//! - [`storage`]: the backend trait and the filesystem backend;
//! - [`names`]: validation of names, tags and ids from request paths;
//! - [`auth`]: authentication and authorization (a middleware plus the token realm);
//! - [`error`]: the spec's error codes and body.

pub mod auth;
pub mod blobs;
pub mod error;
pub mod gc;
pub mod manifests;
pub mod names;
pub mod search;
pub mod server;
pub mod storage;

pub use server::{ConfigFile, Options, serve, shutdown_signal};
