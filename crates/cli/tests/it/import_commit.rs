//! `import`, `export`, `commit` against Docker's behaviour (texts checked against the docker 28
//! CLI with a 20.10 daemon: `Downloading from <url>`, `Imported from -`, the CLI's own errors
//! without the `Error: ` prefix).

use crate::common::{Env, Mounted, run_fed};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A GNU header owned by root with a fixed mtime (the entry type left to the caller).
fn root_header(size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h
}

fn rootfs_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = root_header(data.len() as u64, 0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gzip = std::process::Command::new("gzip");
    gzip.arg("-c");
    run_fed(gzip, data).stdout
}

fn image_id(stdout: &str) -> String {
    let id = stdout.lines().last().unwrap_or_default().to_string();
    assert!(
        id.starts_with("sha256:") && id.len() == 71,
        "not an image ID: {stdout:?}"
    );
    id
}

/// Serves `body` once per connection at any path on a loopback port, until dropped.
struct OneFileServer {
    url: String,
}

impl OneFileServer {
    fn start(body: Vec<u8>) -> OneFileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/rootfs.tar.gz", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
            }
        });
        OneFileServer { url }
    }
}

fn history_comments(env: &Env, image: &str) -> Vec<String> {
    env.ok(&["history", "--format", "{{.Comment}}", image])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn import_from_file_stdin_and_url() {
    let env = Env::new();
    let plain = rootfs_tar(&[("etc/hello", b"hello\n"), ("bin/tool", b"#!/bin/sh\n")]);
    let file = env.dir.path().join("rootfs.tar");
    std::fs::write(&file, &plain).unwrap();

    // A file: the docker CLI streams it, so the daemon calls the source `-`.
    let out = env.ok(&["import", file.to_str().unwrap(), "imp/file:1"]);
    let from_file = image_id(&out);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert_eq!(history_comments(&env, "imp/file:1"), ["Imported from -"]);
    let inspect = env.inspect("imp/file:1");
    assert_eq!(inspect["Id"], from_file.as_str());
    assert_eq!(inspect["Comment"], "Imported from -");
    assert_eq!(
        inspect["Architecture"],
        std::env::consts::ARCH
            .replace("x86_64", "amd64")
            .replace("aarch64", "arm64")
    );
    let layers = inspect["RootFS"]["Layers"].clone();
    assert_eq!(
        layers,
        serde_json::json!([oci_model::Digest::of(&plain).to_string()])
    );
    {
        let m = Mounted::new(&env, "imp/file:1");
        assert_eq!(std::fs::read(m.path.join("etc/hello")).unwrap(), b"hello\n");
    }

    // stdin, gzip-compressed: the same layer (DiffID of the plain tar).
    let out = env.run_with_stdin(&["image", "import", "-", "imp/stdin"], &gzip(&plain));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    image_id(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(env.inspect("imp/stdin:latest")["RootFS"]["Layers"], layers);

    // A loopback URL: announced like Docker, named in the comment.
    let server = OneFileServer::start(gzip(&plain));
    let out = env.ok(&["import", "-m", "", &server.url, "imp/url:1"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(format!("Downloading from {}", server.url).as_str())
    );
    image_id(lines.next().unwrap());
    assert_eq!(
        history_comments(&env, "imp/url:1"),
        [format!("Imported from {}", server.url)]
    );
    assert_eq!(env.inspect("imp/url:1")["RootFS"]["Layers"], layers);
    env.assert_blobs_valid();
}

#[test]
fn import_changes_message_and_platform_in_inspect() {
    let env = Env::new();
    let file = env.dir.path().join("rootfs.tar");
    std::fs::write(&file, rootfs_tar(&[("a", b"a")])).unwrap();
    env.ok(&[
        "import",
        "-c",
        r#"CMD ["/bin/sh","-c","echo hi"]"#,
        "-c",
        "ENV A=1 B=2",
        "-c",
        "WORKDIR /w",
        "-c",
        "EXPOSE 80/tcp 90",
        "-c",
        "LABEL x=y",
        "-c",
        "USER nobody",
        "-c",
        "VOLUME /data",
        "-c",
        "ENTRYPOINT echo",
        "-c",
        "STOPSIGNAL SIGINT",
        "-m",
        "my msg",
        "--platform",
        "linux/arm64",
        file.to_str().unwrap(),
        "imp/changes:v1",
    ]);
    let i = env.inspect("imp/changes:v1");
    // The values dockerd gave for the same changes.
    let c = &i["Config"];
    assert_eq!(c["User"], "nobody");
    assert_eq!(
        c["ExposedPorts"],
        serde_json::json!({"80/tcp": {}, "90/tcp": {}})
    );
    assert_eq!(c["Env"], serde_json::json!(["A=1", "B=2"]));
    assert_eq!(c["Cmd"], serde_json::json!(["/bin/sh", "-c", "echo hi"]));
    assert_eq!(
        c["Entrypoint"],
        serde_json::json!(["/bin/sh", "-c", "echo"])
    );
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["WorkingDir"], "/w");
    assert_eq!(c["Labels"], serde_json::json!({"x": "y"}));
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(i["Comment"], "my msg");
    assert_eq!(i["Architecture"], "arm64");
    assert_eq!(history_comments(&env, "imp/changes:v1"), ["my msg"]);
    // `images --filter label=` sees the label.
    assert_eq!(
        env.ok(&[
            "images",
            "--filter",
            "label=x=y",
            "--format",
            "{{.Repository}}"
        ]),
        "imp/changes\n"
    );
}

/// The cases of `golden/record-import.sh`, run in a directory holding `a.tar`.
const ERROR_CASES: &[&[&str]] = &[
    &["import", "bogus.tar"],
    &["import", "a.tar", "BAD NAME"],
    &[
        "import",
        "a.tar",
        "imp/x@sha256:da580beb33f0da60884aac52901fa865e4cb9acfc18bb06e7c4e1a2871f2f3b6",
    ],
    &["import", "-c", "FOO bar", "a.tar"],
    &["import", "-c", "RUN true", "a.tar"],
    &["import", "-c", "ENV", "a.tar"],
    &["import", "-c", "ENV A", "a.tar"],
    &["import", "-c", "EXPOSE abc", "a.tar"],
    &["import", "-c", "LABEL =x", "a.tar"],
    &["export", "imp-no-such-container"],
    &["export", "-o", "nodir/out.tar", "imp-no-such-container"],
    &["export", "-o", "a.tar/out.tar", "imp-no-such-container"],
    &["export", "-o", "dir", "imp-no-such-container"],
    &["container", "export", "imp-no-such-container"],
    &["commit", "imp-no-such-container"],
    &["container", "commit", "imp-no-such-container", "imp/x:1"],
];

#[test]
fn errors_match_the_docker_goldens() {
    let env = Env::new();
    let work = env.dir.path().join("work");
    std::fs::create_dir_all(work.join("dir")).unwrap();
    std::fs::write(work.join("a.tar"), rootfs_tar(&[("etc/hi", b"hello\n")])).unwrap();
    let mut got = String::new();
    for args in ERROR_CASES {
        let out = env.cmd().current_dir(&work).args(*args).output().unwrap();
        got.push_str(&format!("$ {}\n", args.join(" ")));
        got.push_str(&String::from_utf8_lossy(&out.stdout));
        got.push_str(&String::from_utf8_lossy(&out.stderr));
        got.push_str(&format!("exit {}\n", out.status.code().unwrap_or(-1)));
    }
    let want = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/golden/import-errors.txt"),
    )
    .unwrap();
    assert_eq!(got, want);
    // Nothing was recorded.
    assert_eq!(env.ok(&["images", "-aq"]), "");
}

/// A busybox root filesystem (the host's static busybox), imported as `repo`.
fn import_busybox(env: &Env, repo: &str) -> Option<String> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())?;
    let mut b = tar::Builder::new(Vec::new());
    b.append_path_with_name(busybox, "bin/busybox").unwrap();
    for (name, data) in [("etc/keep", &b"keep\n"[..]), ("etc/gone", b"gone\n")] {
        let mut h = root_header(data.len() as u64, 0o644);
        b.append_data(&mut h, name, data).unwrap();
    }
    for app in ["sh", "cat", "rm", "echo", "ls"] {
        let mut h = root_header(0, 0o777);
        h.set_entry_type(tar::EntryType::Symlink);
        b.append_link(&mut h, format!("bin/{app}"), "busybox")
            .unwrap();
    }
    let file = env.dir.path().join("busybox.tar");
    std::fs::write(&file, b.into_inner().unwrap()).unwrap();
    let out = env.ok(&[
        "import",
        "-c",
        r#"CMD ["sh"]"#,
        "-c",
        "ENV PATH=/bin",
        file.to_str().unwrap(),
        repo,
    ]);
    Some(image_id(&out))
}

