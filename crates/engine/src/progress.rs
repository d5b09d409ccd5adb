//! Progress events, modelled on Docker's JSONMessage: an optional id (a layer's short digest, a tag),
//! a status word, and optional byte counters. The CLI renders them (live lines on a TTY, plain status
//! lines otherwise); an API server could stream them as they are.

use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressEvent {
    pub id: Option<String>,
    pub status: String,
    /// (current, total): present only for byte-counting updates ("Downloading", "Extracting").
    pub detail: Option<(u64, Option<u64>)>,
}

impl ProgressEvent {
    pub fn status(status: impl Into<String>) -> Self {
        ProgressEvent {
            id: None,
            status: status.into(),
            detail: None,
        }
    }
    pub fn with_id(id: impl Into<String>, status: impl Into<String>) -> Self {
        ProgressEvent {
            id: Some(id.into()),
            status: status.into(),
            detail: None,
        }
    }
    pub fn bytes(
        id: impl Into<String>,
        status: impl Into<String>,
        current: u64,
        total: Option<u64>,
    ) -> Self {
        ProgressEvent {
            id: Some(id.into()),
            status: status.into(),
            detail: Some((current, total)),
        }
    }
}

/// Where progress goes. Cheap to clone; called from several threads at once.
pub type ProgressSink = Arc<dyn Fn(ProgressEvent) + Send + Sync>;

/// A sink that drops everything (`pull -q`).
pub fn discard() -> ProgressSink {
    Arc::new(|_| {})
}
