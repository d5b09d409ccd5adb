//! SQLite metadata shared by concurrent strata processes.
//!
//! One [`Db`] per process, opened at `<root>/metadata.db`. The database runs in WAL mode
//! (readers never block the writer), with a 30 s busy timeout, `synchronous=NORMAL` and
//! foreign keys on. Every write is one `BEGIN IMMEDIATE` transaction: taking the write lock
//! up front means a writer waits (busy timeout) instead of failing with `SQLITE_BUSY` on a
//! read→write upgrade. The schema is versioned by `PRAGMA user_version`; [`MIGRATIONS`] are
//! applied in order, inside an immediate transaction, so concurrent first opens are safe.
//!
//! No SQL leaves this module: callers pass and receive the plain records below.

use oci_model::{Digest, Error, ErrorKind, Result};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

mod containers;
pub use containers::{ContainerConfig, ContainerRecord, ContainerState};

const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Schema migrations; migration `i` moves the database from `user_version` i to i + 1.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE images (
    id                  TEXT PRIMARY KEY,          -- sha256:<config digest hex>
    manifest_digest     TEXT NOT NULL,
    manifest_media_type TEXT NOT NULL,
    config_size         INTEGER NOT NULL,
    created             TEXT NOT NULL,             -- the config's "created", as written
    created_unix        INTEGER NOT NULL,
    architecture        TEXT NOT NULL,
    os                  TEXT NOT NULL,
    variant             TEXT,
    size                INTEGER NOT NULL,          -- sum of unpacked layer sizes
    added_unix          INTEGER NOT NULL,
    last_tag_time       TEXT
) STRICT;
CREATE INDEX images_created ON images(created_unix);

CREATE TABLE layers (
    chain_id        TEXT PRIMARY KEY,
    diff_id         TEXT NOT NULL,
    parent          TEXT,
    blob_digest     TEXT NOT NULL,
    media_type      TEXT NOT NULL,
    compressed_size INTEGER NOT NULL,
    size            INTEGER NOT NULL,
    whiteout_form   TEXT NOT NULL CHECK (whiteout_form IN ('overlay', 'aufs')),
    created_unix    INTEGER NOT NULL
) STRICT;
CREATE INDEX layers_parent ON layers(parent);

CREATE TABLE image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    chain_id TEXT NOT NULL REFERENCES layers(chain_id),
    PRIMARY KEY (image_id, position)
) STRICT;
CREATE INDEX image_layers_chain ON image_layers(chain_id);

CREATE TABLE tags (
    repo     TEXT NOT NULL,
    tag      TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    PRIMARY KEY (repo, tag)
) STRICT;
CREATE INDEX tags_image ON tags(image_id);

CREATE TABLE repo_digests (
    repo     TEXT NOT NULL,
    digest   TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    PRIMARY KEY (repo, digest)
) STRICT;
CREATE INDEX repo_digests_image ON repo_digests(image_id);

CREATE TABLE leases (
    id           TEXT PRIMARY KEY,
    pid          INTEGER NOT NULL,
    created_unix INTEGER NOT NULL
) STRICT;

CREATE TABLE lease_resources (
    lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,
    key      TEXT NOT NULL,
    PRIMARY KEY (lease_id, kind, key)
) STRICT;
CREATE INDEX lease_resources_key ON lease_resources(kind, key);

CREATE TABLE mounts (
    image_id TEXT PRIMARY KEY,
    path     TEXT NOT NULL,
    driver   TEXT NOT NULL,
    refcount INTEGER NOT NULL
) STRICT;
"#,
    // 2: the config labels as a JSON object, for `images --filter label=` without reading configs.
    r#"
ALTER TABLE images ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
"#,
    // 3: containers. No ON DELETE CASCADE from images: deleting an image that a container uses
    // fails (foreign key), so image removal must deal with its containers first.
    r#"
CREATE TABLE containers (
    id           TEXT PRIMARY KEY,                 -- 64 hex
    name         TEXT NOT NULL UNIQUE,             -- without the leading '/'
    image_id     TEXT NOT NULL REFERENCES images(id),
    image_ref    TEXT NOT NULL,
    command      TEXT NOT NULL,                    -- JSON array: entrypoint + cmd as run
    created_unix INTEGER NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('created', 'running', 'exited')),
    pid          INTEGER,
    exit_code    INTEGER,
    started_at   TEXT,
    finished_at  TEXT,
    config       TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX containers_image ON containers(image_id);
