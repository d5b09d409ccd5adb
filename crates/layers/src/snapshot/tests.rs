use super::*;
use rustix::fs::{FileType, XattrFlags};

fn digest(s: &str) -> Digest {
    Digest::of(s.as_bytes())
}

/// Root-only tests skip (with a printed reason) elsewhere.
fn is_root() -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        eprintln!("skipping: mounting needs root");
    }
    root
}

fn write(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn whiteout(path: &Path) {
    rustix::fs::mknodat(
        CWD,
        path,
        FileType::CharacterDevice,
        Mode::empty(),
        rustix::fs::makedev(0, 0),
    )
    .unwrap();
}

fn opaque(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    rustix::fs::setxattr(dir, "trusted.overlay.opaque", b"y", XattrFlags::empty()).unwrap();
}

/// Commits a layer built by `build` under `chain_id`.
fn layer(snaps: &Snapshots, chain_id: &Digest, build: impl FnOnce(&Path)) {
    let p = snaps.prepare().unwrap();
    build(p.path());
    snaps.commit(p, chain_id).unwrap();
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

fn tmp_entries(snaps: &Snapshots) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(snaps.tmp())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Commits the two-layer image (`bottom`, then `top` with whiteouts and an opaque directory in
/// overlay form or in AUFS `.wh.` form) that [`assert_union`] checks.
fn two_layers(snaps: &Snapshots, overlay_form: bool) -> (Digest, Digest) {
    let (bottom, top) = (digest("bottom"), digest("top"));
    layer(snaps, &bottom, |d| {
        write(&d.join("etc/os-release"), "bottom");
        write(&d.join("keep/file"), "kept");
        write(&d.join("gone/file"), "gone");
        write(&d.join("removed.txt"), "removed");
        write(&d.join("opq/old"), "old");
    });
    layer(snaps, &top, |d| {
        write(&d.join("etc/os-release"), "top");
        if overlay_form {
            whiteout(&d.join("removed.txt"));
            whiteout(&d.join("gone"));
            opaque(&d.join("opq"));
        } else {
            write(&d.join(".wh.removed.txt"), "");
            write(&d.join(".wh.gone"), "");
            write(&d.join("opq/.wh..wh..opq"), "");
        }
        write(&d.join("opq/new"), "new");
    });
    (bottom, top)
}

/// The view `m` of [`two_layers`] shows their union.
fn assert_union(m: &Path) {
    assert_eq!(read(&m.join("etc/os-release")), "top", "later layer wins");
    assert_eq!(read(&m.join("keep/file")), "kept");
    assert!(!m.join("removed.txt").exists(), "whiteout hides a file");
    assert!(!m.join("gone").exists(), "whiteout hides a directory");
    assert_eq!(read(&m.join("opq/new")), "new");
    assert!(
        !m.join("opq/old").exists(),
        "opaque dir hides lower contents"
    );
}

#[test]
fn prepare_commit_remove() {
    let tmp = tempfile::tempdir().unwrap();
    let snaps = Snapshots::open(tmp.path()).unwrap();
    let id = digest("layer");

    let p = snaps.prepare().unwrap();
    write(&p.path().join("etc/hostname"), "box");
    assert!(!snaps.exists(&id));
    assert_eq!(tmp_entries(&snaps).len(), 2, "dir + lock while preparing");
    snaps.commit(p, &id).unwrap();
    assert!(snaps.exists(&id));
    assert_eq!(read(&snaps.layer_dir(&id).join("etc/hostname")), "box");
    assert!(tmp_entries(&snaps).is_empty());

    // A second commit of the same chain id (another process won the race) is a success
    // and keeps the first one's files.
    let p = snaps.prepare().unwrap();
    write(&p.path().join("etc/hostname"), "other");
    snaps.commit(p, &id).unwrap();
    assert_eq!(read(&snaps.layer_dir(&id).join("etc/hostname")), "box");
    assert!(tmp_entries(&snaps).is_empty());

    // Dropping an uncommitted preparation removes it.
    let p = snaps.prepare().unwrap();
    write(&p.path().join("x"), "x");
    drop(p);
    assert!(tmp_entries(&snaps).is_empty());

    snaps.remove(&id).unwrap();
    assert!(!snaps.exists(&id));
    assert!(!tmp.path().join("layers").join(id.hex()).exists());
    snaps.remove(&id).unwrap();
    assert!(tmp_entries(&snaps).is_empty());
}

#[test]
fn cleanup_tmp_keeps_live_preparations() {
    let tmp = tempfile::tempdir().unwrap();
    let snaps = Snapshots::open(tmp.path()).unwrap();
    let live = snaps.prepare().unwrap();
    write(&live.path().join("f"), "live");

    // A killed process: its lock file exists but nobody holds it.
    write(&snaps.tmp().join("dead-1/diff/f"), "dead");
    fs::write(snaps.tmp().join("dead-1.lock"), "").unwrap();
    // A killed removal or preparation with no lock file at all.
    write(&snaps.tmp().join("dead-2/diff/f"), "dead");

    snaps.cleanup_tmp().unwrap();
    let left = tmp_entries(&snaps);
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(read(&live.path().join("f")), "live");
    let id = digest("live");
    snaps.commit(live, &id).unwrap();
    assert!(snaps.exists(&id));
    assert!(tmp_entries(&snaps).is_empty());
}

#[test]
fn driver_names_and_detection() {
    assert_eq!(Driver::parse("overlay"), Some(Driver::Overlay));
    assert_eq!(Driver::parse("copy\n"), Some(Driver::Copy));
    assert_eq!(Driver::parse("zfs"), None);
    if std::env::var_os(SNAPSHOTTER_ENV).is_some() {
        eprintln!("skipping detection: {SNAPSHOTTER_ENV} is set");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let detected = Driver::detect(tmp.path());
    assert_eq!(read(&tmp.path().join("driver")), detected.name());
    if is_root() {
        assert_eq!(detected, Driver::Overlay);
    }
    // The cached answer wins over probing.
    fs::write(tmp.path().join("driver"), "copy").unwrap();
    assert_eq!(Driver::detect(tmp.path()), Driver::Copy);
    // No probe leftovers.
    let names: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("driver")]);
}

#[test]
fn overlay_view_applies_whiteouts_and_opaque_dirs() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let snaps = Snapshots::open(tmp.path()).unwrap();
    let (bottom, top) = two_layers(&snaps, true);

    let view = snaps
        .mount("img", &[bottom.clone(), top.clone()], Driver::Overlay)
        .unwrap();
    assert_eq!(view.driver, Driver::Overlay);
    assert_eq!(view.path, tmp.path().join("mounts/img/merged"));
    assert!(snaps.is_mounted("img").unwrap());
    let m = &view.path;
    assert_union(m);
    // Read-only.
    let err = fs::write(m.join("new-file"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));
    // The same name cannot be mounted twice.
    assert_eq!(
        snaps
            .mount("img", std::slice::from_ref(&bottom), Driver::Overlay)
            .unwrap_err()
            .kind,
        ErrorKind::AlreadyExists
    );

    // Busy view: lazily detached.
    let busy = File::open(m.join("keep/file")).unwrap();
    snaps.unmount_view("img").unwrap();
    drop(busy);
    assert!(!tmp.path().join("mounts/img").exists());
    // The layers are untouched.
    assert_eq!(
        read(&snaps.layer_dir(&bottom).join("removed.txt")),
        "removed"
    );
    snaps.unmount_view("img").unwrap();
}

#[test]
fn single_layer_view_is_a_read_only_bind_mount() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let snaps = Snapshots::open(tmp.path()).unwrap();
    let id = digest("only");
    layer(&snaps, &id, |d| write(&d.join("bin/sh"), "#!"));
    let path = snaps
        .mount_view("one", std::slice::from_ref(&id), Driver::Overlay)
        .unwrap();
    assert!(snaps.is_mounted("one").unwrap());
    assert_eq!(read(&path.join("bin/sh")), "#!");
    assert_eq!(
        fs::write(path.join("bin/sh"), "x")
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EROFS)
    );
    snaps.unmount_view("one").unwrap();
    assert_eq!(read(&snaps.layer_dir(&id).join("bin/sh")), "#!");
}

