//! The registry's storage backend: a small synchronous trait (the server calls it from blocking
//! tasks) and its filesystem implementation ([`fs::FsBackend`]).
//!
//! The model, as distribution's: blob bytes are stored once per registry, by digest; each
//! repository holds *links* — which blobs were pushed or mounted to it (`Layer`), which manifests
//! it has (`Manifest`, value = the media type they were pushed with), tags (`Tag`, value = the
//! digest), the referrers of a subject (`Referrer`, value = the referrer's descriptor JSON) and
//! small metadata objects (`Meta`). Upload sessions are files of their own, recorded with the
//! repository they belong to, and become a blob only when committed.
//!
//! Callers validate names, tags and digests (see [`crate::names`]) before calling; backends
//! check again that nothing they are given can address a path outside their root.

pub mod fs;

use oci_model::Digest;
use std::io::{self, Read, Write};

/// A kind of per-repository link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// A blob the repository may serve; key = digest hex, value empty.
    Layer,
    /// A manifest the repository holds; key = digest hex, value = its media type.
    Manifest,
    /// A tag; key = the tag, value = `sha256:<hex>`.
    Tag,
    /// A manifest whose `subject` is the given digest; key = the referrer's digest hex,
    /// value = its descriptor (JSON).
    Referrer(Digest),
    /// A small metadata object (e.g. `repo.json`).
    Meta,
}

/// What an upload session records about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    /// The repository the session was started in.
    pub repo: String,
    /// When it was started (seconds since the Unix epoch).
    pub started: u64,
}

/// Storage for one registry. Every method may block on I/O.
pub trait Backend: Send + Sync + 'static {
    /// The size of a stored blob, `None` when it is not stored.
    fn blob_size(&self, digest: &Digest) -> io::Result<Option<u64>>;
    /// Reads a stored blob from `offset` to its end.
    fn blob_open(&self, digest: &Digest, offset: u64) -> io::Result<Box<dyn Read + Send>>;
    /// Stores small content (manifests) whose digest the caller has computed.
    fn blob_put(&self, digest: &Digest, bytes: &[u8]) -> io::Result<()>;
    /// Removes a blob's bytes; false when it was not there.
    fn blob_delete(&self, digest: &Digest) -> io::Result<bool>;
    /// Every stored blob.
    fn blob_list(&self) -> io::Result<Vec<Digest>>;

    /// Starts an empty upload session `id` for `repo`.
    fn upload_create(&self, id: &str, repo: &str) -> io::Result<()>;
    /// The session's record, `None` when there is no such session.
    fn upload_info(&self, id: &str) -> io::Result<Option<UploadInfo>>;
    /// How many bytes the session holds.
    fn upload_size(&self, id: &str) -> io::Result<u64>;
    /// A writer appending at `offset` (anything after it is discarded first).
    fn upload_writer(&self, id: &str, offset: u64) -> io::Result<Box<dyn Write + Send>>;
    /// Reads the session's bytes from the start.
    fn upload_reader(&self, id: &str) -> io::Result<Box<dyn Read + Send>>;
    /// Makes the session's bytes the blob `digest` (durably, atomically) and ends the session.
    /// The caller has verified the digest.
    fn upload_commit(&self, id: &str, digest: &Digest) -> io::Result<()>;
    /// Ends a session, discarding its bytes.
    fn upload_delete(&self, id: &str) -> io::Result<()>;
    /// Every session (purgeable ones included).
    fn upload_list(&self) -> io::Result<Vec<(String, UploadInfo)>>;

    /// A link's value, `None` when absent.
    fn link_get(&self, repo: &str, link: &Link, key: &str) -> io::Result<Option<Vec<u8>>>;
    /// Creates or replaces a link, atomically.
    fn link_put(&self, repo: &str, link: &Link, key: &str, value: &[u8]) -> io::Result<()>;
    /// Removes a link; false when it was not there.
    fn link_delete(&self, repo: &str, link: &Link, key: &str) -> io::Result<bool>;
    /// The keys of one kind of link, sorted.
    fn link_list(&self, repo: &str, link: &Link) -> io::Result<Vec<String>>;

    /// Whether anything was ever pushed to `repo`.
    fn repo_exists(&self, repo: &str) -> io::Result<bool>;
    /// Every repository, sorted.
    fn repo_list(&self) -> io::Result<Vec<String>>;
}
