//! Strata's engine: all disk and network work for images.
//!
//! Data flow: reference → [`resolve`] (registry manifest / index → platform manifest) →
//! [`fetch`] (parallel blob streams) → [`content`] (verified, atomic blobs) → [`unpack`]
//! (one directory per layer, overlay form) → [`snapshot`] (layers by ChainID, union mounts),
//! with [`metadata`] (SQLite) recording images, tags, repo digests and layers.

pub mod config;
pub mod container;
pub mod content;
pub mod fsutil;
pub mod images;
pub mod metadata;
pub mod progress;
pub mod registry_client;
pub mod resolve;
pub mod snapshot;
pub mod store;
pub mod unpack;

pub use images::list;