#[test]
fn forty_layers_under_a_long_root_mount() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("a".repeat(200)).join("b".repeat(200));
    let snaps = Snapshots::open(&root).unwrap();
    let ids: Vec<Digest> = (0..40).map(|i| digest(&format!("layer {i}"))).collect();
    for (i, id) in ids.iter().enumerate() {
        layer(&snaps, id, |d| {
            write(&d.join(format!("layer-{i}")), &i.to_string());
            write(&d.join("common"), &i.to_string());
        });
    }
    // Absolute paths alone would not fit in one page.
    let absolute: usize = ids
        .iter()
        .map(|id| snaps.layer_dir(id).as_os_str().len() + 1)
        .sum();
    assert!(absolute > MAX_MOUNT_DATA, "{absolute}");

    let view = snaps.mount("many", &ids, Driver::Overlay).unwrap();
    assert_eq!(view.driver, Driver::Overlay);
    for i in 0..40 {
        assert_eq!(read(&view.path.join(format!("layer-{i}"))), i.to_string());
    }
    assert_eq!(read(&view.path.join("common")), "39");
    snaps.unmount_view("many").unwrap();
}

#[test]
fn views_reject_bad_names_and_missing_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let snaps = Snapshots::open(tmp.path()).unwrap();
    for bad in ["", "..", "a/b"] {
        assert_eq!(
            snaps.mount(bad, &[], Driver::Copy).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
    }
    let err = snaps
        .mount("x", &[digest("missing")], Driver::Overlay)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(!tmp.path().join("mounts/x").exists());
}

