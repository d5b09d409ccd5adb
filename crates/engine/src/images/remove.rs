//! `rmi` / `image rm`: Docker's classic image-delete rules (`daemon/images/image_delete.go`).
//!
//! * By reference (`name[:tag]`, `name@digest`): that reference is removed (`Untagged:`). A
//!   removed tag also takes the digest references of its repository with it when no other tag
//!   of that repository remains. If references remain, that is all; otherwise the image is
//!   deleted. Without `-f`, removing the only reference of an image a container uses is refused.
//! * By ID (or ID prefix): with references in one repository only (at most one tag plus digests
//!   of that repository), they are all removed; with more, `-f` is needed.
//! * Deleting: running containers block it even with `-f`; stopped ones without `-f`. Then every
//!   remaining reference is untagged, the record deleted (`Deleted: <image id>`) and the layers
//!   nobody else uses removed (`Deleted: <chain id>`, top layer first), then its blobs.
//!
//! Differences from classic Docker, both forced by what a container needs here: a container
//! keeps its image record (the `containers` table has a foreign key to `images`, and starting
//! it reads the image's layers), so `-f` on an image used by a stopped container only removes
//! its references and leaves it dangling — the "soft delete" of Docker's containerd store. And
//! an image mounted with `image mount` cannot be deleted until unmounted. Strata has no
//! legacy-builder parent images, so `--no-prune` (keep untagged parents) changes nothing.

use oci_model::reference::Reference;
use oci_model::{Digest, Error, ErrorKind, Result};
use std::collections::HashSet;
use store::Store;
use store::gc;
use store::metadata::ContainerRecord;

/// One line of `rmi` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveEvent {
    /// A familiar reference that was removed.
    Untagged(String),
    /// An image ID or a layer ChainID (`sha256:…`) that was deleted.
    Deleted(String),
}

impl std::fmt::Display for RemoveEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoveEvent::Untagged(r) => write!(f, "Untagged: {r}"),
            RemoveEvent::Deleted(d) => write!(f, "Deleted: {d}"),
        }
    }
}

/// What a deletion freed, for `image prune`'s total.
#[derive(Debug, Default, Clone)]
pub struct Removal {
    pub events: Vec<RemoveEvent>,
    /// Unpacked bytes of the layers removed.
    pub reclaimed: u64,
}