/// Creates a container of `image` through the library (no process runs) and makes the changes
/// a process in it would have made, in the upper directory in overlay form: a new file and a
/// deleted one (a 0/0 character device).
fn container_with_changes(env: &Env, image: &str) -> String {
    use engine::containers::create::{CreateOptions, create};
    let store = store::Store::open(&env.root(), Default::default()).unwrap();
    let id = engine::images::query::lookup::find_image(store.db(), image).unwrap();
    let c = create(
        &store,
        &id,
        &CreateOptions {
            image_ref: image.into(),
            name: Some("imp-changed".into()),
            args: vec![
                "sh".into(),
                "-c".into(),
                "echo new > /etc/new; rm /etc/gone".into(),
            ],
            ..Default::default()
        },
    )
    .unwrap();
    let upper = runtime::upper_dir(store.root(), &c.id);
    std::fs::create_dir_all(upper.join("etc")).unwrap();
    std::fs::write(upper.join("etc/new"), b"new\n").unwrap();
    let gone = std::ffi::CString::new(upper.join("etc/gone").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; a 0/0 character device is overlayfs' whiteout.
    assert_eq!(unsafe { libc::mknod(gone.as_ptr(), libc::S_IFCHR, 0) }, 0);
    c.id
}

#[test]
fn commit_and_export_a_container_then_import_it_back() {
    if !is_root() {
        eprintln!("skipped: containers' overlay upper directories need root");
        return;
    }
    let env = Env::new();
    let Some(base) = import_busybox(&env, "imp/busybox:1") else {
        eprintln!("skipped: no busybox binary on this machine");
        return;
    };
    let cid = container_with_changes(&env, "imp/busybox:1");

    // commit: a new layer over the image's, Docker's history row, tagged.
    let out = env.ok(&[
        "commit",
        "-a",
        "me",
        "-m",
        "msg",
        "-c",
        "ENV Y=2",
        "imp-changed",
        "imp/committed:1",
    ]);
    let committed = image_id(&out);
    assert_ne!(committed, base);
    let i = env.inspect("imp/committed:1");
    assert_eq!(i["Id"], committed.as_str());
    assert_eq!(i["Author"], "me");
    assert_eq!(i["Comment"], "msg");
    assert_eq!(i["Config"]["Env"], serde_json::json!(["Y=2", "PATH=/bin"]));
    assert_eq!(i["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    let rows = env.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        "imp/committed:1",
    ]);
    assert_eq!(
        rows,
        "sh -c echo new > /etc/new; rm /etc/gone|msg\n|Imported from -\n"
    );
    {
        let m = Mounted::new(&env, "imp/committed:1");
        assert_eq!(std::fs::read(m.path.join("etc/new")).unwrap(), b"new\n");
        assert_eq!(std::fs::read(m.path.join("etc/keep")).unwrap(), b"keep\n");
        assert!(!m.path.join("etc/gone").exists());
    }
    // The container ID prefix finds it too (`container commit`), and no name means dangling.
    let out = env.ok(&["container", "commit", &cid[..12]]);
    let anonymous = image_id(&out);
    assert_eq!(env.inspect(&anonymous)["RepoTags"], serde_json::json!([]));

    // export: the flattened root filesystem, to a file and to a pipe.
    let exported = env.dir.path().join("exported.tar");
    env.ok(&["export", "-o", exported.to_str().unwrap(), "imp-changed"]);
    let bytes = std::fs::read(&exported).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&exported).unwrap().permissions().mode() & 0o777,
        0o600,
        "written as docker's CLI writes it"
    );
    let mut names = Vec::new();
    for e in tar::Archive::new(bytes.as_slice()).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().to_string_lossy().into_owned());
    }
    assert!(names.contains(&"etc/new".to_string()), "{names:?}");
    assert!(names.contains(&"bin/busybox".to_string()), "{names:?}");
    assert!(!names.contains(&"etc/gone".to_string()), "{names:?}");
    let piped = env
        .cmd()
        .args(["container", "export", &cid])
        .output()
        .unwrap();
    assert!(piped.status.success());
    assert_eq!(piped.stdout, bytes, "export is deterministic");

    // export | import round-trip: the same files, one layer.
    let out = env.run_with_stdin(&["import", "-", "imp/roundtrip"], &piped.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let i = env.inspect("imp/roundtrip");
    assert_eq!(i["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    {
        let m = Mounted::new(&env, "imp/roundtrip");
        assert_eq!(std::fs::read(m.path.join("etc/new")).unwrap(), b"new\n");
        assert!(!m.path.join("etc/gone").exists());
        assert!(m.path.join("bin/busybox").is_file());
        assert_eq!(
            std::fs::read_link(m.path.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
    }
    env.assert_blobs_valid();
}

#[test]
fn export_refuses_a_terminal() {
    let env = Env::new();
    // A pseudo-terminal as stdout, as an interactive shell would give.
    let out = env.run_on_tty("export whatever");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).replace('\r', ""),
        "cowardly refusing to save to a terminal. Use the -o flag or redirect\n"
    );
}

fn runc_on_path() -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("runc").is_file()))
        .unwrap_or(false)
}

