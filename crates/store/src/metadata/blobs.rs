//! Where blobs are known to live, for push: `blob_sources` holds the registry repositories a
//! pull fetched a blob from or a push sent it to (push mounts across repositories by it, and
//! fetches a blob the store lacks), and marks the blobs strata made itself (registry and repo
//! empty), the only ones `push --compression` re-encodes; `blob_conversions` keeps such
//! re-encodings by source blob and target media type, so the next push reuses them.
//! Also the GC's question: which blobs does any table still refer to.

use super::{Db, db_err, digest_col, now_unix};
use oci_model::{Digest, Result};
use rusqlite::{OptionalExtension, params};

impl Db {
    /// Records that `registry`/`repo` holds `digests` (a pull fetched them from there, or a push
    /// put them there); a known pair only has its time refreshed. `registry` and `repo` empty:
    /// the blob was made here (see [`Db::mark_blobs_local`]).
    pub fn record_blob_sources(
        &self,
        registry: &str,
        repo: &str,
        digests: &[Digest],
    ) -> Result<()> {
        if digests.is_empty() {
            return Ok(());
        }
        let now = now_unix();
        self.write(|tx| {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO blob_sources (digest, registry, repo, seen_unix) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT(digest, registry, repo) DO UPDATE SET seen_unix = excluded.seen_unix",
                )
                .map_err(db_err)?;
            for d in digests {
                stmt.execute(params![d.to_string(), registry, repo, now])
                    .map_err(db_err)?;
            }
            Ok(())
        })
    }

    /// Marks blobs strata made itself (a commit or import layer).
    pub fn mark_blobs_local(&self, digests: &[Digest]) -> Result<()> {
        self.record_blob_sources("", "", digests)
    }

    /// Whether strata made this blob itself.
    pub fn blob_is_local(&self, digest: &Digest) -> Result<bool> {
        self.conn()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM blob_sources WHERE digest = ?1 AND registry = '' AND repo = '')",
            )
            .and_then(|mut s| s.query_row([digest.to_string()], |r| r.get(0)))
            .map_err(db_err)
    }

    /// The `(registry, repo)` pairs known to hold `digest`, most recently seen first.
    pub fn blob_sources(&self, digest: &Digest) -> Result<Vec<(String, String)>> {
        self.conn()
            .prepare_cached(
                "SELECT registry, repo FROM blob_sources WHERE digest = ?1 AND registry != '' \
                 ORDER BY seen_unix DESC, registry, repo",
            )
            .and_then(|mut s| {
                s.query_map([digest.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(db_err)
    }

    /// Forgets that `registry`/`repo` holds `digest` (a mount from there was refused).
    pub fn forget_blob_source(&self, digest: &Digest, registry: &str, repo: &str) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "DELETE FROM blob_sources WHERE digest = ?1 AND registry = ?2 AND repo = ?3",
            )
            .and_then(|mut s| s.execute(params![digest.to_string(), registry, repo]))
            .map_err(db_err)?;
            Ok(())
        })
    }

    /// A conversion of blob `source` to `media_type` made earlier: (digest, size).
    pub fn blob_conversion(
        &self,
        source: &Digest,
        media_type: &str,
    ) -> Result<Option<(Digest, u64)>> {
        self.conn()
            .prepare_cached(
                "SELECT digest, size FROM blob_conversions WHERE source = ?1 AND media_type = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![source.to_string(), media_type], |r| {
                    Ok((digest_col(r, 0)?, r.get::<_, i64>(1)? as u64))
                })
                .optional()
            })
            .map_err(db_err)
    }

    pub fn record_blob_conversion(
        &self,
        source: &Digest,
        media_type: &str,
        digest: &Digest,
        size: u64,
    ) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO blob_conversions (source, media_type, digest, size) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(source, media_type) DO UPDATE SET digest = excluded.digest, size = excluded.size",
            )
            .and_then(|mut s| {
                s.execute(params![source.to_string(), media_type, digest.to_string(), size as i64])
            })
            .map_err(db_err)?;
            Ok(())
        })
    }
}

/// Garbage collection.
impl Db {
    /// Every blob digest the metadata refers to: image configs (IDs), platform manifests,
    /// repository digests (index or manifest), layer blobs, and blobs under a lease.
    pub fn referenced_blobs(&self) -> Result<std::collections::HashSet<String>> {
        self.conn()
            .prepare_cached(
                "SELECT id FROM images UNION SELECT manifest_digest FROM images \
                 UNION SELECT digest FROM repo_digests UNION SELECT blob_digest FROM layers \
                 UNION SELECT key FROM lease_resources WHERE kind = 'blob'",
            )
            .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect())
            .map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::{image, layer};

    #[test]
    fn blob_sources_conversions_and_pushed_repo_digests() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("metadata.db")).unwrap();
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        db.record_blob_sources("reg:5000", "x/one", &[a.clone(), b.clone()])
            .unwrap();
        db.record_blob_sources("docker.io", "library/y", std::slice::from_ref(&a))
            .unwrap();
        db.record_blob_sources("reg:5000", "x/one", std::slice::from_ref(&a))
            .unwrap();
        let mut got = db.blob_sources(&a).unwrap();
        got.sort();
        assert_eq!(
            got,
            [
                ("docker.io".to_string(), "library/y".to_string()),
                ("reg:5000".to_string(), "x/one".to_string())
            ]
        );
        db.forget_blob_source(&a, "reg:5000", "x/one").unwrap();
        assert_eq!(db.blob_sources(&a).unwrap().len(), 1);
        // Local blobs are marked, and never offered as a source.
        assert!(!db.blob_is_local(&b).unwrap());
        db.mark_blobs_local(std::slice::from_ref(&b)).unwrap();
        assert!(db.blob_is_local(&b).unwrap());
        assert_eq!(db.blob_sources(&b).unwrap().len(), 1);

        let z = Digest::of(b"z");
        assert_eq!(db.blob_conversion(&b, "zstd").unwrap(), None);
        db.record_blob_conversion(&b, "zstd", &z, 7).unwrap();
        assert_eq!(
            db.blob_conversion(&b, "zstd").unwrap(),
            Some((z.clone(), 7))
        );

        let base = layer(1, None);
        db.insert_layer(&base).unwrap();
        let img = image("p", 1_700_000_000, &[&base]);
        db.commit_pull(&img, "reg:5000/x/one", Some("1"), None)
            .unwrap();
        db.add_repo_digest("reg:5000/x/two", &z, &img.id).unwrap();
        assert_eq!(
            db.repo_digests_for(&img.id).unwrap(),
            [("reg:5000/x/two".to_string(), z.clone())]
        );
        assert!(db.add_repo_digest("r", &z, "sha256:nothere").is_err());
    }
}
