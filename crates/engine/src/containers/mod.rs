//! Container verbs, one per file, over the runtime crate's bundle, driver and root filesystems,
//! with each container's state and options in the store's containers table.
//!
//! Every verb takes and returns typed values (records, options, reports), so the CLI only
//! parses arguments, calls one function and renders; the same verbs serve `system prune`, `rmi`
//! and the tests. Verbs that start a process report a [`runtime::error::RuntimeError`], whose
//! exit code is what `run`, `start` and `exec` end with.

pub mod create;
pub mod exec;
pub mod filter;
pub mod inspect;
pub mod kill;
pub mod list;
pub mod logs;
pub mod monitor;
mod process;
pub mod prune;
pub mod remove;
pub mod restart;
pub mod start;
pub mod stop;
pub mod wait;

use oci_model::{Error, ErrorKind, Result};
use runtime::driver::CliRuntime;
use store::Store;
use store::metadata::{ContainerRecord, ImageRecord};

fn internal(context: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, format!("{context}: {e}"))
}

/// `No such container: X`.
pub fn no_such_container(key: &str) -> Error {
    Error::not_found(format!("No such container: {key}"))
}

/// Finds a container by name, ID or unique ID prefix.
pub fn find(store: &Store, key: &str) -> Result<ContainerRecord> {
    store
        .db()
        .find_container(key)?
        .ok_or_else(|| no_such_container(key))
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// The runtime a container was created with.
pub fn runtime_for(store: &Store, c: &ContainerRecord) -> Result<CliRuntime> {
    runtime::driver::select(Some(&c.config.runtime), store.root())
}

/// The image a container was created from.
fn image_of(store: &Store, image_id: &str) -> Result<ImageRecord> {
    store
        .db()
        .image(image_id)?
        .ok_or_else(|| Error::not_found(format!("No such image: {image_id}")))
}

/// The root filesystem driver a container was created with (`None` for rows without one).
fn driver_of(c: &ContainerRecord) -> Option<&str> {
    Some(c.config.driver.as_str()).filter(|d| !d.is_empty())
}