"#,
    // 4: where blobs are known to live, for push: the registry repositories a pull fetched them
    // from or a push sent them to (push mounts across repositories by it, and fetches a blob the
    // store lacks), and the blobs strata made itself (registry '' and repo ''): commit/import
    // layers, the only ones `push --compression` re-encodes. Conversions made by such a push are
    // kept by source blob and target media type, so the next push reuses them.
    r#"
CREATE TABLE blob_sources (
    digest    TEXT NOT NULL,
    registry  TEXT NOT NULL,                      -- reference domain: docker.io, 127.0.0.1:5000
    repo      TEXT NOT NULL,                      -- path within it: library/alpine
    seen_unix INTEGER NOT NULL,
    PRIMARY KEY (digest, registry, repo)
) STRICT;

CREATE TABLE blob_conversions (
    source     TEXT NOT NULL,
    media_type TEXT NOT NULL,
    digest     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    PRIMARY KEY (source, media_type)
) STRICT;
"#,
];

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

fn db_err(e: rusqlite::Error) -> Error {
    let kind = match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            ErrorKind::Unavailable
        }
        Some(rusqlite::ErrorCode::ConstraintViolation) => ErrorKind::Conflict,
        _ => ErrorKind::Internal,
    };
    Error::new(kind, format!("metadata database: {e}"))
}

fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn digest_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Digest> {
    let s: String = row.get(idx)?;
    Digest::parse(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn opt_digest_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Digest>> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(_) => digest_col(row, idx).map(Some),
    }
}

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

/// One unpacked layer, named by its ChainID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRecord {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub parent: Option<Digest>,
    pub blob_digest: Digest,
    pub media_type: String,
    pub compressed_size: u64,
    /// Unpacked content bytes.
    pub size: u64,
    /// `"overlay"` or `"aufs"`: how whiteouts are represented in the layer directory.
    pub whiteout_form: String,
}

/// A union view of an image that is mounted (or copied) for use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRecord {
    pub image_id: String,
    pub path: PathBuf,
    pub driver: String,
    pub refcount: i64,
}

/// The metadata database. Cheap to share (`Arc<Db>`): the connection is behind a mutex.
pub struct Db {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
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

impl Db {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Db> {
        // Two processes creating the database at the same moment can see SQLITE_BUSY from the
        // journal-mode switch or the schema migration without the busy handler being consulted
        // (it is not used while the WAL index is being set up): retry those, within the timeout.
        let start = std::time::Instant::now();
        loop {
            match Self::open_once(path) {
                Err(e) if e.kind == ErrorKind::Unavailable && start.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path) -> Result<Db> {
        let mut conn = Connection::open(path).map_err(db_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
        // Switching the mode takes a lock; skip it when the database is already in WAL mode.
        let current: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(db_err)?;
        let mode: String = if current.eq_ignore_ascii_case("wal") {
            current
        } else {
            conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
                .map_err(db_err)?
        };
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "metadata database {}: cannot use WAL mode (got {mode})",
                    path.display()
                ),
            ));
        }
        // mmap: listing 1,000 images reads ~300 pages; mapped, they cost no page-cache copies.
        conn.execute_batch(
            "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA mmap_size=268435456;",
        )
        .map_err(db_err)?;
        migrate(&mut conn)?;
        Ok(Db {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-done transaction (it rolls back on
        // drop), so the connection stays usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction and commits it.
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let start = std::time::Instant::now();
        let tx = loop {
            match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
                Ok(tx) => break tx,
                // BUSY despite the busy handler (e.g. during another process's WAL recovery).
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && start.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(db_err(e)),
            }
        };
        let out = f(&tx)?;
        tx.commit().map_err(db_err)?;
        Ok(out)
    }

    pub fn layer(&self, chain_id: &Digest) -> Result<Option<LayerRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT chain_id, diff_id, parent, blob_digest, media_type, compressed_size, size, whiteout_form \
                 FROM layers WHERE chain_id = ?1",
            )
            .map_err(db_err)?;
        stmt.query_row([chain_id.to_string()], |row| {
            Ok(LayerRecord {
                chain_id: digest_col(row, 0)?,
                diff_id: digest_col(row, 1)?,
                parent: opt_digest_col(row, 2)?,
                blob_digest: digest_col(row, 3)?,
                media_type: row.get(4)?,
                compressed_size: row.get::<_, i64>(5)? as u64,
                size: row.get::<_, i64>(6)? as u64,
                whiteout_form: row.get(7)?,
            })
        })
        .optional()
        .map_err(db_err)
    }

