//! Container verbs: create, start, stop, kill, wait, remove, exec over the runtime crate's
//! bundle, driver and root filesystems, with state in the store's metadata.

pub mod lifecycle;
