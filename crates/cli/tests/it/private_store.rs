//! The store is private: no local user other than its owner can reach image content, so a
//! setuid-root binary or a device node that an image ships gives them nothing (moby
//! CVE-2021-41091), and image views are mounted `nosuid,nodev` on top.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use test_support::{Comp, Entry, LayerSpec, Registry, busybox_image};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { geteuid() == 0 }
}

unsafe extern "C" {
    fn geteuid() -> u32;
}

/// Runs `cmd` as `nobody` (uid/gid 65534, no supplementary groups); its output, both streams.
fn as_nobody(args: &[&str]) -> (bool, String) {
    // Through `sh`: setpriv itself may still hold root's capabilities while it execs.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(["sh", "-c", "exec \"$@\"", "sh"])
        .args(args)
        .output()
        .expect("setpriv");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Every directory of the store's own structure, with its mode. The roots of image content
/// (a layer's `diff/`, a container's `upper/`, mounted views) are not entered: their modes are
/// the image's.
fn structure_dirs(root: &Path) -> Vec<(PathBuf, u32)> {
    let content = |p: &Path| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let parent = p
            .parent()
            .and_then(|d| d.parent())
            .and_then(|d| d.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or("");
        matches!(
            (parent, name),
            ("layers" | "tmp", "diff") | ("containers", "upper" | "rootfs") | ("mounts", "merged")
        )
    };
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let meta = std::fs::symlink_metadata(&dir).unwrap();
        out.push((dir.clone(), meta.permissions().mode() & 0o7777));
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            if entry.file_type().unwrap().is_dir() && !content(&p) {
                todo.push(p);
            }
        }
    }
    out
}

fn assert_private(env: &Env, after: &str) {
    let dirs = structure_dirs(&env.root());
    assert!(dirs.len() > 5, "{dirs:?}");
    let open: Vec<_> = dirs.iter().filter(|(_, m)| m & 0o077 != 0).collect();
    assert!(
        open.is_empty(),
        "after {after}: store directories readable by others: {open:#?}"
    );
    let (_, root_mode) = &dirs[0];
    assert_eq!(*root_mode, 0o700, "after {after}: the store root");
}

/// `strata ARGS` with umask 000, so nothing relies on the caller's umask.
fn ok_umask0(env: &Env, args: &[&str]) -> String {
    let cmd = env.cmd();
    let prog = cmd.get_program().to_owned();
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("umask 000; exec \"$@\"")
        .arg("sh")
        .arg(prog)
        .args(args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    let out = sh.output().unwrap();
    assert!(
        out.status.success(),
        "strata {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_setuid_binary_in_a_pulled_image_gives_no_local_user_root() {
    if !is_root() {
        eprintln!("skipping: needs root (setuid files and mounts)");
        return;
    }
    let Some(mut spec) = busybox_image() else {
        eprintln!("skipping: /bin/busybox is missing");
        return;
    };
    let id = std::fs::read("/usr/bin/id").expect("/usr/bin/id");
    spec.layers.push(LayerSpec::new(
        Comp::Gzip,
        vec![
            Entry::exec("bin/id-suid", id).owner(0, 0).mode(0o4755),
            Entry::dir("dev"),
            Entry::char_dev("dev/mem-copy", 1, 1).mode(0o666),
        ],
    ));
    let reg = Registry::start().unwrap();
    publish(&reg, &spec, "lab/suid:1");
    let image = format!("{}/lab/suid:1", reg.addr);
    let env = Env::new();
    // Only the store's own modes stand between `nobody` and the content: open the test's
    // temp dir (tempfile makes it 0700).
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    ok_umask0(&env, &["pull", "-q", &image]);
    assert_private(&env, "pull");

    // The helper really is setuid root in the store: as root it shows euid 0 even for nobody's
    // real uid; nobody cannot reach it at all.
    let layer = env
        .layer_dirs()
        .into_iter()
        .map(|hex| env.root().join("layers").join(hex).join("diff"))
        .find(|d| d.join("bin/id-suid").exists())
        .expect("the helper's layer");
    let helper = layer.join("bin/id-suid");
    let meta = std::fs::metadata(&helper).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o4755);
    let (ran, text) = as_nobody(&[helper.to_str().unwrap(), "-u"]);
    assert!(!ran, "nobody ran the setuid helper from the store: {text}");
    assert!(text.contains("Permission denied"), "{text}");
    let dev = layer.join("dev/mem-copy");
    let (ran, text) = as_nobody(&["head", "-c1", dev.to_str().unwrap()]);
    assert!(!ran, "nobody opened a device node from the store: {text}");

    // Image views: nosuid,nodev — even with every directory on the way opened up, the helper
    // runs with nobody's uid.
    let mounted = Mounted::new(&env, &image);
    assert_private(&env, "image mount");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(mounted.path.to_str().unwrap()))
        .unwrap_or_else(|| panic!("{} is not a mount point", mounted.path.display()));
    let opts: Vec<&str> = line.split(' ').nth(5).unwrap().split(',').collect();
    for o in ["ro", "nosuid", "nodev"] {
        assert!(opts.contains(&o), "view mount options {opts:?} lack {o}");
    }
    let mut opened = vec![];
    let mut p = mounted.path.parent().unwrap();
    while p.starts_with(env.root()) {
        opened.push(p.to_path_buf());
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p = p.parent().unwrap();
    }
    let view_helper = mounted.path.join("bin/id-suid");
    let (ran, text) = as_nobody(&[view_helper.to_str().unwrap(), "-u"]);
    assert!(ran, "{text}");
    assert_eq!(text.trim(), "65534", "the view honoured the setuid bit");
    let (ran, text) = as_nobody(&[
        "head",
        "-c1",
        mounted.path.join("dev/mem-copy").to_str().unwrap(),
    ]);
    assert!(!ran && text.contains("Permission denied"), "nodev: {text}");
    drop(mounted);
    // The next strata run narrows what was opened.
    env.ok(&["images", "-q"]);
    assert_private(&env, "reopening an opened-up store");
    for p in opened.iter().filter(|p| p.exists()) {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} stayed {mode:o}", p.display());
    }

    // Containers, commit, export and import keep the store private too.
    if which("runc") {
        ok_umask0(
            &env,
            &["run", "--name", "c1", &image, "sh", "-c", "echo x > /f"],
        );
        assert_private(&env, "run");
        ok_umask0(&env, &["commit", "c1", "lab/committed:1"]);
        assert_private(&env, "commit");
        let tar = env.dir.path().join("c1.tar");
        ok_umask0(&env, &["export", "-o", tar.to_str().unwrap(), "c1"]);
        ok_umask0(&env, &["import", tar.to_str().unwrap(), "lab/imported:1"]);
        assert_private(&env, "import");
        // The container's `/` keeps the image's mode (the overlay shows `upper/`'s).
        let out = ok_umask0(&env, &["run", "--rm", &image, "stat", "-c", "%a", "/"]);
        assert_eq!(out.trim(), "755");
        env.ok(&["rm", "c1"]);
    } else {
        eprintln!("runc is not on PATH: run/commit/import part skipped");
    }
}

fn which(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}