    /// Records a layer; a layer already recorded under the same ChainID is kept as is.
    pub fn insert_layer(&self, layer: &LayerRecord) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, blob_digest, media_type, \
                 compressed_size, size, whiteout_form, created_unix) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    layer.chain_id.to_string(),
                    layer.diff_id.to_string(),
                    layer.parent.as_ref().map(|p| p.to_string()),
                    layer.blob_digest.to_string(),
                    layer.media_type,
                    layer.compressed_size as i64,
                    layer.size as i64,
                    layer.whiteout_form,
                    now_unix(),
                ])
            })
            .map_err(db_err)?;
            Ok(())
        })
    }

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

    /// Creates a lease owned by this process, protecting `resources` (`(kind, key)`, e.g.
    /// `("blob", "sha256:…")` or `("layer", chain id)`) from garbage collection. Adding to an
    /// existing lease keeps its owner.
    pub fn add_lease(&self, id: &str, resources: &[(&str, &str)]) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR IGNORE INTO leases (id, pid, created_unix) VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute(params![id, std::process::id(), now_unix()]))
                .map_err(db_err)?;
            let mut s = tx
                .prepare_cached("INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) VALUES (?1, ?2, ?3)")
                .map_err(db_err)?;
            for (kind, key) in resources {
                s.execute(params![id, kind, key]).map_err(db_err)?;
            }
            Ok(())
        })
    }

    /// Drops a lease and all it protects. Removing an unknown lease is not an error.
    pub fn remove_lease(&self, id: &str) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM leases WHERE id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map_err(db_err)?;
            Ok(())
        })
    }

    /// Whether any lease protects `(kind, key)`.
    pub fn leased(&self, kind: &str, key: &str) -> Result<bool> {
        self.conn()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM lease_resources WHERE kind = ?1 AND key = ?2)",
            )
            .and_then(|mut s| s.query_row([kind, key], |r| r.get(0)))
            .map_err(db_err)
    }

    /// Removes leases whose owning process no longer exists (killed pulls); returns how many.
    pub fn remove_dead_leases(&self) -> Result<usize> {
        self.write(|tx| {
            let leases: Vec<(String, i64)> = tx
                .prepare_cached("SELECT id, pid FROM leases")
                .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
                .map_err(db_err)?;
            let mut removed = 0;
            for (id, pid) in leases {
                if !process_alive(pid) {
                    tx.prepare_cached("DELETE FROM leases WHERE id = ?1")
                        .and_then(|mut s| s.execute([id]))
                        .map_err(db_err)?;
                    removed += 1;
                }
            }
            Ok(removed)
        })
    }

    /// Records (or replaces) the mount of an image, with a reference count of 1.
    pub fn set_mount(&self, image_id: &str, path: &str, driver: &str) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO mounts (image_id, path, driver, refcount) VALUES (?1, ?2, ?3, 1) \
                 ON CONFLICT(image_id) DO UPDATE SET path = excluded.path, driver = excluded.driver, \
                 refcount = 1",
            )
            .and_then(|mut s| s.execute(params![image_id, path, driver]))
            .map_err(db_err)?;
            Ok(())
        })
    }

    pub fn get_mount(&self, image_id: &str) -> Result<Option<MountRecord>> {
        self.conn()
            .prepare_cached(
                "SELECT image_id, path, driver, refcount FROM mounts WHERE image_id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([image_id], |r| {
                    Ok(MountRecord {
                        image_id: r.get(0)?,
                        path: PathBuf::from(r.get::<_, String>(1)?),
                        driver: r.get(2)?,
                        refcount: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(db_err)
    }

    /// Adds `delta` to a mount's reference count atomically; returns the new count, or
    /// `None` when the image has no mount record.
    pub fn adjust_mount_refcount(&self, image_id: &str, delta: i64) -> Result<Option<i64>> {
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE mounts SET refcount = refcount + ?2 WHERE image_id = ?1 RETURNING refcount",
            )
            .and_then(|mut s| {
                s.query_row(params![image_id, delta], |r| r.get(0))
                    .optional()
            })
            .map_err(db_err)
        })
    }

    pub fn remove_mount(&self, image_id: &str) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM mounts WHERE image_id = ?1")
                .and_then(|mut s| s.execute([image_id]))
                .map_err(db_err)?;
            Ok(())
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

