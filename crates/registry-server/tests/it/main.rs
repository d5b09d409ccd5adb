//! The registry server in-process on a random loopback port, driven over HTTP with reqwest
//! (and raw sockets for paths clients would normalize).

mod bad_input;
mod blobs;
mod common;
mod manifests;
mod oci_client;
mod referrers;
mod search_gc;
