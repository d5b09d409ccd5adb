//! Strata's engine: every verb of the image and container workflow as an operation over the
//! stages below it, for the front doors (the `strata` CLI, and next the Engine API server) to call.
//!
//! Data flow of a pull: reference → [`registry_client::resolve`] (registry manifest / index →
//! platform manifest) → [`images::pull`] (parallel blob streams) → [`store::content`] (verified,
//! atomic blobs) → [`layers::unpack`] (one directory per layer, overlay form) →
//! [`layers::snapshot`] (layers by ChainID, union mounts), with [`store::metadata`] (SQLite)
//! recording images, tags, repo digests and layers. Containers run through [`runtime`].

pub mod containers;
pub mod images;
pub mod manifests;
pub mod progress;
