//! SQLite metadata shared by concurrent strata processes.
//!
//! One [`Db`] per process, opened at `<root>/metadata.db`. The database runs in WAL mode
//! (readers never block the writer), with a 30 s busy timeout, `synchronous=NORMAL` and
//! foreign keys on. Every write is one `BEGIN IMMEDIATE` transaction: taking the write lock
//! up front means a writer waits (busy timeout) instead of failing with `SQLITE_BUSY` on a
//! read→write upgrade. The schema is versioned by `PRAGMA user_version`; its migrations
//! (`schema.rs`) are applied in order, inside an immediate transaction, so concurrent first
//! opens are safe.
//!
//! No SQL leaves this module: callers pass and receive plain records. As in containerd's
//! `core/metadata`, the code is split by table, each file adding its methods to [`Db`]:
//! `images.rs` (images, tags, repository digests, disk usage), `layers.rs`, `blobs.rs` (blob
//! sources and conversions), `leases.rs`, `mounts.rs` and `containers.rs`. This file
//! holds what they share: opening, the one connection, write transactions with their busy
//! retries, and column conversions.

mod blobs;
mod containers;
mod images;
mod layers;
mod leases;
mod mounts;
mod schema;

pub use self::layers::{LayerRecord, WhiteoutForm};
pub use containers::{ContainerConfig, ContainerRecord, ContainerState};
pub use images::{ImageRecord, ImageSpace};
pub use mounts::MountRecord;

use oci_model::{Digest, Error, ErrorKind, Result};
use rusqlite::{Connection, Row, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

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

/// A TEXT column holding a name that `parse` knows (an enum's); anything else fails the row.
fn name_col<T>(row: &Row<'_>, idx: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let s: String = row.get(idx)?;
    parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("unknown value {s:?}").into(),
        )
    })
}

/// The metadata database: one connection behind one mutex, shared by the threads of a process
/// (`&Db`, or `Arc<Db>`). Every method holds the lock for its own statements only, never
/// across other I/O, so callers need no lock of their own.
pub struct Db {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
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
        schema::migrate(&mut conn)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn layer(n: u8, parent: Option<&Digest>) -> LayerRecord {
        LayerRecord {
            chain_id: Digest::of(&[b'c', n]),
            diff_id: Digest::of(&[b'd', n]),
            parent: parent.cloned(),
            blob_digest: Digest::of(&[b'b', n]),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            compressed_size: 100 + n as u64,
            size: 1000 + n as u64,
            whiteout_form: WhiteoutForm::Overlay,
        }
    }

    pub(super) fn image(seed: &str, created_unix: i64, layers: &[&LayerRecord]) -> ImageRecord {
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
}