impl Db {
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

/// Removal and garbage collection (`rmi`, `image prune`, the GC): each statement is one
/// `BEGIN IMMEDIATE` transaction.
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

    /// Deletes the record of layer `chain_id` if no image lists it and no lease protects it,
    /// atomically with that check. Returns the removed record.
    pub fn remove_layer_if_unused(&self, chain_id: &Digest) -> Result<Option<LayerRecord>> {
        let Some(layer) = self.layer(chain_id)? else {
            return Ok(None);
        };
        let removed = self.write(|tx| {
            tx.prepare_cached(
                "DELETE FROM layers WHERE chain_id = ?1 \
                 AND NOT EXISTS (SELECT 1 FROM image_layers WHERE chain_id = ?1) \
                 AND NOT EXISTS (SELECT 1 FROM lease_resources WHERE kind = 'layer' AND key = ?1)",
            )
            .and_then(|mut s| s.execute([chain_id.to_string()]))
            .map(|n| n > 0)
            .map_err(db_err)
        })?;
        Ok(removed.then_some(layer))
    }

    /// Layers no image lists (garbage unless leased), any order.
    pub fn unused_layers(&self) -> Result<Vec<Digest>> {
        self.conn()
            .prepare_cached(
                "SELECT chain_id FROM layers \
                 WHERE chain_id NOT IN (SELECT chain_id FROM image_layers)",
            )
            .and_then(|mut s| s.query_map([], |r| digest_col(r, 0))?.collect())
            .map_err(db_err)
    }

