//! Strata's integration tests: one binary driving the real `strata` executable against real
//! registries (Debian's CNCF distribution, strata's own) with fixture images pushed by skopeo / HTTP.

mod auth;
mod common;
mod concurrency;
mod containers;
mod faults;
mod golden;
mod history;
mod images;
mod import_commit;
mod import_hostile;
mod manifest;
mod manifest_list;
mod private_store;
mod pull;
mod push;
mod registry;
mod registry_auth;
mod rmi;
mod search;
mod usage;