/// A reference to an image, as stored.
#[derive(Debug, Clone)]
struct Ref {
    /// `repo:tag` or `repo@digest`, canonical (the sort key, like Docker's `lexicalRefs`).
    full: String,
    repo: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Ref {
    fn familiar(&self) -> String {
        Reference::parse_normalized(&self.full)
            .map(|r| r.familiar_string())
            .unwrap_or_else(|_| self.full.clone())
    }
}

fn refs_of(store: &Store, id: &str) -> Result<Vec<Ref>> {
    let db = store.db();
    let mut refs: Vec<Ref> = db
        .tags_for(id)?
        .into_iter()
        .map(|(repo, tag)| Ref {
            full: format!("{repo}:{tag}"),
            repo,
            tag: Some(tag),
            digest: None,
        })
        .chain(db.repo_digests_for(id)?.into_iter().map(|(repo, d)| Ref {
            full: format!("{repo}@{d}"),
            repo,
            tag: None,
            digest: Some(d),
        }))
        .collect();
    refs.sort_by(|a, b| a.full.cmp(&b.full));
    Ok(refs)
}

fn untag(store: &Store, r: &Ref) -> Result<()> {
    match (&r.tag, &r.digest) {
        (Some(tag), _) => store.db().remove_tag(&r.repo, tag)?,
        (None, Some(d)) => store.db().remove_repo_digest(&r.repo, d)?,
        (None, None) => false,
    };
    Ok(())
}

/// Docker's `isSingleReference`: all references in one repository, at most one of them a tag.
fn single_reference(refs: &[Ref]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let mut single: Option<&Ref> = None;
    let mut canonical: HashSet<&str> = HashSet::new();
    for r in refs {
        if r.digest.is_some() {
            canonical.insert(&r.repo);
        } else if single.is_none() {
            single = Some(r);
        } else {
            return false;
        }
    }
    let single = single.unwrap_or(&refs[0]);
    canonical.len() == 1 && canonical.contains(single.repo.as_str())
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `No such image: …` as the daemon words it for `DELETE /images/{name}`: 64 hex digits get
/// `sha256:`, other valid references get the default tag, the rest is shown as given.
pub fn no_such_image(input: &str) -> Error {
    let shown = if input.len() == 64 && is_hex(input) {
        format!("sha256:{input}")
    } else {
        match Reference::parse_normalized(input) {
            Ok(r) => r.with_default_tag().familiar_string(),
            Err(_) => input.to_string(),
        }
    };
    Error::not_found(format!("No such image: {shown}"))
}

fn find(store: &Store, name: &str) -> Result<String> {
    match super::query::lookup::find_image(store.db(), name) {
        Err(e) if e.kind == ErrorKind::NotFound => Err(no_such_image(name)),
        other => other,
    }
}

/// Docker's `isImageIDPrefix`.
fn is_id_prefix(id: &str, name: &str) -> bool {
    id.starts_with(name)
        || id
            .strip_prefix("sha256:")
            .is_some_and(|h| h.starts_with(name))
}

fn conflict(id: &str, hard: bool, message: impl std::fmt::Display) -> Error {
    let how = if hard {
        "cannot be forced"
    } else {
        "must be forced"
    };
    Error::new(
        ErrorKind::Conflict,
        format!(
            "conflict: unable to delete {} ({how}) - {message}",
            short(id)
        ),
    )
}

/// Removes the image or reference `name` (see the module notes). `no_prune` is accepted for
/// Docker compatibility: there are no untagged parent images to prune.
pub fn remove(store: &Store, name: &str, force: bool, no_prune: bool) -> Result<Vec<RemoveEvent>> {
    remove_counting(store, name, force, no_prune).map(|r| r.events)
}

/// [`remove`], also reporting the bytes freed.
pub fn remove_counting(store: &Store, name: &str, force: bool, _no_prune: bool) -> Result<Removal> {
    if name.is_empty() {
        return Err(Error::invalid("image name cannot be blank"));
    }
    let id = find(store, name)?;
    let users = store.db().containers_using_image(&id)?;
    let mut out = Removal::default();
    let mut refs = refs_of(store, &id)?;
    let mut quiet = false;
    // Digest references removed on the way: their blobs (an index) may be freed too.
    let mut dropped: Vec<Digest> = Vec::new();
    if !is_id_prefix(&id, name) {
        // A reference was given: remove it first.
        if !force
            && single_reference(&refs)
            && let Some(c) = users.first()
        {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                    short(&c.id),
                    short(&id)
                ),
            ));
        }
        let parsed = Reference::parse_normalized(name)?;
        let (tag, digest) = match (parsed.digest(), parsed.tag()) {
            (Some(d), _) => (None, Some(d.clone())),
            (None, t) => (Some(t.unwrap_or("latest").to_string()), None),
        };
        let target = Ref {
            full: match (&tag, &digest) {
                (Some(t), _) => format!("{}:{t}", parsed.name()),
                (None, Some(d)) => format!("{}@{d}", parsed.name()),
                (None, None) => parsed.name(),
            },
            repo: parsed.name(),
            tag,
            digest,
        };
        untag(store, &target)?;
        dropped.extend(target.digest.clone());
        out.events.push(RemoveEvent::Untagged(target.familiar()));
        refs = refs_of(store, &id)?;
        // The last tag of a repository takes that repository's digest references along.
        if target.tag.is_some()
            && !refs
                .iter()
                .any(|r| r.tag.is_some() && r.repo == target.repo)
        {
            let (same, others): (Vec<Ref>, Vec<Ref>) = refs
                .into_iter()
                .partition(|r| r.digest.is_some() && r.repo == target.repo);
            for r in &same {
                untag(store, r)?;
                dropped.extend(r.digest.clone());
                out.events.push(RemoveEvent::Untagged(r.familiar()));
            }
            refs = others;
        }
        if !refs.is_empty() {
            return Ok(out);
        }
        quiet = true;
    } else if single_reference(&refs) {
        if let Some(err) = check_conflicts(store, &id, &users, &refs, false, !force)? {
            return Err(err.error);
        }
        for r in &refs {
            untag(store, r)?;
            dropped.extend(r.digest.clone());
            out.events.push(RemoveEvent::Untagged(r.familiar()));
        }
    }
    delete(store, &id, &users, force, quiet, &dropped, &mut out)?;
    Ok(out)
}

