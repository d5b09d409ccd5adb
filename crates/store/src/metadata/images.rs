//! Images and the names that point at them: `images` (one row per config digest, its layer
//! list in `image_layers`), `tags` (`repo:tag`) and `repo_digests` (`repo@digest`). Tags,
//! digests and layer lists go with their image (`ON DELETE CASCADE`); the layers themselves do
//! not (see `layers.rs`). Also the disk-usage queries of `system df`, which join images to
//! their layers.

use super::{Db, db_err, digest_col};
use oci_model::{Digest, Error, Result};
use rusqlite::{OptionalExtension, Row, params};
use std::collections::HashMap;

/// An image: its config digest (the ID), where it came from and its layers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRecord {
    /// `sha256:<hex>` of the config bytes.
    pub id: String,
    /// The digest of the platform manifest (`sha256:<hex>`).
    pub manifest_digest: String,
    pub manifest_media_type: String,
    pub config_size: u64,
    /// The config's `created` string as written (RFC 3339); empty when absent.
    pub created: String,
    pub created_unix: i64,
    pub architecture: String,
    pub os: String,
    /// The config's `Labels` (read by `images --filter label=`).
    pub labels: std::collections::BTreeMap<String, String>,
    pub variant: Option<String>,
    /// Sum of the unpacked layer content sizes (Docker's `Size`).
    pub size: u64,
    pub added_unix: i64,
    pub last_tag_time: Option<String>,
    /// ChainIDs, bottom layer first.
    pub layers: Vec<Digest>,
}

const IMAGE_COLUMNS: &str = "id, manifest_digest, manifest_media_type, config_size, created, created_unix, \
     architecture, os, variant, size, added_unix, last_tag_time, labels";

fn image_from_row(row: &Row<'_>) -> rusqlite::Result<ImageRecord> {
    Ok(ImageRecord {
        id: row.get(0)?,
        manifest_digest: row.get(1)?,
        manifest_media_type: row.get(2)?,
        config_size: row.get::<_, i64>(3)? as u64,
        created: row.get(4)?,
        created_unix: row.get(5)?,
        architecture: row.get(6)?,
        os: row.get(7)?,
        variant: row.get(8)?,
        size: row.get::<_, i64>(9)? as u64,
        added_unix: row.get(10)?,
        last_tag_time: row.get(11)?,
        labels: serde_json::from_str(&row.get::<_, String>(12)?).unwrap_or_default(),
        layers: Vec::new(),
    })
}

/// NotFound (`No such image: ID`) unless the image exists, inside a write transaction.
fn ensure_image(tx: &rusqlite::Transaction<'_>, image_id: &str) -> Result<()> {
    let exists: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM images WHERE id = ?1)")
        .and_then(|mut s| s.query_row([image_id], |r| r.get(0)))
        .map_err(db_err)?;
    if exists {
        Ok(())
    } else {
        Err(Error::not_found(format!("No such image: {image_id}")))
    }
}

