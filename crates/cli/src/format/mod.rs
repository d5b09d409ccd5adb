//! Output formatting shared by the commands: go-units sizes and durations, Docker's tables.

pub mod table;
pub mod template;
pub mod units;
pub mod width;