struct Conflict {
    error: Error,
    /// A container (or a mount) uses the image.
    used: bool,
}

/// Docker's `checkImageDeleteConflict`: hard conflicts (a running container; here also a
/// mount) always; the soft ones when asked: remaining references (`referenced`), a stopped
/// container (`stopped`).
fn check_conflicts(
    store: &Store,
    id: &str,
    users: &[ContainerRecord],
    refs: &[Ref],
    referenced: bool,
    stopped: bool,
) -> Result<Option<Conflict>> {
    {
        if let Some(c) = users.iter().find(|c| c.state.is_running()) {
            return Ok(Some(Conflict {
                error: conflict(
                    id,
                    true,
                    format_args!("image is being used by running container {}", short(&c.id)),
                ),
                used: true,
            }));
        }
        if let Some(m) = store.db().get_mount(id)? {
            return Ok(Some(Conflict {
                error: conflict(
                    id,
                    true,
                    format_args!("image is mounted at {}", m.path.display()),
                ),
                used: true,
            }));
        }
    }
    if referenced && !refs.is_empty() {
        return Ok(Some(Conflict {
            error: conflict(id, false, "image is referenced in multiple repositories"),
            used: false,
        }));
    }
    if stopped && let Some(c) = users.iter().find(|c| !c.state.is_running()) {
        return Ok(Some(Conflict {
            error: conflict(
                id,
                false,
                format_args!("image is being used by stopped container {}", short(&c.id)),
            ),
            used: true,
        }));
    }
    Ok(None)
}

