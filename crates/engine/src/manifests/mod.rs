//! Manifests and manifest lists without pulling: `manifest inspect` straight from a registry
//! ([`inspect`]), and the docker CLI's local multi-arch lists ([`lists`]) kept in their own small
//! store ([`store`]).

pub mod inspect;
pub mod lists;
pub mod store;