#[test]
fn run_commit_run_and_export_import_with_real_containers() {
    if !is_root() || !runc_on_path() {
        eprintln!("skipped: running containers needs root and runc");
        return;
    }
    let env = Env::new();
    if import_busybox(&env, "imp/bb:1").is_none() {
        eprintln!("skipped: no busybox binary on this machine");
        return;
    }
    // A container writes a file and deletes one of the image's.
    env.ok(&[
        "run",
        "--name",
        "writer",
        "imp/bb:1",
        "sh",
        "-c",
        "echo new > /etc/new; rm /etc/gone",
    ]);
    let out = env.ok(&["commit", "-m", "from writer", "writer", "imp/bbc:1"]);
    let id = image_id(&out);
    assert_eq!(
        env.ok(&[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}}",
            "imp/bbc"
        ]),
        format!("imp/bbc:1 {}\n", &id[7..19])
    );
    assert_eq!(
        env.ok(&["run", "--rm", "imp/bbc:1", "cat", "/etc/new", "/etc/keep"]),
        "new\nkeep\n"
    );
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "imp/bbc:1",
            "sh",
            "-c",
            "test -e /etc/gone && echo present || echo absent"
        ]),
        "absent\n"
    );
    assert_eq!(
        env.ok(&[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}|{{.Comment}}",
            "imp/bbc:1"
        ]),
        "sh -c echo new > /etc/new; rm /etc/gone|from writer\n|Imported from -\n"
    );

    // export | import: the container's view as a one-layer image that runs.
    let exported = env.cmd().args(["export", "writer"]).output().unwrap();
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let out = env.run_with_stdin(
        &["import", "-c", "CMD [\"sh\"]", "-", "imp/flat:1"],
        &exported.stdout,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "imp/flat:1",
            "sh",
            "-c",
            "cat /etc/new; test -e /etc/gone || echo gone"
        ]),
        "new\ngone\n"
    );

    // A running container exports its live root filesystem.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "live",
        "imp/bb:1",
        "sh",
        "-c",
        "echo up > /live; sleep 30",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let names = loop {
        let out = env.cmd().args(["export", "live"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let names: Vec<String> = tar::Archive::new(out.stdout.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        if names.iter().any(|n| n == "live") || std::time::Instant::now() > deadline {
            break names;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = env.run(&["rm", "-f", "live"]);
    assert!(names.iter().any(|n| n == "live"), "{names:?}");
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
}