impl Db {
    /// In one transaction: records the image (kept as is if already known), points
    /// `repo:tag` at it and records `repo@digest`. Returns the image the tag pointed at
    /// before, when that was a different image. `last_tag_time` is set whenever the tag is
    /// (re)pointed. The image's layers must have been recorded with [`Db::insert_layer`].
    pub fn commit_pull(
        &self,
        image: &ImageRecord,
        repo: &str,
        tag: Option<&str>,
        repo_digest: Option<&Digest>,
    ) -> Result<Option<String>> {
        self.write(|tx| {
            let inserted = tx
                .prepare_cached(&format!(
                    "INSERT INTO images ({IMAGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
                     ON CONFLICT(id) DO NOTHING"
                ))
                .and_then(|mut s| {
                    s.execute(params![
                        image.id,
                        image.manifest_digest,
                        image.manifest_media_type,
                        image.config_size as i64,
                        image.created,
                        image.created_unix,
                        image.architecture,
                        image.os,
                        image.variant,
                        image.size as i64,
                        image.added_unix,
                        image.last_tag_time,
                        serde_json::to_string(&image.labels).unwrap_or_else(|_| "{}".into()),
                    ])
                })
                .map_err(db_err)?;
            if inserted == 1 {
                let mut s = tx
                    .prepare_cached("INSERT INTO image_layers (image_id, position, chain_id) VALUES (?1, ?2, ?3)")
                    .map_err(db_err)?;
                for (pos, chain_id) in image.layers.iter().enumerate() {
                    s.execute(params![image.id, pos as i64, chain_id.to_string()]).map_err(|e| {
                        let mut err = db_err(e);
                        err.message = format!("{} (image {} layer {chain_id} not recorded)", err.message, image.id);
                        err
                    })?;
                }
            }
            let mut previous = None;
            if let Some(tag) = tag {
                let before: Option<String> = tx
                    .prepare_cached("SELECT image_id FROM tags WHERE repo = ?1 AND tag = ?2")
                    .and_then(|mut s| s.query_row(params![repo, tag], |r| r.get(0)).optional())
                    .map_err(db_err)?;
                if before.as_deref() != Some(image.id.as_str()) {
                    tx.prepare_cached(
                        "INSERT INTO tags (repo, tag, image_id) VALUES (?1, ?2, ?3) \
                         ON CONFLICT(repo, tag) DO UPDATE SET image_id = excluded.image_id",
                    )
                    .and_then(|mut s| s.execute(params![repo, tag, image.id]))
                    .map_err(db_err)?;
                    tx.prepare_cached("UPDATE images SET last_tag_time = ?1 WHERE id = ?2")
                        .and_then(|mut s| s.execute(params![jiff::Timestamp::now().to_string(), image.id]))
                        .map_err(db_err)?;
                    previous = before;
                }
            }
            if let Some(digest) = repo_digest {
                tx.prepare_cached(
                    "INSERT INTO repo_digests (repo, digest, image_id) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(repo, digest) DO UPDATE SET image_id = excluded.image_id",
                )
                .and_then(|mut s| s.execute(params![repo, digest.to_string(), image.id]))
                .map_err(db_err)?;
            }
            Ok(previous)
        })
    }

