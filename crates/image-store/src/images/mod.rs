//! Image verbs, one file each.

pub mod inspect;
pub mod list;
pub mod lookup;
pub mod manifest_inspect;
pub mod mount;
pub mod pull;
