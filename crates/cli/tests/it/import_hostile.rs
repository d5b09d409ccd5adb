//! `import` of streams that never end or are cut off: it stops at the end of the archive, and a
//! killed import leaves no spool file behind once strata runs again (or at once on SIGTERM).

use crate::common::*;
use std::io::Write;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn spool_files(env: &Env) -> Vec<String> {
    std::fs::read_dir(env.root().join("tmp"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `strata import - REPO` fed a tar header promising 64 MiB and 1 MiB of it, stdin kept open;
/// returns once the spool file exists.
fn stalled_import(env: &Env, repo: &str) -> (Child, std::process::ChildStdin) {
    let mut child = env
        .cmd()
        .args(["import", "-", repo])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_path("big").unwrap();
    h.set_size(64 << 20);
    h.set_mode(0o644);
    h.set_cksum();
    stdin.write_all(h.as_bytes()).unwrap();
    stdin.write_all(&vec![7u8; 1 << 20]).unwrap();
    stdin.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while spool_files(env).is_empty() {
        assert!(Instant::now() < deadline, "no spool file appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, stdin)
}

fn signal(child: &Child, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, sig).unwrap();
}

#[test]
fn an_endless_stream_is_an_empty_archive_not_a_hang() {
    let env = Env::new();
    let mut child = env
        .cmd()
        .args(["import", "/dev/zero", "imp/zero:1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("import /dev/zero did not stop at the end of the archive");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert!(status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = env.inspect("imp/zero:1");
    assert_eq!(v["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(v["Size"], 0);
    assert!(spool_files(&env).is_empty());
}

#[test]
fn sigterm_and_sigint_take_the_spool_file_away() {
    for (sig, code) in [
        (rustix::process::Signal::TERM, 143),
        (rustix::process::Signal::INT, 130),
    ] {
        let env = Env::new();
        let (child, stdin) = stalled_import(&env, "imp/cut:1");
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        assert_eq!(out.status.code(), Some(code), "{sig:?}");
        assert!(
            spool_files(&env).is_empty(),
            "{sig:?}: {:?}",
            spool_files(&env)
        );
        assert_eq!(env.ok(&["images", "-q"]), "");
    }
}

#[test]
fn a_killed_import_is_swept_by_the_next_one() {
    let env = Env::new();
    let (child, stdin) = stalled_import(&env, "imp/killed:1");
    signal(&child, rustix::process::Signal::KILL);
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(out.status.code(), None);
    assert_eq!(spool_files(&env).len(), 1, "the killed import's spool file");
    let file = env.dir.path().join("small.tar");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, "f", &b"hi"[..]).unwrap();
    std::fs::write(&file, b.into_inner().unwrap()).unwrap();
    env.ok(&["import", file.to_str().unwrap(), "imp/small:1"]);
    assert!(spool_files(&env).is_empty(), "{:?}", spool_files(&env));
}
