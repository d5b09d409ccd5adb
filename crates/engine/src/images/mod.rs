//! Image verbs, one file each.

pub mod build;
pub mod commit;
pub mod df;
pub mod export;
mod fetch;
pub mod history;
pub mod import;
pub mod info;
pub mod inspect;
pub mod list;
pub mod mount;
pub mod prune;
pub mod pull;
pub mod push;
pub mod query;
pub mod remove;
pub mod search;
pub mod tag;
mod tasks;

pub use tasks::max_concurrent;
