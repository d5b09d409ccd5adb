//! The schema, as an ordered list of migrations.
//!
//! The version is `PRAGMA user_version`: migration `i` moves the database from version i to
//! i + 1. [`migrate`] applies the missing ones in order inside one `BEGIN IMMEDIATE`
//! transaction, so two processes opening a new database at once cannot both apply them, and
//! refuses a database made by a newer strata rather than use it. Migrations are append-only:
//! databases in the field have already run the existing ones.

use super::db_err;
use oci_model::{Error, ErrorKind, Result};
use rusqlite::{Connection, TransactionBehavior};

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

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
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
    use crate::metadata::Db;
    use crate::metadata::tests::layer;

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
}
