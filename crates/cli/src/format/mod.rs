//! Output formatting shared by the commands: go-units sizes and durations, Docker's tables.

pub mod table;
// Used by the formatting commands as they are wired up (images, inspect, history, df).
#[allow(dead_code)]
pub mod template;
pub mod units;
pub mod width;
