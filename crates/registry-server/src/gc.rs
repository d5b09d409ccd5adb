//! Garbage collection of the registry's storage: mark every blob a manifest of any repository
//! references (the manifest itself, its config and layers, an index's children, a subject), then
//! sweep the rest, the repository links to swept blobs, and upload sessions older than an hour.
//!
//! Run it offline (server stopped). Against a running server it is safe for everything already
//! referenced by a manifest, but a push in progress — blobs uploaded, manifest not yet put — can
//! lose its blobs and must upload them again (its manifest `PUT` is refused with
//! `MANIFEST_BLOB_UNKNOWN` meanwhile).

use crate::storage::{Backend, Link};
use oci_model::Digest;
use oci_model::manifest::{self, Parsed};
use std::collections::HashSet;
use std::io::{self, Read};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Upload sessions untouched for this long are purged.
pub const STALE_UPLOAD: Duration = Duration::from_secs(3600);

/// What a collection removed (or, dry, would remove).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Unreferenced blobs and their sizes.
    pub blobs: Vec<(Digest, u64)>,
    /// Stale upload sessions.
    pub uploads: Vec<String>,
    /// Repository blob links removed with their blobs.
    pub links: usize,
}

impl Report {
    pub fn bytes(&self) -> u64 {
        self.blobs.iter().map(|(_, s)| s).sum()
    }
}

fn read_all(b: &dyn Backend, d: &Digest) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    b.blob_open(d, 0)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Every blob some manifest of some repository references.
pub fn mark(b: &dyn Backend) -> io::Result<HashSet<Digest>> {
    let mut marked = HashSet::new();
    for repo in b.repo_list()? {
        for hex in b.link_list(&repo, &Link::Manifest)? {
            let Ok(digest) = Digest::from_hex(&hex) else {
                continue;
            };
            marked.insert(digest.clone());
            if b.blob_size(&digest)?.is_none() {
                continue;
            }
            let mt = b
                .link_get(&repo, &Link::Manifest, &hex)?
                .unwrap_or_default();
            let mt = String::from_utf8_lossy(&mt).into_owned();
            let bytes = read_all(b, &digest)?;
            let (parsed, _) = manifest::parse(Some(&mt), &bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("manifest {digest} of {repo} cannot be read ({e}); not collecting"),
                )
            })?;
            match parsed {
                Parsed::Manifest(m) => {
                    marked.insert(m.config.digest);
                    marked.extend(m.layers.into_iter().map(|l| l.digest));
                    marked.extend(m.subject.map(|s| s.digest));
                }
                Parsed::Index(i) => {
                    marked.extend(i.manifests.into_iter().map(|m| m.digest));
                    marked.extend(i.subject.map(|s| s.digest));
                }
                Parsed::Schema1 => {}
            }
        }
    }
    Ok(marked)
}

/// Collects garbage; with `dry_run` only reports. `say` receives one line per item.
pub fn collect(b: &dyn Backend, dry_run: bool, say: &mut dyn FnMut(String)) -> io::Result<Report> {
    let marked = mark(b)?;
    let mut report = Report::default();
    let verb = if dry_run { "would delete" } else { "deleted" };
    let mut swept = HashSet::new();
    for digest in b.blob_list()? {
        if marked.contains(&digest) {
            continue;
        }
        let size = b.blob_size(&digest)?.unwrap_or(0);
        if !dry_run {
            b.blob_delete(&digest)?;
        }
        say(format!("{verb} blob {digest} ({size} bytes)"));
        swept.insert(digest.hex().to_string());
        report.blobs.push((digest, size));
    }
    for repo in b.repo_list()? {
        for hex in b.link_list(&repo, &Link::Layer)? {
            let gone = swept.contains(&hex)
                || Digest::from_hex(&hex)
                    .map(|d| b.blob_size(&d).map(|s| s.is_none()))
                    .unwrap_or(Ok(true))?;
            if gone {
                if !dry_run {
                    b.link_delete(&repo, &Link::Layer, &hex)?;
                }
                report.links += 1;
            }
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for (id, info) in b.upload_list()? {
        if now.saturating_sub(info.started) < STALE_UPLOAD.as_secs() {
            continue;
        }
        if !dry_run {
            b.upload_delete(&id)?;
        }
        let repo = if info.repo.is_empty() {
            "?"
        } else {
            &info.repo
        };
        say(format!("{verb} upload session {id} ({repo})"));
        report.uploads.push(id);
    }
    say(format!(
        "{} blobs ({} bytes) and {} upload sessions {}",
        report.blobs.len(),
        report.bytes(),
        report.uploads.len(),
        if dry_run {
            "would be deleted"
        } else {
            "deleted"
        }
    ));
    Ok(report)
}
