//! Mounted image views (`image mount`): one row per image, with the view's path, the snapshot
//! driver that built it and a reference count, so a second mount of the same image returns the
//! same view.

use super::{Db, db_err, name_col};
use layers::snapshot::Driver;
use oci_model::Result;
use rusqlite::{OptionalExtension, params};
use std::path::PathBuf;

/// A union view of an image that is mounted (or copied) for use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRecord {
    pub image_id: String,
    pub path: PathBuf,
    pub driver: Driver,
    pub refcount: i64,
}

impl Db {
    /// Records (or replaces) the mount of an image, with a reference count of 1.
    pub fn set_mount(&self, image_id: &str, path: &str, driver: Driver) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO mounts (image_id, path, driver, refcount) VALUES (?1, ?2, ?3, 1) \
                 ON CONFLICT(image_id) DO UPDATE SET path = excluded.path, driver = excluded.driver, \
                 refcount = 1",
            )
            .and_then(|mut s| s.execute(params![image_id, path, driver.name()]))
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
                        driver: name_col(r, 2, Driver::parse)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_record_and_count_references() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("metadata.db")).unwrap();

        let m = MountRecord {
            image_id: "sha256:abc".into(),
            path: tmp.path().join("mounts/abc/merged"),
            driver: Driver::Overlay,
            refcount: 1,
        };
        assert!(db.get_mount(&m.image_id).unwrap().is_none());
        db.set_mount(&m.image_id, &m.path.to_string_lossy(), m.driver)
            .unwrap();
        assert_eq!(db.get_mount(&m.image_id).unwrap().unwrap(), m);
        assert_eq!(db.adjust_mount_refcount(&m.image_id, 1).unwrap(), Some(2));
        assert_eq!(db.adjust_mount_refcount("sha256:none", 1).unwrap(), None);
        db.remove_mount(&m.image_id).unwrap();
        assert!(db.get_mount(&m.image_id).unwrap().is_none());
    }
}
