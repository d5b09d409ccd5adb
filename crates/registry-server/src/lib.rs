//! Strata's registry server: the OCI distribution API (v1.1) plus Docker Hub's `/v1/search`,
//! over a small storage backend trait (filesystem by default).
//!
//! Module ownership while it is being built: `error` is shared; `auth` holds authentication and
//! authorization (htpasswd Basic, the Bearer token realm, per-repository permissions) as an axum
//! middleware plus the token route; everything else (storage, routes, uploads, manifests, gc,
//! search, repository metadata) is the server proper.

pub mod auth;
pub mod error;