    pub fn image(&self, id: &str) -> Result<Option<ImageRecord>> {
        let conn = self.conn();
        let image = conn
            .prepare_cached(&format!("SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], image_from_row).optional())
            .map_err(db_err)?;
        let Some(mut image) = image else {
            return Ok(None);
        };
        let mut stmt = conn
            .prepare_cached(
                "SELECT chain_id FROM image_layers WHERE image_id = ?1 ORDER BY position",
            )
            .map_err(db_err)?;
        image.layers = stmt
            .query_map([id], |r| digest_col(r, 0))
            .and_then(|rows| rows.collect())
            .map_err(db_err)?;
        Ok(Some(image))
    }

    /// All images, newest `created` first.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        let conn = self.conn();
        let mut images: Vec<ImageRecord> = conn
            .prepare_cached(&format!(
                "SELECT {IMAGE_COLUMNS} FROM images ORDER BY created_unix DESC, id"
            ))
            .and_then(|mut s| s.query_map([], image_from_row)?.collect())
            .map_err(db_err)?;
        let mut layers: HashMap<String, Vec<Digest>> = HashMap::new();
        let mut stmt = conn
            .prepare_cached(
                "SELECT image_id, chain_id FROM image_layers ORDER BY image_id, position",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, digest_col(r, 1)?)))
            .map_err(db_err)?;
        for row in rows {
            let (image_id, chain_id) = row.map_err(db_err)?;
            layers.entry(image_id).or_default().push(chain_id);
        }
        for image in &mut images {
            image.layers = layers.remove(&image.id).unwrap_or_default();
        }
        Ok(images)
    }

    /// Every image without its layer list (listing needs none), newest first. Sorted here
    /// rather than in SQL: the index order plus a temporary B-tree cost more than a Vec sort.
    pub fn images_summary(&self) -> Result<Vec<ImageRecord>> {
        let mut images: Vec<ImageRecord> = self
            .conn()
            .prepare_cached(&format!("SELECT {IMAGE_COLUMNS} FROM images"))
            .and_then(|mut s| s.query_map([], image_from_row)?.collect())
            .map_err(db_err)?;
        images.sort_by(|a, b| {
            b.created_unix
                .cmp(&a.created_unix)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(images)
    }

    /// `(repo, tag)` pairs pointing at an image, sorted.
    pub fn tags_for(&self, image_id: &str) -> Result<Vec<(String, String)>> {
        self.conn()
            .prepare_cached("SELECT repo, tag FROM tags WHERE image_id = ?1 ORDER BY repo, tag")
            .and_then(|mut s| {
                s.query_map([image_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(db_err)
    }

    /// `(repo, digest)` pairs recorded for an image, sorted.
    pub fn repo_digests_for(&self, image_id: &str) -> Result<Vec<(String, Digest)>> {
        self.conn()
            .prepare_cached(
                "SELECT repo, digest FROM repo_digests WHERE image_id = ?1 ORDER BY repo, digest",
            )
            .and_then(|mut s| {
                s.query_map([image_id], |r| Ok((r.get(0)?, digest_col(r, 1)?)))?
                    .collect()
            })
            .map_err(db_err)
    }

    /// Every `(repo, tag, image_id)`, sorted by repo and tag.
    pub fn all_tags(&self) -> Result<Vec<(String, String, String)>> {
        self.conn()
            .prepare_cached("SELECT repo, tag, image_id FROM tags ORDER BY repo, tag")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(db_err)
    }

    /// Every `(repo, digest, image_id)`, sorted by repo and digest.
    pub fn all_repo_digests(&self) -> Result<Vec<(String, Digest, String)>> {
        self.conn()
            .prepare_cached("SELECT repo, digest, image_id FROM repo_digests ORDER BY repo, digest")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, digest_col(r, 1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(db_err)
    }

    pub fn resolve_tag(&self, repo: &str, tag: &str) -> Result<Option<String>> {
        self.conn()
            .prepare_cached("SELECT image_id FROM tags WHERE repo = ?1 AND tag = ?2")
            .and_then(|mut s| s.query_row([repo, tag], |r| r.get(0)).optional())
            .map_err(db_err)
    }

    pub fn resolve_repo_digest(&self, repo: &str, digest: &Digest) -> Result<Option<String>> {
        self.conn()
            .prepare_cached("SELECT image_id FROM repo_digests WHERE repo = ?1 AND digest = ?2")
            .and_then(|mut s| {
                s.query_row(params![repo, digest.to_string()], |r| r.get(0))
                    .optional()
            })
            .map_err(db_err)
    }

    /// Image IDs whose hex starts with `hex_prefix` (an optional `sha256:` is accepted).
    /// Anything that is not lowercase hex matches nothing.
    pub fn find_image_by_prefix(&self, hex_prefix: &str) -> Result<Vec<String>> {
        let prefix = hex_prefix.strip_prefix("sha256:").unwrap_or(hex_prefix);
        if prefix.is_empty()
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Ok(Vec::new());
        }
        // Every character after the prefix is hex, so all matches sort in [p, p + "g").
        let low = format!("sha256:{prefix}");
        let high = format!("sha256:{prefix}g");
        self.conn()
            .prepare_cached("SELECT id FROM images WHERE id >= ?1 AND id < ?2 ORDER BY id")
            .and_then(|mut s| s.query_map([low, high], |r| r.get(0))?.collect())
            .map_err(db_err)
    }

    /// Points `repo:tag` at `image_id` (creating or moving the tag) and sets the image's
    /// `last_tag_time`, in one `BEGIN IMMEDIATE` transaction, as `docker tag` does. Returns the
    /// image the tag pointed at before when that was another image; a missing image is NotFound.
    pub fn add_tag(&self, repo: &str, tag: &str, image_id: &str) -> Result<Option<String>> {
        self.write(|tx| {
            ensure_image(tx, image_id)?;
            let before: Option<String> = tx
                .prepare_cached("SELECT image_id FROM tags WHERE repo = ?1 AND tag = ?2")
                .and_then(|mut s| s.query_row(params![repo, tag], |r| r.get(0)).optional())
                .map_err(db_err)?;
            tx.prepare_cached(
                "INSERT INTO tags (repo, tag, image_id) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(repo, tag) DO UPDATE SET image_id = excluded.image_id",
            )
            .and_then(|mut s| s.execute(params![repo, tag, image_id]))
            .map_err(db_err)?;
            tx.prepare_cached("UPDATE images SET last_tag_time = ?1 WHERE id = ?2")
                .and_then(|mut s| s.execute(params![jiff::Timestamp::now().to_string(), image_id]))
                .map_err(db_err)?;
            Ok(before.filter(|b| b != image_id))
        })
    }

    /// Records `repo@digest` for an image (after a push, as Docker does). A missing image is
    /// NotFound.
    pub fn add_repo_digest(&self, repo: &str, digest: &Digest, image_id: &str) -> Result<()> {
        self.write(|tx| {
            ensure_image(tx, image_id)?;
            tx.prepare_cached(
                "INSERT INTO repo_digests (repo, digest, image_id) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(repo, digest) DO UPDATE SET image_id = excluded.image_id",
            )
            .and_then(|mut s| s.execute(params![repo, digest.to_string(), image_id]))
            .map_err(db_err)?;
            Ok(())
        })
    }
}

/// Removal (`rmi`, `image prune`): each statement is one `BEGIN IMMEDIATE` transaction.
impl Db {
    /// Removes the tag `repo:tag`; returns whether it existed.
    pub fn remove_tag(&self, repo: &str, tag: &str) -> Result<bool> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM tags WHERE repo = ?1 AND tag = ?2")
                .and_then(|mut s| s.execute([repo, tag]))
                .map(|n| n > 0)
                .map_err(db_err)
        })
    }

    /// Removes the digest reference `repo@digest`; returns whether it existed.
    pub fn remove_repo_digest(&self, repo: &str, digest: &Digest) -> Result<bool> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM repo_digests WHERE repo = ?1 AND digest = ?2")
                .and_then(|mut s| s.execute(params![repo, digest.to_string()]))
                .map(|n| n > 0)
                .map_err(db_err)
        })
    }

    /// Deletes an image record with its layer list, tags and digests (the layers themselves
    /// stay: see [`Db::remove_layer_if_unused`]). Returns whether it existed.
    pub fn delete_image(&self, image_id: &str) -> Result<bool> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM images WHERE id = ?1")
                .and_then(|mut s| s.execute([image_id]))
                .map(|n| n > 0)
                .map_err(db_err)
        })
    }
}

