//! The containers table: one row per container, what it was created from and its last known
//! state. A row recorded as running whose process and monitor are both gone is corrected to
//! exited when read, so a crashed monitor never leaves a container "running" forever.

use super::{Db, db_err, process_alive};
use oci_model::{Error, Result};
use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A container: what it was created from and its last known state.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRecord {
    /// 64 lowercase hex digits.
    pub id: String,
    /// The name without Docker's leading `/`.
    pub name: String,
    /// `sha256:<hex>` of the image config.
    pub image_id: String,
    /// The reference the user gave (`busybox`, `sha256:…`), as Docker's `Config.Image`.
    pub image_ref: String,
    /// Entrypoint + cmd as run.
    pub command: Vec<String>,
    pub created_unix: i64,
    pub state: ContainerState,
    /// The container's init process (host pid namespace) while running.
    pub pid: Option<i64>,
    pub exit_code: Option<i64>,
    /// RFC 3339 with nanoseconds, as Docker's `State.StartedAt`.
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Everything else (env, workdir, user, labels, tty, binds, monitor pid, …).
    pub config: ContainerConfig,
}

/// Docker's container statuses, stored as their names (`created`, `running`, …). Strata
/// records `Created`, `Running` and `Exited`; the others exist so that Docker's status names
/// (a `ps --filter status=…`) parse, and match nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerState {
    Created,
    Restarting,
    Running,
    Removing,
    Paused,
    Exited,
    Dead,
}

impl ContainerState {
    /// The stored (and Docker's) name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Restarting => "restarting",
            ContainerState::Running => "running",
            ContainerState::Removing => "removing",
            ContainerState::Paused => "paused",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
        }
    }

    /// Docker's status for `name`, if it is one.
    pub fn parse(name: &str) -> Option<ContainerState> {
        [
            ContainerState::Created,
            ContainerState::Restarting,
            ContainerState::Running,
            ContainerState::Removing,
            ContainerState::Paused,
            ContainerState::Exited,
            ContainerState::Dead,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    pub fn is_running(self) -> bool {
        self == ContainerState::Running
    }

    /// `start`/`run` may launch its process (again).
    pub fn can_start(self) -> bool {
        !self.is_running()
    }

    /// `kill` needs a process to signal.
    pub fn can_kill(self) -> bool {
        self.is_running()
    }

    /// `rm` without `--force`, and `container prune`, leave running containers alone.
    pub fn can_remove(self) -> bool {
        !self.is_running()
    }
}

impl std::fmt::Display for ContainerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl rusqlite::ToSql for ContainerState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for ContainerState {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let name = v.as_str()?;
        ContainerState::parse(name).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown container state {name:?}").into())
        })
    }
}

/// What a container was created with, stored as one JSON object under Docker's `Config` and
/// `HostConfig` key names. Every field has a default so that rows written before a field
/// existed still read; keys this version does not know are kept in [`ContainerConfig::extra`]
/// and written back unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    /// RFC 3339 with nanoseconds, as Docker's `Created`.
    pub created: String,
    pub hostname: String,
    /// As given (`name`, `uid:gid`), empty for the image's default.
    pub user: String,
    pub env: Vec<String>,
    /// `null` when neither the image nor the user gave one.
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// As given (`-w` or the image's), possibly empty.
    pub working_dir: String,
    pub labels: BTreeMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub attach_stdin: bool,
    /// `-v` in Docker's `HOST:CTR[:ro]` form.
    pub binds: Vec<String>,
    /// `none` or `host`.
    pub network_mode: String,
    /// `--rm`: the container is removed once it exits.
    pub auto_remove: bool,
    /// The OCI runtime's name (`runc`, `crun`).
    pub runtime: String,
    /// The root filesystem driver (`overlay`, `copy`).
    pub driver: String,
    /// The image's `StopSignal` (`stop` sends SIGTERM without one).
    pub stop_signal: Option<String>,
    /// The process that waits for the container and records its exit (`strata` itself in the
    /// foreground, or the detached monitor) while it runs.
    pub monitor_pid: Option<i64>,
    /// Why the last start failed (Docker's `State.Error`); absent after a successful start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Keys written by another version, kept as they were.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

