//! `ps`: the containers to show, newest first. The store corrects stale "running" records as
//! they are read, so the list never shows a container whose process and monitor are gone.

use super::filter::Filter;
use oci_model::Result;
use store::Store;
use store::metadata::ContainerRecord;

/// The running containers (every one with `all`) that `filter` matches.
pub fn list(store: &Store, all: bool, filter: &Filter) -> Result<Vec<ContainerRecord>> {
    Ok(store
        .db()
        .containers()?
        .into_iter()
        .filter(|c| all || c.state.is_running())
        .filter(|c| filter.matches(c))
        .collect())
}
