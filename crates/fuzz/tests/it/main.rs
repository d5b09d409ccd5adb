//! Fuzz and property targets on stable Rust (nightly's cargo-fuzz is not available here): each
//! target is a proptest over hostile input to one of strata's front edges — the reference
//! grammar, manifest / index / config / platform parsing, the tar applier (into a temporary root,
//! asserting nothing is written outside it), the registry server's router, and the image filter
//! parser. Every target asserts "no panic, a typed error or a consistent value".
//!
//! CI runs [`cases`] cases per target (256); `STRATA_FUZZ_CASES=100000 cargo test -p fuzz` runs
//! more. A failure prints the minimal input proptest shrank it to.

mod filters;
mod parsers;
mod router;
mod unpack;

use proptest::test_runner::Config;

/// Cases per target: `STRATA_FUZZ_CASES`, else 256.
pub fn cases() -> u32 {
    std::env::var("STRATA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

pub fn config() -> Config {
    Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    }
}