/// Per-image layer bytes for `system df -v`: the image's own size and the bytes of its layers
/// that at least one other image also uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpace {
    pub image_id: String,
    pub size: u64,
    pub shared_size: u64,
}

/// Disk usage (`system df`, `info`).
impl Db {
    /// The unpacked size of each layer of an image, bottom layer first.
    pub fn image_layer_sizes(&self, image_id: &str) -> Result<Vec<u64>> {
        self.conn()
            .prepare_cached(
                "SELECT l.size FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id \
                 WHERE il.image_id = ?1 ORDER BY il.position",
            )
            .and_then(|mut s| {
                s.query_map([image_id], |r| Ok(r.get::<_, i64>(0)? as u64))?
                    .collect()
            })
            .map_err(db_err)
    }

    /// The bytes of every layer some image uses, each layer counted once.
    pub fn used_layers_size(&self) -> Result<u64> {
        self.conn()
            .prepare_cached(
                "SELECT COALESCE(SUM(size), 0) FROM layers \
                 WHERE chain_id IN (SELECT chain_id FROM image_layers)",
            )
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(db_err)
    }

    /// [`ImageSpace`] of every image (in no particular order), from one aggregate query.
    pub fn image_space(&self) -> Result<Vec<ImageSpace>> {
        self.conn()
            .prepare_cached(
                "WITH users AS (SELECT chain_id, COUNT(DISTINCT image_id) AS n \
                                FROM image_layers GROUP BY chain_id) \
                 SELECT i.id, i.size, COALESCE(SUM(CASE WHEN u.n > 1 THEN l.size ELSE 0 END), 0) \
                 FROM images i \
                 LEFT JOIN image_layers il ON il.image_id = i.id \
                 LEFT JOIN layers l ON l.chain_id = il.chain_id \
                 LEFT JOIN users u ON u.chain_id = il.chain_id \
                 GROUP BY i.id",
            )
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok(ImageSpace {
                        image_id: r.get(0)?,
                        size: r.get::<_, i64>(1)? as u64,
                        shared_size: r.get::<_, i64>(2)? as u64,
                    })
                })?
                .collect()
            })
            .map_err(db_err)
    }

    /// How many images are recorded.
    pub fn image_count(&self) -> Result<u64> {
        self.conn()
            .prepare_cached("SELECT COUNT(*) FROM images")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::{image, layer};
    use oci_model::ErrorKind;

    #[test]
    fn commit_pull_records_image_tags_and_digests() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("metadata.db")).unwrap();
        let (l1, l2) = (layer(1, None), layer(2, None));
        db.insert_layer(&l1).unwrap();
        db.insert_layer(&l2).unwrap();
        let old = image("old", 1_600_000_000, &[&l1]);
        let new = image("new", 1_700_000_000, &[&l1, &l2]);
        let repo = "docker.io/library/alpine";
        let rd_old = Digest::of(b"index old");

        assert_eq!(
            db.commit_pull(&old, repo, Some("latest"), Some(&rd_old))
                .unwrap(),
            None
        );
        let stored = db.image(&old.id).unwrap().unwrap();
        assert!(stored.last_tag_time.is_some());
        assert_eq!(stored.layers, old.layers);
        // Same image, same tag: not a repoint.
        assert_eq!(
            db.commit_pull(&old, repo, Some("latest"), Some(&rd_old))
                .unwrap(),
            None
        );
        assert_eq!(
            db.image(&old.id).unwrap().unwrap().last_tag_time,
            stored.last_tag_time
        );

        // The tag moves: the previous image is reported.
        let prev = db
            .commit_pull(&new, repo, Some("latest"), Some(&Digest::of(b"index new")))
            .unwrap();
        assert_eq!(prev, Some(old.id.clone()));
        assert_eq!(
            db.resolve_tag(repo, "latest").unwrap(),
            Some(new.id.clone())
        );
        assert_eq!(db.resolve_tag(repo, "edge").unwrap(), None);
        assert_eq!(
            db.resolve_repo_digest(repo, &rd_old).unwrap(),
            Some(old.id.clone())
        );
        assert!(db.tags_for(&old.id).unwrap().is_empty());
        assert_eq!(
            db.tags_for(&new.id).unwrap(),
            vec![(repo.to_string(), "latest".to_string())]
        );
        assert_eq!(
            db.repo_digests_for(&old.id).unwrap(),
            vec![(repo.to_string(), rd_old.clone())]
        );

        // Pull by digest only.
        let other = image("other", 1_650_000_000, &[&l2]);
        let rd_other = Digest::of(b"by digest");
        assert_eq!(
            db.commit_pull(&other, "ghcr.io/x/y", None, Some(&rd_other))
                .unwrap(),
            None
        );
        assert!(
            db.image(&other.id)
                .unwrap()
                .unwrap()
                .last_tag_time
                .is_none()
        );

        let ids: Vec<_> = db
            .images()
            .unwrap()
            .into_iter()
            .map(|i| (i.id, i.layers.len()))
            .collect();
        assert_eq!(
            ids,
            vec![
                (new.id.clone(), 2),
                (other.id.clone(), 1),
                (old.id.clone(), 1)
            ]
        );
        assert_eq!(
            db.all_tags().unwrap(),
            vec![(repo.to_string(), "latest".to_string(), new.id.clone())]
        );
        assert_eq!(db.all_repo_digests().unwrap().len(), 3);

        let hex = &new.id["sha256:".len()..];
        assert_eq!(
            db.find_image_by_prefix(&hex[..6]).unwrap(),
            vec![new.id.clone()]
        );
        assert_eq!(
            db.find_image_by_prefix(&new.id).unwrap(),
            vec![new.id.clone()]
        );
        assert!(db.find_image_by_prefix("%").unwrap().is_empty());
        assert!(db.find_image_by_prefix("").unwrap().is_empty());
    }

    #[test]
    fn commit_pull_requires_recorded_layers() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("metadata.db")).unwrap();
        let missing = layer(9, None);
        let img = image("x", 1, &[&missing]);
        let err = db
            .commit_pull(&img, "docker.io/library/x", Some("latest"), None)
            .unwrap_err();
        assert!(err.message.contains("not recorded"), "{}", err.message);
        // The whole transaction rolled back.
        assert!(db.image(&img.id).unwrap().is_none());
        assert!(
            db.resolve_tag("docker.io/library/x", "latest")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn add_tag_moves_tags_and_space_counts_shared_layers_once() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("metadata.db")).unwrap();
        let (l1, l2, l3) = (layer(1, None), layer(2, None), layer(3, None));
        for l in [&l1, &l2, &l3] {
            db.insert_layer(l).unwrap();
        }
        // An unused layer counts nowhere.
        db.insert_layer(&layer(4, None)).unwrap();
        let a = image("a", 1, &[&l1, &l2]);
        let b = image("b", 2, &[&l1, &l3]);
        let repo = "docker.io/library/x";
        db.commit_pull(&a, repo, Some("a"), None).unwrap();
        db.commit_pull(&b, repo, None, None).unwrap();
        assert!(db.image(&b.id).unwrap().unwrap().last_tag_time.is_none());

        assert_eq!(db.add_tag(repo, "latest", &b.id).unwrap(), None);
        assert!(db.image(&b.id).unwrap().unwrap().last_tag_time.is_some());
        assert_eq!(db.add_tag(repo, "latest", &b.id).unwrap(), None);
        assert_eq!(
            db.add_tag(repo, "latest", &a.id).unwrap(),
            Some(b.id.clone())
        );
        assert_eq!(db.resolve_tag(repo, "latest").unwrap(), Some(a.id.clone()));
        assert!(db.tags_for(&b.id).unwrap().is_empty());
        let err = db.add_tag(repo, "z", "sha256:none").unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert_eq!(db.resolve_tag(repo, "z").unwrap(), None);

        assert_eq!(db.image_layer_sizes(&a.id).unwrap(), vec![l1.size, l2.size]);
        assert_eq!(db.image_count().unwrap(), 2);
        assert_eq!(db.used_layers_size().unwrap(), l1.size + l2.size + l3.size);
        let mut space = db.image_space().unwrap();
        space.sort_by(|x, y| x.image_id.cmp(&y.image_id));
        let mut want = vec![
            ImageSpace {
                image_id: a.id.clone(),
                size: a.size,
                shared_size: l1.size,
            },
            ImageSpace {
                image_id: b.id.clone(),
                size: b.size,
                shared_size: l1.size,
            },
        ];
        want.sort_by(|x, y| x.image_id.cmp(&y.image_id));
        assert_eq!(space, want);
    }
}
