//! Image verbs, one file each.

pub mod build;
pub mod commit;
pub mod df;
pub mod export;
mod fetch;
pub mod filter;
pub mod history;
pub mod import;
pub mod info;
pub mod inspect;
pub mod list;
pub mod lookup;
pub mod manifest_inspect;
pub mod manifest_list;
pub mod mount;
pub mod path_match;
pub mod prune;
pub mod pull;
pub mod push;
pub mod remove;
pub mod search;
pub mod tag;
mod tasks;
