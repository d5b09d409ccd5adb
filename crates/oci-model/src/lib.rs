//! Pure data and parsing for OCI / Docker images. No I/O, no async.
//!
//! Everything content-addressed keeps its raw bytes: digests are always computed over
//! the bytes as received, never over a re-serialization.

pub mod digest;
pub mod error;
pub mod error_code;
pub mod gojson;
pub mod image_config;
pub mod manifest;
pub mod media_type;
pub mod platform;
pub mod reference;
pub mod time;

pub use digest::{Digest, Sha256Writer};
pub use error::{Error, ErrorKind, IoResultExt, Result};
pub use error_code::ErrorCode;