const CONTAINER_COLUMNS: &str = "id, name, image_id, image_ref, command, created_unix, state, pid, \
     exit_code, started_at, finished_at, config";

fn container_from_row(row: &Row<'_>) -> rusqlite::Result<ContainerRecord> {
    Ok(ContainerRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        image_id: row.get(2)?,
        image_ref: row.get(3)?,
        command: serde_json::from_str(&row.get::<_, String>(4)?).unwrap_or_default(),
        created_unix: row.get(5)?,
        state: row.get(6)?,
        pid: row.get(7)?,
        exit_code: row.get(8)?,
        started_at: row.get(9)?,
        finished_at: row.get(10)?,
        config: serde_json::from_str(&row.get::<_, String>(11)?).unwrap_or_default(),
    })
}

fn config_json(config: &ContainerConfig) -> rusqlite::Result<String> {
    serde_json::to_string(config).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

/// Whether a container recorded as running has lost both its process and whoever waited for it.
fn container_is_stale(c: &ContainerRecord) -> bool {
    if !c.state.is_running() {
        return false;
    }
    let container_alive = c.pid.is_some_and(process_alive);
    let monitor_alive = c.config.monitor_pid.is_some_and(process_alive);
    !container_alive && !monitor_alive
}

/// Runs `sql` with the record's twelve columns as `?1`…`?12`, in [`CONTAINER_COLUMNS`] order.
fn execute_row(tx: &rusqlite::Transaction<'_>, sql: &str, c: &ContainerRecord) -> Result<usize> {
    tx.prepare_cached(sql)
        .and_then(|mut s| {
            s.execute(params![
                c.id,
                c.name,
                c.image_id,
                c.image_ref,
                serde_json::to_string(&c.command).unwrap_or_else(|_| "[]".into()),
                c.created_unix,
                c.state,
                c.pid,
                c.exit_code,
                c.started_at,
                c.finished_at,
                config_json(&c.config)?,
            ])
        })
        .map_err(db_err)
}

impl Db {
    /// Records a new container. A taken name or ID is a [`ErrorKind::Conflict`].
    pub fn insert_container(&self, c: &ContainerRecord) -> Result<()> {
        self.write(|tx| {
            execute_row(
                tx,
                &format!(
                    "INSERT INTO containers ({CONTAINER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ),
                c,
            )
            .map(|_| ())
        })
    }

    /// Rewrites every column but the ID. Unknown IDs are [`ErrorKind::NotFound`].
    pub fn update_container(&self, c: &ContainerRecord) -> Result<()> {
        let n = self.write(|tx| {
            execute_row(
                tx,
                "UPDATE containers SET name = ?2, image_id = ?3, image_ref = ?4, command = ?5, \
                 created_unix = ?6, state = ?7, pid = ?8, exit_code = ?9, started_at = ?10, \
                 finished_at = ?11, config = ?12 WHERE id = ?1",
                c,
            )
        })?;
        if n == 0 {
            return Err(Error::not_found(format!("No such container: {}", c.id)));
        }
        Ok(())
    }

    /// Corrects a "running" record whose process and monitor are both gone to "exited".
    fn reconcile_container(&self, mut c: ContainerRecord) -> Result<ContainerRecord> {
        if !container_is_stale(&c) {
            return Ok(c);
        }
        let id = c.id.clone();
        let now = jiff::Timestamp::now().to_string();
        // Only if still running: the monitor may have recorded the real exit meanwhile.
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE containers SET state = ?3, pid = NULL, \
                 exit_code = COALESCE(exit_code, 255), finished_at = COALESCE(finished_at, ?2) \
                 WHERE id = ?1 AND state = ?4",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    now,
                    ContainerState::Exited,
                    ContainerState::Running
                ])
            })
            .map_err(db_err)?;
            Ok(())
        })?;
        match self.container_raw(&id)? {
            Some(fresh) => c = fresh,
            None => c.state = ContainerState::Exited,
        }
        Ok(c)
    }

    fn container_raw(&self, id: &str) -> Result<Option<ContainerRecord>> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {CONTAINER_COLUMNS} FROM containers WHERE id = ?1"
            ))
            .and_then(|mut s| s.query_row([id], container_from_row).optional())
            .map_err(db_err)
    }

    /// The container with exactly this ID.
    pub fn container(&self, id: &str) -> Result<Option<ContainerRecord>> {
        match self.container_raw(id)? {
            Some(c) => self.reconcile_container(c).map(Some),
            None => Ok(None),
        }
    }

    /// Every container, newest first.
    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        let rows: Vec<ContainerRecord> = {
            let conn = self.conn();
            let mut s = conn
                .prepare_cached(&format!(
                    "SELECT {CONTAINER_COLUMNS} FROM containers ORDER BY created_unix DESC, rowid DESC"
                ))
                .map_err(db_err)?;
            s.query_map([], container_from_row)
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(db_err)?
        };
        rows.into_iter()
            .map(|c| self.reconcile_container(c))
            .collect()
    }

    /// Docker's lookup: a full ID, then a name (with or without the leading `/`), then a
    /// unique ID prefix. An ambiguous prefix is an error.
    pub fn find_container(&self, name_or_id_prefix: &str) -> Result<Option<ContainerRecord>> {
        let key = name_or_id_prefix;
        if key.is_empty() {
            return Ok(None);
        }
        if let Some(c) = self.container_raw(key)? {
            return self.reconcile_container(c).map(Some);
        }
        let name = key.strip_prefix('/').unwrap_or(key);
        let by_name = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {CONTAINER_COLUMNS} FROM containers WHERE name = ?1"
            ))
            .and_then(|mut s| s.query_row([name], container_from_row).optional())
            .map_err(db_err)?;
        if let Some(c) = by_name {
            return self.reconcile_container(c).map(Some);
        }
        if !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let prefix = key.to_ascii_lowercase();
        let matches: Vec<ContainerRecord> = {
            let conn = self.conn();
            let mut s = conn
                .prepare_cached(&format!(
                    "SELECT {CONTAINER_COLUMNS} FROM containers WHERE substr(id, 1, ?2) = ?1 LIMIT 2"
                ))
                .map_err(db_err)?;
            s.query_map(params![prefix, prefix.len() as i64], container_from_row)
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(db_err)?
        };
        match matches.len() {
            0 => Ok(None),
            1 => self
                .reconcile_container(matches.into_iter().next().expect("one"))
                .map(Some),
            _ => Err(Error::invalid(format!(
                "multiple IDs found with provided prefix: {key}"
            ))),
        }
    }

    /// Forgets a container. Unknown IDs are not an error.
    pub fn remove_container(&self, id: &str) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM containers WHERE id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map_err(db_err)?;
            Ok(())
        })
    }

    /// The containers (any state) created from `image_id`, newest first.
    pub fn containers_using_image(&self, image_id: &str) -> Result<Vec<ContainerRecord>> {
        let rows: Vec<ContainerRecord> = {
            let conn = self.conn();
            let mut s = conn
                .prepare_cached(&format!(
                    "SELECT {CONTAINER_COLUMNS} FROM containers WHERE image_id = ?1 \
                     ORDER BY created_unix DESC, rowid DESC"
                ))
                .map_err(db_err)?;
            s.query_map([image_id], container_from_row)
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(db_err)?
        };
        rows.into_iter()
            .map(|c| self.reconcile_container(c))
            .collect()
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{ImageRecord, LayerRecord};
    use oci_model::{Digest, ErrorKind};

    /// A database holding one image (one layer) that containers can be created from.
    fn db_with_image() -> (tempfile::TempDir, Db, ImageRecord) {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("metadata.db")).unwrap();
        let base = LayerRecord {
            chain_id: Digest::of(b"c1"),
            diff_id: Digest::of(b"d1"),
            parent: None,
            blob_digest: Digest::of(b"b1"),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            compressed_size: 101,
            size: 1001,
            whiteout_form: crate::metadata::WhiteoutForm::Overlay,
        };
        db.insert_layer(&base).unwrap();
        let img = ImageRecord {
            id: Digest::of(b"c").to_string(),
            manifest_digest: Digest::of(b"manifest c").to_string(),
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            config_size: 1234,
            created: "2023-11-14T22:13:20Z".into(),
            created_unix: 1_700_000_000,
            architecture: "amd64".into(),
            os: "linux".into(),
            size: base.size,
            added_unix: 1_700_000_000,
            layers: vec![base.chain_id.clone()],
            ..Default::default()
        };
        db.commit_pull(&img, "docker.io/library/busybox", Some("latest"), None)
            .unwrap();
        (tmp, db, img)
    }

    fn container(id_byte: char, name: &str, image_id: &str) -> ContainerRecord {
        ContainerRecord {
            id: id_byte.to_string().repeat(64),
            name: name.into(),
            image_id: image_id.into(),
            image_ref: "busybox".into(),
            command: vec!["sh".into(), "-c".into(), "echo hi".into()],
            created_unix: 1_700_000_000,
            state: ContainerState::Created,
            pid: None,
            exit_code: None,
            started_at: None,
            finished_at: None,
            config: ContainerConfig {
                env: vec!["A=1".into()],
                ..Default::default()
            },
        }
    }

    #[test]
    fn containers_crud_lookup_and_image_reference() {
        let (_tmp, db, img) = db_with_image();

        let a = container('a', "alpha", &img.id);
        let mut b = container('b', "beta", &img.id);
        b.id = format!("ab{}", "0".repeat(62));
        b.created_unix += 1;
        db.insert_container(&a).unwrap();
        db.insert_container(&b).unwrap();
        assert_eq!(db.container(&a.id).unwrap().unwrap(), a);
        // Names are unique.
        let mut dup = container('c', "alpha", &img.id);
        dup.created_unix += 2;
        assert_eq!(
            db.insert_container(&dup).unwrap_err().kind,
            ErrorKind::Conflict
        );
        // An unknown image is refused.
        let orphan = container('d', "delta", "sha256:nope");
        assert!(db.insert_container(&orphan).is_err());

        // Lookup: full id, name, /name, unique prefix, ambiguous prefix.
        assert_eq!(db.find_container(&a.id).unwrap().unwrap().name, "alpha");
        assert_eq!(db.find_container("beta").unwrap().unwrap().id, b.id);
        assert_eq!(db.find_container("/beta").unwrap().unwrap().id, b.id);
        assert_eq!(db.find_container("aa").unwrap().unwrap().id, a.id);
        assert_eq!(db.find_container("ab").unwrap().unwrap().id, b.id);
        assert!(db.find_container("a").is_err());
        assert!(db.find_container("zeta").unwrap().is_none());
        assert!(db.find_container("").unwrap().is_none());

        let all: Vec<String> = db
            .containers()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(all, ["beta", "alpha"]);
        assert_eq!(db.containers_using_image(&img.id).unwrap().len(), 2);
        assert!(
            db.containers_using_image("sha256:other")
                .unwrap()
                .is_empty()
        );

        // The image cannot be deleted while containers use it.
        {
            let conn = db.conn();
            assert!(
                conn.execute("DELETE FROM images WHERE id = ?1", [&img.id])
                    .is_err()
            );
        }

        let mut a2 = a.clone();
        a2.state = ContainerState::Exited;
        a2.exit_code = Some(3);
        a2.finished_at = Some("2026-01-01T00:00:00Z".into());
        db.update_container(&a2).unwrap();
        assert_eq!(db.container(&a.id).unwrap().unwrap(), a2);
        let mut ghost = a2.clone();
        ghost.id = "f".repeat(64);
        assert_eq!(
            db.update_container(&ghost).unwrap_err().kind,
            ErrorKind::NotFound
        );

        db.remove_container(&a.id).unwrap();
        db.remove_container(&a.id).unwrap();
        assert!(db.container(&a.id).unwrap().is_none());
        assert_eq!(db.containers_using_image(&img.id).unwrap().len(), 1);
    }

    #[test]
    fn running_container_without_process_or_monitor_reads_as_exited() {
        let (_tmp, db, img) = db_with_image();

        // A pid that is certainly dead: a reaped child.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = i64::from(child.id());
        child.wait().unwrap();

        let mut live = container('1', "live", &img.id);
        live.state = ContainerState::Running;
        live.pid = Some(i64::from(std::process::id()));
        db.insert_container(&live).unwrap();
        let mut monitored = container('2', "monitored", &img.id);
        monitored.state = ContainerState::Running;
        monitored.pid = Some(dead);
        monitored.config.monitor_pid = Some(i64::from(std::process::id()));
        db.insert_container(&monitored).unwrap();
        let mut stale = container('3', "stale", &img.id);
        stale.state = ContainerState::Running;
        stale.pid = Some(dead);
        db.insert_container(&stale).unwrap();

        assert_eq!(
            db.container(&live.id).unwrap().unwrap().state,
            ContainerState::Running
        );
        assert_eq!(
            db.container(&monitored.id).unwrap().unwrap().state,
            ContainerState::Running
        );
        let s = db.find_container("stale").unwrap().unwrap();
        assert_eq!(s.state, ContainerState::Exited);
        assert_eq!(s.exit_code, Some(255));
        assert!(s.pid.is_none() && s.finished_at.is_some());
    }

    #[test]
    fn stored_config_reads_and_writes_back_the_same_json() {
        let stored = r#"{"Created":"2026-01-01T00:00:00.5Z","Hostname":"0123456789ab",
            "User":"","Env":["PATH=/bin"],"Cmd":["sh"],"Entrypoint":null,"WorkingDir":"",
            "Labels":{"a":"b"},"Tty":true,"OpenStdin":false,"AttachStdin":false,"Binds":[],
            "NetworkMode":"none","AutoRemove":true,"Runtime":"runc","Driver":"overlay",
            "StopSignal":null,"MonitorPid":42,"Error":"boom","ExposedPorts":{"80/tcp":{}}}"#;
        let c: ContainerConfig = serde_json::from_str(stored).unwrap();
        assert!(c.tty && c.auto_remove && !c.open_stdin);
        assert_eq!(c.cmd.as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!((c.entrypoint.as_ref(), c.monitor_pid), (None, Some(42)));
        assert_eq!(c.error.as_deref(), Some("boom"));
        assert_eq!(c.extra.keys().collect::<Vec<_>>(), ["ExposedPorts"]);
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(stored).unwrap()
        );
        // Rows from before a key existed read with its default.
        let old: ContainerConfig = serde_json::from_str(r#"{"Tty":true}"#).unwrap();
        assert!(old.tty && old.binds.is_empty() && old.monitor_pid.is_none());
    }

    #[test]
    fn states_are_stored_by_docker_name() {
        for name in [
            "created",
            "restarting",
            "running",
            "removing",
            "paused",
            "exited",
            "dead",
        ] {
            assert_eq!(ContainerState::parse(name).unwrap().as_str(), name);
        }
        assert_eq!(ContainerState::parse("Running"), None);
        assert!(ContainerState::Running.can_kill() && !ContainerState::Running.can_start());
        assert!(ContainerState::Exited.can_start() && ContainerState::Created.can_remove());
    }
}
