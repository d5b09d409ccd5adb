//! Image verbs, one file each.

pub mod df;
pub mod history;
pub mod info;
pub mod inspect;
pub mod list;
pub mod lookup;
pub mod mount;
pub mod pull;
pub mod tag;