/// Docker's `imageDeleteHelper`.
fn delete(
    store: &Store,
    id: &str,
    users: &[ContainerRecord],
    force: bool,
    quiet: bool,
    dropped: &[Digest],
    out: &mut Removal,
) -> Result<()> {
    let refs = refs_of(store, id)?;
    if let Some(c) = check_conflicts(store, id, users, &refs, !force, !force)? {
        // After a reference was removed, an image still in use silently stays (dangling).
        if quiet && (!refs.is_empty() || c.used) {
            return Ok(());
        }
        return Err(c.error);
    }
    for r in &refs {
        untag(store, r)?;
        out.events.push(RemoveEvent::Untagged(r.familiar()));
    }
    if !users.is_empty() {
        // Forced, and only stopped containers use it: they keep the (now dangling) image.
        return Ok(());
    }
    let Some(image) = store.db().image(id)? else {
        return Err(no_such_image(id));
    };
    let mut blobs = vec![
        Digest::parse(&image.id)?,
        Digest::parse(&image.manifest_digest)?,
    ];
    blobs.extend(refs.iter().filter_map(|r| r.digest.clone()));
    blobs.extend(dropped.iter().cloned());
    if !store.db().delete_image(id)? {
        return Err(no_such_image(id));
    }
    out.events.push(RemoveEvent::Deleted(id.to_string()));
    for layer in gc::release_image(store, &image.layers, &blobs)? {
        out.reclaimed += layer.size;
        out.events
            .push(RemoveEvent::Deleted(layer.chain_id.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use store::config::Config;
    use store::metadata::{ContainerState, ImageRecord, LayerRecord, WhiteoutForm};

    struct Fixture {
        _tmp: tempfile::TempDir,
        store: Arc<Store>,
    }

    /// An image whose layers hold one file each (`names` = layer contents, bottom first), with
    /// real blobs and layer directories; recorded as `repo:tag` with its manifest as digest.
    fn add_image(
        f: &Fixture,
        seed: &str,
        layers: &[&str],
        repo: &str,
        tag: Option<&str>,
    ) -> (String, Vec<Digest>) {
        let store = &f.store;
        let mut chains = Vec::new();
        let mut parent: Option<Digest> = None;
        for content in layers {
            let blob = format!("blob {content}");
            let blob_digest = Digest::of(blob.as_bytes());
            store
                .content
                .write_blob(&blob_digest, blob.as_bytes())
                .unwrap();
            let diff_id = Digest::of(content.as_bytes());
            let chain_id = match &parent {
                None => diff_id.clone(),
                Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
            };
            if !store.snapshots.exists(&chain_id) {
                let p = store.snapshots.prepare().unwrap();
                std::fs::write(p.path().join("file"), content).unwrap();
                store.snapshots.commit(p, &chain_id).unwrap();
            }
            store
                .db()
                .insert_layer(&LayerRecord {
                    chain_id: chain_id.clone(),
                    diff_id,
                    parent: parent.clone(),
                    blob_digest,
                    media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                    compressed_size: blob.len() as u64,
                    size: content.len() as u64,
                    whiteout_form: WhiteoutForm::Overlay,
                })
                .unwrap();
            parent = Some(chain_id.clone());
            chains.push(chain_id);
        }
        let config = format!("config {seed}");
        let manifest = format!("manifest {seed}");
        let (cd, md) = (
            Digest::of(config.as_bytes()),
            Digest::of(manifest.as_bytes()),
        );
        store.content.write_blob(&cd, config.as_bytes()).unwrap();
        store.content.write_blob(&md, manifest.as_bytes()).unwrap();
        let image = ImageRecord {
            id: cd.to_string(),
            manifest_digest: md.to_string(),
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            config_size: config.len() as u64,
            created: "2023-11-14T22:13:20Z".into(),
            created_unix: 1_700_000_000,
            architecture: "amd64".into(),
            os: "linux".into(),
            size: layers.iter().map(|l| l.len() as u64).sum(),
            added_unix: 1,
            layers: chains.clone(),
            ..Default::default()
        };
        store
            .db()
            .commit_pull(&image, repo, tag, Some(&md))
            .unwrap();
        (image.id, chains)
    }

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(tmp.path(), Config::default()).unwrap());
        Fixture { _tmp: tmp, store }
    }

    fn lines(events: &[RemoveEvent]) -> Vec<String> {
        events.iter().map(|e| e.to_string()).collect()
    }

    fn container(f: &Fixture, image_id: &str, running: bool) -> String {
        let id = Digest::of(format!("ctr {image_id} {running}").as_bytes())
            .hex()
            .to_string();
        f.store
            .db()
            .insert_container(&ContainerRecord {
                id: id.clone(),
                name: format!("c{}", &id[..6]),
                image_id: image_id.to_string(),
                image_ref: "x".into(),
                command: vec!["true".into()],
                created_unix: 1,
                state: if running {
                    ContainerState::Running
                } else {
                    ContainerState::Exited
                },
                // Our own pid: alive, so the record is not corrected to "exited".
                pid: running.then(|| i64::from(std::process::id())),
                exit_code: None,
                started_at: None,
                finished_at: None,
                config: Default::default(),
            })
            .unwrap();
        id
    }

    const R: &str = "127.0.0.1:5000/rmi/four";

    #[test]
    fn untag_then_delete_removes_only_unshared_layers_and_blobs() {
        let f = fixture();
        let (a, a_layers) = add_image(&f, "a", &["base", "a-top"], R, Some("1"));
        let (b, b_layers) = add_image(
            &f,
            "b",
            &["base", "b-top"],
            "127.0.0.1:5000/rmi/other",
            Some("x"),
        );
        assert_eq!(a_layers[0], b_layers[0]);
        f.store.db().add_tag(R, "2", &a).unwrap();

        let ev = remove(&f.store, &format!("{R}:2"), false, false).unwrap();
        assert_eq!(lines(&ev), vec![format!("Untagged: {R}:2")]);

        let img = f.store.db().image(&a).unwrap().unwrap();
        let ev = remove(&f.store, &format!("{R}:1"), false, false).unwrap();
        assert_eq!(
            lines(&ev),
            vec![
                format!("Untagged: {R}:1"),
                format!("Untagged: {R}@{}", img.manifest_digest),
                format!("Deleted: {a}"),
                format!("Deleted: {}", a_layers[1]),
            ]
        );
        // The shared base layer and its blob stay; a's own layer, config and manifest go.
        assert!(f.store.snapshots.exists(&a_layers[0]));
        assert!(!f.store.snapshots.exists(&a_layers[1]));
        assert!(f.store.db().layer(&a_layers[1]).unwrap().is_none());
        assert!(!f.store.content.contains(&Digest::parse(&a).unwrap()));
        assert!(!f.store.content.contains(&Digest::of(b"blob a-top")));
        assert!(f.store.content.contains(&Digest::of(b"blob base")));
        assert!(f.store.content.contains(&Digest::parse(&b).unwrap()));

        // Now b goes by ID with everything.
        let ev = remove(&f.store, &b[7..19], false, false).unwrap();
        assert_eq!(ev.len(), 5, "{ev:?}");
        assert_eq!(ev[2], RemoveEvent::Deleted(b.clone()));
        assert_eq!(ev[3], RemoveEvent::Deleted(b_layers[1].to_string()));
        assert_eq!(ev[4], RemoveEvent::Deleted(b_layers[0].to_string()));
        assert!(!f.store.snapshots.exists(&b_layers[0]));
        let left: Vec<_> = std::fs::read_dir(f.store.root().join("blobs/sha256"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn by_id_with_several_repositories_needs_force() {
        let f = fixture();
        let (a, layers) = add_image(&f, "a", &["l1"], R, Some("1"));
        f.store.db().add_tag(R, "2", &a).unwrap();
        let short_id = &a[7..19];
        let err = remove(&f.store, short_id, false, false).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Conflict);
        assert_eq!(
            err.message,
            format!(
                "conflict: unable to delete {short_id} (must be forced) - image is referenced in multiple repositories"
            )
        );
        f.store
            .db()
            .add_tag("127.0.0.1:5000/rmi/other", "x", &a)
            .unwrap();
        let ev = remove(&f.store, short_id, true, false).unwrap();
        let md = f.store.db().repo_digests_for(&a).unwrap();
        assert!(md.is_empty());
        assert_eq!(
            lines(&ev)[..3],
            [
                format!("Untagged: {R}:1"),
                format!("Untagged: {R}:2"),
                format!("Untagged: {R}@{}", Digest::of(b"manifest a")),
            ]
        );
        assert_eq!(
            lines(&ev)[3..],
            [
                "Untagged: 127.0.0.1:5000/rmi/other:x".to_string(),
                format!("Deleted: {a}"),
                format!("Deleted: {}", layers[0]),
            ]
        );
        // A digest reference alone is removed by itself.
        let (c, _) = add_image(&f, "c", &["l2"], R, Some("1"));
        let md = Digest::of(b"manifest c");
        let ev = remove(&f.store, &format!("{R}@{md}"), false, false).unwrap();
        assert_eq!(lines(&ev), vec![format!("Untagged: {R}@{md}")]);
        assert!(f.store.db().image(&c).unwrap().is_some());
    }

    #[test]
    fn containers_conflict_with_dockers_texts() {
        let f = fixture();
        let (a, layers) = add_image(&f, "a", &["l1"], R, Some("1"));
        let cid = container(&f, &a, false);
        let (s, c) = (&a[7..19], &cid[..12]);
        let err = remove(&f.store, &format!("{R}:1"), false, false).unwrap_err();
        assert_eq!(
            err.message,
            format!(
                "conflict: unable to remove repository reference \"{R}:1\" (must force) - container {c} is using its referenced image {s}"
            )
        );
        let err = remove(&f.store, s, false, false).unwrap_err();
        assert_eq!(
            err.message,
            format!(
                "conflict: unable to delete {s} (must be forced) - image is being used by stopped container {c}"
            )
        );
        // Forced: references go, the image stays for its container (dangling), layers too.
        let ev = remove(&f.store, &format!("{R}:1"), true, false).unwrap();
        assert_eq!(
            lines(&ev),
            vec![
                format!("Untagged: {R}:1"),
                format!("Untagged: {R}@{}", Digest::of(b"manifest a")),
            ]
        );
        assert!(f.store.db().image(&a).unwrap().is_some());
        assert!(f.store.snapshots.exists(&layers[0]));

        let (b, _) = add_image(&f, "b", &["l2"], R, Some("2"));
        let rid = container(&f, &b, true);
        let msg = format!(
            "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
            &b[7..19],
            &rid[..12]
        );
        assert_eq!(
            remove(&f.store, &b[7..19], true, false)
                .unwrap_err()
                .message,
            msg
        );
        // By name with -f: the name goes, the image stays silently.
        let ev = remove(&f.store, &format!("{R}:2"), true, false).unwrap();
        assert_eq!(ev.len(), 2);
        assert!(f.store.db().image(&b).unwrap().is_some());
        assert_eq!(
            remove(&f.store, &b[7..19], true, false)
                .unwrap_err()
                .message,
            msg
        );
    }

    #[test]
    fn missing_images_are_worded_like_the_daemon() {
        let f = fixture();
        let cases = [
            ("nothere", "No such image: nothere:latest"),
            ("0123456789ab", "No such image: 0123456789ab:latest"),
            ("sha256:0123456789ab", "No such image: sha256:0123456789ab"),
        ];
        for (input, want) in cases {
            let err = remove(&f.store, input, true, false).unwrap_err();
            assert_eq!(
                (err.kind, err.message.as_str()),
                (ErrorKind::NotFound, want)
            );
        }
        let hex = "a".repeat(64);
        assert_eq!(
            remove(&f.store, &hex, false, false).unwrap_err().message,
            format!("No such image: sha256:{hex}")
        );
    }

    #[test]
    fn leased_layers_and_blobs_survive_removal() {
        let f = fixture();
        let (a, layers) = add_image(&f, "a", &["l1", "l2"], R, Some("1"));
        let lease = store::leases::Lease::new(
            f.store.clone(),
            "test",
            &[Digest::of(b"blob l2")],
            &[layers[1].clone()],
        )
        .unwrap();
        let ev = remove(&f.store, &a, false, false).unwrap();
        assert_eq!(
            lines(&ev)[2..],
            [format!("Deleted: {a}"), format!("Deleted: {}", layers[0])]
        );
        assert!(f.store.snapshots.exists(&layers[1]));
        assert!(f.store.content.contains(&Digest::of(b"blob l2")));
        assert!(!f.store.content.contains(&Digest::of(b"blob l1")));
        drop(lease);
        let report = gc::collect(&f.store, std::time::Duration::ZERO).unwrap();
        assert_eq!(report.layers.len(), 1);
        assert!(!f.store.snapshots.exists(&layers[1]));
        assert!(!f.store.content.contains(&Digest::of(b"blob l2")));
    }

    #[test]
    fn a_killed_removal_leaves_only_garbage_for_the_next_gc() {
        let f = fixture();
        let (_a, layers) = add_image(&f, "a", &["l1"], R, Some("1"));
        // Killed after the image and layer rows went, before the directory and blob did.
        f.store.db().delete_image(&_a).unwrap();
        f.store
            .db()
            .remove_layer_if_unused(&layers[0])
            .unwrap()
            .unwrap();
        assert!(f.store.snapshots.exists(&layers[0]));
        // Young orphans are left alone (a writer may be about to record them)...
        let r = gc::collect(&f.store, std::time::Duration::from_secs(3600)).unwrap();
        assert_eq!((r.orphan_layer_dirs, r.blobs.len()), (0, 0));
        // ...old ones are swept.
        let r = gc::collect(&f.store, std::time::Duration::ZERO).unwrap();
        assert_eq!((r.orphan_layer_dirs, r.blobs.len()), (1, 3));
        assert!(!f.store.snapshots.exists(&layers[0]));
    }
}