    /// Every layer ChainID recorded.
    pub fn layer_ids(&self) -> Result<Vec<Digest>> {
        self.conn()
            .prepare_cached("SELECT chain_id FROM layers")
            .and_then(|mut s| s.query_map([], |r| digest_col(r, 0))?.collect())
            .map_err(db_err)
    }

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

fn process_alive(pid: i64) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    // EPERM means it exists but belongs to someone else.
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_err)?;
    let version = usize::try_from(version).unwrap_or(0);
    if version > MIGRATIONS.len() {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "metadata database schema version {version} is newer than this strata supports ({})",
                MIGRATIONS.len()
            ),
        ));
    }
    for sql in &MIGRATIONS[version..] {
        tx.execute_batch(sql).map_err(db_err)?;
    }
    if version < MIGRATIONS.len() {
        tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)
            .map_err(db_err)?;
    }
    tx.commit().map_err(db_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(n: u8, parent: Option<&Digest>) -> LayerRecord {
        LayerRecord {
            chain_id: Digest::of(&[b'c', n]),
            diff_id: Digest::of(&[b'd', n]),
            parent: parent.cloned(),
            blob_digest: Digest::of(&[b'b', n]),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            compressed_size: 100 + n as u64,
            size: 1000 + n as u64,
            whiteout_form: "overlay".into(),
        }
    }

    fn image(seed: &str, created_unix: i64, layers: &[&LayerRecord]) -> ImageRecord {
        ImageRecord {
            id: Digest::of(seed.as_bytes()).to_string(),
            manifest_digest: Digest::of(format!("manifest {seed}").as_bytes()).to_string(),
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            config_size: 1234,
            created: jiff::Timestamp::from_second(created_unix)
                .unwrap()
                .to_string(),
            created_unix,
            architecture: "amd64".into(),
            os: "linux".into(),
            variant: None,
            size: layers.iter().map(|l| l.size).sum(),
            added_unix: 1_700_000_000,
            last_tag_time: None,
            labels: [("seed".to_string(), seed.to_string())].into(),
            layers: layers.iter().map(|l| l.chain_id.clone()).collect(),
        }
    }

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

    #[test]
    fn layers_roundtrip_and_insert_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("metadata.db")).unwrap();
        let base = layer(1, None);
        let top = layer(2, Some(&base.chain_id));
        assert!(db.layer(&base.chain_id).unwrap().is_none());
        db.insert_layer(&base).unwrap();
        db.insert_layer(&top).unwrap();
        db.insert_layer(&base).unwrap();
        assert_eq!(db.layer(&base.chain_id).unwrap().unwrap(), base);
        assert_eq!(db.layer(&top.chain_id).unwrap().unwrap(), top);
        // Layers of one image are unpacked in parallel and recorded as each completes, so a
        // layer may be recorded before its parent.
        let early = layer(3, Some(&Digest::of(b"not yet")));
        db.insert_layer(&early).unwrap();
        assert_eq!(db.layer(&early.chain_id).unwrap().unwrap(), early);
    }

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
    fn concurrent_writers_with_separate_connections() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metadata.db");
        let threads: Vec<_> = (0..2u8)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || -> Result<()> {
                    // Both threads also race on creating and migrating the database.
                    let db = Db::open(&path)?;
                    let shared = layer(0, None);
                    for i in 0..40u8 {
                        db.insert_layer(&shared)?;
                        let own = layer(10 + t * 50 + i, Some(&shared.chain_id));
                        db.insert_layer(&own)?;
                        let img = image(&format!("{t}-{i}"), i64::from(i), &[&shared, &own]);
                        db.commit_pull(&img, "docker.io/library/race", Some("latest"), None)?;
                        db.commit_pull(
                            &img,
                            "docker.io/library/race",
                            Some(&format!("t{t}-{i}")),
                            None,
                        )?;
                        db.images()?;
                    }
                    Ok(())
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(db.images().unwrap().len(), 80);
        assert_eq!(db.all_tags().unwrap().len(), 81);
    }

    #[test]
    fn reopen_keeps_data_and_schema_version() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metadata.db");
        let l = layer(1, None);
        {
            let db = Db::open(&path).unwrap();
            db.insert_layer(&l).unwrap();
        }
        let db = Db::open(&path).unwrap();
        let db2 = Db::open(&path).unwrap();
        assert_eq!(db2.layer(&l.chain_id).unwrap().unwrap(), l);
        let conn = db.conn();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(conn);
        // A database from a newer strata is refused, not silently used.
        db.conn().pragma_update(None, "user_version", 99).unwrap();
        assert_eq!(Db::open(&path).unwrap_err().kind, ErrorKind::Unsupported);
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

    #[test]
    fn leases_and_mounts() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("metadata.db")).unwrap();
        let blob = Digest::of(b"layer").to_string();
        assert!(!db.leased("blob", &blob).unwrap());
        db.add_lease("pull-1", &[("blob", &blob), ("layer", "sha256:x")])
            .unwrap();
        db.add_lease("pull-1", &[("blob", "more")]).unwrap();
        assert!(db.leased("blob", &blob).unwrap());
        assert!(db.leased("blob", "more").unwrap());
        // Our own lease survives a dead-lease sweep.
        assert_eq!(db.remove_dead_leases().unwrap(), 0);
        db.remove_lease("pull-1").unwrap();
        assert!(!db.leased("blob", &blob).unwrap());
        db.remove_lease("pull-1").unwrap();

        // A lease owned by a process that has exited is swept.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        db.add_lease("dead", &[("blob", &blob)]).unwrap();
        db.conn()
            .execute("UPDATE leases SET pid = ?1 WHERE id = 'dead'", [pid])
            .unwrap();
        assert_eq!(db.remove_dead_leases().unwrap(), 1);
        assert!(!db.leased("blob", &blob).unwrap());

        let m = MountRecord {
            image_id: "sha256:abc".into(),
            path: tmp.path().join("mounts/abc/merged"),
            driver: "overlay".into(),
            refcount: 1,
        };
        assert!(db.get_mount(&m.image_id).unwrap().is_none());
        db.set_mount(&m.image_id, &m.path.to_string_lossy(), &m.driver)
            .unwrap();
        assert_eq!(db.get_mount(&m.image_id).unwrap().unwrap(), m);
        assert_eq!(db.adjust_mount_refcount(&m.image_id, 1).unwrap(), Some(2));
        assert_eq!(db.adjust_mount_refcount("sha256:none", 1).unwrap(), None);
        db.remove_mount(&m.image_id).unwrap();
        assert!(db.get_mount(&m.image_id).unwrap().is_none());
    }
}
