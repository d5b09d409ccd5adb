//! Error kinds shared by every layer of strata. The CLI maps a kind to an exit code and a
//! Docker-style message; the registry server maps it to the distribution spec's error codes.

use std::error::Error as StdError;
use std::sync::Arc;
use std::{fmt, io};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    InvalidArgument,
    Conflict,
    Unauthorized,
    Unavailable,
    DataCorrupt,
    Unsupported,
    Internal,
}

/// An error with a kind, a complete user-facing message and, when it came from below (an I/O
/// call, a parser, the runtime), that cause kept as [`std::error::Error::source`], so a caller
/// asks the cause's type ([`Error::io_kind`], [`Error::cause`]) instead of re-reading the text.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::DataCorrupt, message)
    }

    /// A failure of strata's own machinery while doing `context`: kind `Internal`, message
    /// `"{context}: {cause}"`, the cause kept.
    pub fn internal(
        context: impl fmt::Display,
        cause: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        let cause: Box<dyn StdError + Send + Sync> = cause.into();
        Error {
            kind: ErrorKind::Internal,
            message: format!("{context}: {cause}"),
            source: Some(Arc::from(cause)),
        }
    }

    /// An I/O failure while doing `context`: message `"{context}: {e}"`, kind `NotFound` /
    /// `AlreadyExists` where the I/O error says so (callers branch on those), `Internal`
    /// otherwise; the `io::Error` is kept as the source.
    pub fn io(context: impl fmt::Display, e: io::Error) -> Self {
        let kind = match e.kind() {
            io::ErrorKind::NotFound => ErrorKind::NotFound,
            io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
            _ => ErrorKind::Internal,
        };
        let message = format!("{context}: {e}");
        Error {
            kind,
            message,
            source: Some(Arc::new(e)),
        }
    }

    /// This error with `cause` kept as its source (the message is unchanged).
    pub fn with_source(mut self, cause: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(cause));
        self
    }

    /// The first cause in the chain of type `E`.
    pub fn cause<E: StdError + 'static>(&self) -> Option<&E> {
        let mut next: Option<&(dyn StdError + 'static)> = StdError::source(self);
        while let Some(e) = next {
            if let Some(found) = e.downcast_ref::<E>() {
                return Some(found);
            }
            next = e.source();
        }
        None
    }

    /// The kind of the I/O error this one came from, if any.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.cause::<io::Error>().map(io::Error::kind)
    }
}

/// Equal when kind and message are: the cause is detail, not identity.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for Error {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// `.ctx("doing what")` on an `io::Result`: [`Error::io`] with that context.
pub trait IoResultExt<T> {
    fn ctx(self, context: impl fmt::Display) -> Result<T>;
}

impl<T> IoResultExt<T> for io::Result<T> {
    fn ctx(self, context: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::io(context, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_keep_their_cause_and_map_lookup_kinds() {
        let e = Error::io("open x", io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(e.message.starts_with("open x: "), "{e}");
        assert_eq!(e.io_kind(), Some(io::ErrorKind::NotFound));
        let e = Error::io("write y", io::Error::other("disk on fire"));
        assert_eq!(e.kind, ErrorKind::Internal);
        assert_eq!(e.to_string(), "write y: disk on fire");
        let r: io::Result<()> = Err(io::Error::from(io::ErrorKind::AlreadyExists));
        assert_eq!(r.ctx("mkdir z").unwrap_err().kind, ErrorKind::AlreadyExists);
    }

    #[test]
    fn causes_are_found_by_type_through_the_chain() {
        #[derive(Debug)]
        struct Exit(u8);
        impl fmt::Display for Exit {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "exit {}", self.0)
            }
        }
        impl StdError for Exit {}
        let e = Error::new(ErrorKind::Internal, "runtime failed").with_source(Exit(127));
        assert_eq!(e.cause::<Exit>().map(|x| x.0), Some(127));
        assert!(e.io_kind().is_none());
        assert_eq!(e.clone(), e);
        let e = Error::internal("spawning runc", "no such file");
        assert_eq!(e.to_string(), "spawning runc: no such file");
        assert_eq!(e.kind, ErrorKind::Internal);
    }
}
