//! Leases: what an operation in progress (a pull, a build, a push) is writing but no image
//! refers to yet, protected from the garbage collector. A lease belongs to the process that
//! created it; [`Db::remove_dead_leases`] drops the leases of processes that died (a killed
//! pull), so their blobs and layers become collectable. Resources are `(kind, key)` pairs,
//! `("blob", digest)` or `("layer", chain id)`, and go with their lease (`ON DELETE CASCADE`).

use super::{Db, db_err, now_unix, process_alive};
use oci_model::Result;
use rusqlite::params;

impl Db {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_model::Digest;

    #[test]
    fn leases_protect_until_removed_or_owner_dead() {
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
    }
}