/// The same two-layer image in the given whiteout form, checked through a view.
fn check_union_semantics(driver: Driver, overlay_form: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let snaps = Snapshots::open(tmp.path()).unwrap();
    let (bottom, top) = two_layers(&snaps, overlay_form);
    let view = snaps.mount("img", &[bottom.clone(), top], driver).unwrap();
    assert_eq!(view.driver, driver);
    let m = &view.path;
    assert_union(m);
    assert!(
        !m.join(".wh.removed.txt").exists() && !m.join("opq/.wh..wh..opq").exists(),
        "no markers leak"
    );
    // Both drivers give a mount: overlay, or a read-only bind of the copy onto itself (as root).
    assert!(snaps.is_mounted("img").unwrap());
    snaps.unmount_view("img").unwrap();
    assert!(!tmp.path().join("mounts/img").exists());
    assert_eq!(
        read(&snaps.layer_dir(&bottom).join("removed.txt")),
        "removed",
        "layers untouched"
    );
}

#[test]
fn copy_view_applies_overlay_form_layers() {
    if is_root() {
        check_union_semantics(Driver::Copy, true);
    }
}

#[test]
fn copy_view_applies_aufs_form_layers() {
    check_union_semantics(Driver::Copy, false);
}

#[test]
fn overlay_view_conformance() {
    if is_root() {
        check_union_semantics(Driver::Overlay, true);
    }
}

#[test]
fn empty_view_is_an_empty_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let snaps = Snapshots::open(tmp.path()).unwrap();
    let view = snaps.mount("scratch", &[], Driver::Copy).unwrap();
    assert_eq!(fs::read_dir(&view.path).unwrap().count(), 0);
    snaps.unmount_view("scratch").unwrap();
    assert!(!view.path.exists());
}
