//! Containers with the real runc: run (foreground, detached, --rm), exit codes, options,
//! ps/stop/logs/rm, name conflicts and failures that must leave nothing behind.

use crate::common::*;
use std::path::Path;
use std::time::{Duration, Instant};
use test_support::{Comp, Entry, ImageSpec, LayerSpec, Registry, busybox_image};

/// A registry with busybox pushed as `lab/busybox:latest`, and a fresh store; `None` (with
/// the reason printed) when containers cannot run here.
fn setup() -> Option<(Registry, Env, String)> {
    if !rustix_is_root() {
        eprintln!("skipping: containers need root");
        return None;
    }
    let on_path = |b: &str| {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(b).is_file()))
            .unwrap_or(false)
    };
    if !on_path("runc") {
        eprintln!("skipping: runc is not on PATH");
        return None;
    }
    let Some(spec) = busybox_image() else {
        eprintln!("skipping: /bin/busybox is missing");
        return None;
    };
    let reg = Registry::start().unwrap();
    publish(&reg, &spec, "lab/busybox:latest");
    let image = format!("{}/lab/busybox", reg.addr);
    let env = Env::new();
    Some((reg, env, image))
}

fn rustix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Container directories in the store.
fn container_dirs(env: &Env) -> Vec<String> {
    std::fs::read_dir(env.root().join("containers"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

/// Mounts under the store root.
fn store_mounts(env: &Env) -> Vec<String> {
    let root = env.root().display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&root))
        .map(str::to_string)
        .collect()
}

fn ps_all(env: &Env) -> String {
    env.ok(&[
        "ps",
        "-a",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Names}} {{.Status}}",
    ])
}

#[test]
fn run_rm_pulls_then_runs_and_leaves_nothing() {
    let Some((_reg, env, image)) = setup() else {
        return;
    };
    let out = env.run(&["run", "--rm", &image, "cat", "/etc/passwd"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
    );
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!("Unable to find image '{image}:latest' locally\n")),
        "{err}"
    );
    assert!(err.contains("Status: Downloaded newer image for"), "{err}");
    assert_eq!(ps_all(&env), "");
    assert!(container_dirs(&env).is_empty());
    assert!(store_mounts(&env).is_empty(), "{:?}", store_mounts(&env));
    // Second run: the image is local, nothing is pulled.
    let out = env.run(&["run", "--rm", &image, "true"]);
    assert_eq!(code(&out), 0);
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn union_of_two_layers_with_override_and_whiteout() {
    let Some((reg, env, _)) = setup() else { return };
    let mut spec = busybox_image().unwrap();
    spec.layers.push(LayerSpec::new(
        Comp::Gzip,
        vec![
            Entry::dir("etc"),
            Entry::file("etc/motd", "from the top layer\n"),
            Entry::whiteout("etc/group"),
        ],
    ));
    let spec = ImageSpec { ..spec };
    publish(&reg, &spec, "lab/two:latest");
    let image = format!("{}/lab/two", reg.addr);
    let out = env.run(&["run", "--rm", &image, "cat", "/etc/motd"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "from the top layer\n");
    let out = env.run(&["run", "--rm", &image, "ls", "/etc"]);
    assert_eq!(text(&out.stdout), "motd\npasswd\n");
    // Writes go to the container's upper layer, never to the image's layers.
    let out = env.run(&[
        "run",
        "--name",
        "wr",
        &image,
        "sh",
        "-c",
        "echo x > /etc/passwd; rm /etc/motd",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let out = env.run(&["run", "--rm", &image, "cat", "/etc/motd"]);
    assert_eq!(text(&out.stdout), "from the top layer\n");
    let id = env.ok(&["container", "inspect", "--format", "{{.Id}}", "wr"]);
    let upper = env.root().join("containers").join(id.trim()).join("upper");
    assert_eq!(
        std::fs::read_to_string(upper.join("etc/passwd")).unwrap(),
        "x\n"
    );
    env.ok(&["rm", "wr"]);
}

#[test]
fn exit_codes_follow_docker() {
    let Some((_reg, env, image)) = setup() else {
        return;
    };
    env.ok(&["pull", &image]);
    let out = env.run(&["run", "--rm", &image, "sh", "-c", "exit 3"]);
    assert_eq!(code(&out), 3);
    let out = env.run(&["run", "--rm", &image, "no-such-command"]);
    assert_eq!(code(&out), 127, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no-such-command"),
        "{}",
        text(&out.stderr)
    );
    let out = env.run(&["run", "--rm", &image, "/etc/passwd"]);
    assert_eq!(code(&out), 126, "{}", text(&out.stderr));
    assert!(container_dirs(&env).is_empty());
    assert!(store_mounts(&env).is_empty());
    // Without --rm the failed container stays, Created, with the exit code.
    let out = env.run(&["run", "--name", "nx", &image, "no-such-command"]);
    assert_eq!(code(&out), 127);
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["container", "inspect", "nx"])).unwrap();
    assert_eq!(v[0]["State"]["ExitCode"], 127);
    assert_eq!(v[0]["State"]["Status"], "created");
    assert_eq!(v[0]["Name"], "/nx");
    assert!(store_mounts(&env).is_empty());
}

#[test]
fn env_workdir_user_and_entrypoint_take_effect() {
    let Some((_reg, env, image)) = setup() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("vars");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\nBOTH=file\n").unwrap();
    let out = env.ok(&[
        "run",
        "--rm",
        "-e",
        "ONE=1",
        "--env",
        "BOTH=flag",
        "--env-file",
        env_file.to_str().unwrap(),
        &image,
        "env",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"ONE=1"), "{out}");
    assert!(lines.contains(&"FROM_FILE=yes"), "{out}");
    assert!(lines.contains(&"BOTH=flag"), "{out}");
    assert!(lines.contains(&"HOME=/root"), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("PATH=")), "{out}");
    let host = lines
        .iter()
        .find_map(|l| l.strip_prefix("HOSTNAME="))
        .unwrap();
    assert_eq!(host.len(), 12);

    assert_eq!(
        env.ok(&["run", "--rm", "-w", "/tmp", &image, "pwd"]),
        "/tmp\n"
    );
    assert_eq!(
        env.ok(&["run", "--rm", "-w", "/new/dir", &image, "pwd"]),
        "/new/dir\n"
    );
    assert!(
        env.ok(&["run", "--rm", "-u", "nobody", &image, "id"])
            == "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"
    );
    assert_eq!(
        env.ok(&["run", "--rm", "-u", "1234:0", &image, "id", "-u"]),
        "1234\n"
    );
    assert_eq!(
        env.ok(&["run", "--rm", "--entrypoint", "echo", &image, "a", "b"]),
        "a b\n"
    );
    // Bind mount, read-only.
    std::fs::write(dir.path().join("f"), "host file\n").unwrap();
    let bind = format!("{}:/data:ro", dir.path().display());
    assert_eq!(
        env.ok(&["run", "--rm", "-v", &bind, &image, "cat", "/data/f"]),
        "host file\n"
    );
    let out = env.run(&["run", "--rm", "-v", &bind, &image, "touch", "/data/g"]);
    assert_ne!(code(&out), 0);
    assert!(!dir.path().join("g").exists());
}

#[test]
fn detached_ps_logs_stop_rm() {
    let Some((_reg, env, image)) = setup() else {
        return;
    };
    env.ok(&["pull", &image]);
    let id = env.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        &image,
        "sh",
        "-c",
        "echo started; echo oops >&2; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done",
    ]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64);
    let ps = env.ok(&["ps"]);
    let lines: Vec<&str> = ps.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "CONTAINER",
            "ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    assert!(lines[1].starts_with(&id[..12]), "{ps}");
    assert!(lines[1].contains("\"sh -c 'echo started…\""), "{ps}");
    assert!(lines[1].contains(" Up "), "{ps}");
    assert!(lines[1].ends_with("web"), "{ps}");
    assert_eq!(env.ok(&["ps", "-q"]), format!("{}\n", &id[..12]));
    assert_eq!(
        env.ok(&["ps", "-q", "--no-trunc", "--filter", "name=we"]),
        format!("{id}\n")
    );
    assert_eq!(env.ok(&["ps", "-q", "--filter", "status=exited"]), "");
    assert_eq!(
        env.ok(&["ps", "-q", "--filter", &format!("ancestor={image}")]),
        format!("{}\n", &id[..12])
    );

    // Output reaches the log.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = env.run(&["logs", "web"]);
        if text(&out.stdout) == "started\n" && text(&out.stderr) == "oops\n" {
            break;
        }
        assert!(Instant::now() < deadline, "logs: {:?}", out);
        std::thread::sleep(Duration::from_millis(100));
    }
    let ts = env.ok(&["logs", "-t", "web"]);
    assert!(ts.ends_with(" started\n") && ts.starts_with("20"), "{ts}");

    // rm refuses a running container.
    let out = env.run(&["rm", "web"]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        text(&out.stderr),
        "Error: cannot remove container \"/web\": container is running: stop the container before removing or force remove\n"
    );

    let start = Instant::now();
    assert_eq!(env.ok(&["stop", "-t", "5", "web"]), "web\n");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the trap handles TERM at once"
    );
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["container", "inspect", "web"])).unwrap();
    assert_eq!(v[0]["State"]["Status"], "exited");
    assert_eq!(v[0]["State"]["ExitCode"], 0);
    assert_eq!(v[0]["Id"], id.as_str());
    assert_eq!(v[0]["Config"]["Image"], image.as_str());
    assert_eq!(env.ok(&["logs", "--tail", "1", "web"]), "bye\n");
    assert!(env.ok(&["ps", "-a"]).contains("Exited (0) "));
    assert_eq!(env.ok(&["wait", "web"]), "0\n");
    assert!(store_mounts(&env).is_empty());
    assert_eq!(env.ok(&["rm", "web"]), "web\n");
    assert!(container_dirs(&env).is_empty());
    assert_eq!(
        text(&env.run(&["rm", "web"]).stderr),
        "Error: No such container: web\n"
    );
}

#[test]
fn stop_kills_after_the_timeout_and_rm_force() {
    let Some((_reg, env, image)) = setup() else {
        return;
    };
    env.ok(&["pull", &image]);
    // sleep as pid 1 ignores SIGTERM: stop must SIGKILL after the timeout.
    env.ok(&["run", "-d", "--name", "sl", &image, "sleep", "1000"]);
    let start = Instant::now();
    env.ok(&["stop", "-t", "1", "sl"]);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert!(ps_all(&env).contains("Exited (137)"), "{}", ps_all(&env));
    // start again, then rm -f.
    assert_eq!(env.ok(&["start", "sl"]), "sl\n");
    assert!(env.ok(&["ps"]).contains(" sl\n"));
    assert_eq!(env.ok(&["rm", "-f", "sl"]), "sl\n");
    assert_eq!(ps_all(&env), "");
    assert!(store_mounts(&env).is_empty());
    // -d --rm: removed when it exits.
    env.ok(&["run", "-d", "--rm", "--name", "gone", &image, "true"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ps_all(&env).is_empty() {
        assert!(Instant::now() < deadline, "{}", ps_all(&env));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn name_conflicts_and_failures_leave_nothing_behind() {
    let Some((_reg, env, image)) = setup() else {
        return;
    };
    env.ok(&["pull", &image]);
    let id = env.ok(&["create", "--name", "dup", &image, "true"]);
    let id = id.trim();
    let out = env.run(&["run", "--name", "dup", &image, "true"]);
    assert_eq!(code(&out), 125);
    assert_eq!(
        text(&out.stderr),
        format!(
            "Error: Conflict. The container name \"/dup\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.\n"
        )
    );
    assert!(ps_all(&env).contains("dup Created"), "{}", ps_all(&env));
    env.ok(&["rm", "dup"]);

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-env-file");
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--env-file".into(), missing.display().to_string()],
            format!("open {}: no such file or directory", missing.display()),
        ),
        (
            vec!["-u".into(), "ghost".into()],
            "unable to find user ghost: no matching entries in passwd file".into(),
        ),
        (
            vec!["-v".into(), "/no/such/strata/source:/x".into()],
            "invalid mount config for type \"bind\": bind source path does not exist: /no/such/strata/source".into(),
        ),
        (
            vec!["--name=-bad".into()],
            "Invalid container name (-bad), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed".into(),
        ),
    ];
    for (flags, message) in cases {
        let mut args: Vec<&str> = vec!["run", "--rm"];
        args.extend(flags.iter().map(String::as_str));
        args.extend([image.as_str(), "true"]);
        let out = env.run(&args);
        assert_eq!(code(&out), 125, "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr), format!("Error: {message}\n"), "{args:?}");
        assert_eq!(ps_all(&env), "", "{args:?}");
        assert!(container_dirs(&env).is_empty(), "{args:?}");
        assert!(store_mounts(&env).is_empty(), "{args:?}");
    }
    let out = env.run(&["stop", "nothing-here"]);
    assert_eq!(
        text(&out.stderr),
        "Error: No such container: nothing-here\n"
    );
    assert_eq!(code(&out), 1);
}

#[test]
fn exec_runs_in_the_running_container() {
    let Some((_reg, env, image)) = setup() else {
        return;
    };
    env.ok(&["pull", &image]);
    env.ok(&[
        "run",
        "-d",
        "--name",
        "ex",
        &image,
        "sh",
        "-c",
        "echo hi > /tmp/mark; sleep 1000",
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = env.run(&["exec", "ex", "cat", "/tmp/mark"]);
        if code(&out) == 0 {
            assert_eq!(text(&out.stdout), "hi\n");
            break;
        }
        assert!(Instant::now() < deadline, "{}", text(&out.stderr));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        env.ok(&[
            "exec",
            "-w",
            "/tmp",
            "-u",
            "nobody",
            "-e",
            "X=1",
            "ex",
            "sh",
            "-c",
            "pwd; id -u; echo $X"
        ]),
        "/tmp\n65534\n1\n"
    );
    let out = env.run(&["exec", "ex", "sh", "-c", "exit 4"]);
    assert_eq!(code(&out), 4);
    env.ok(&["kill", "ex"]);
    assert_eq!(env.ok(&["wait", "ex"]), "137\n");
    let out = env.run(&["exec", "ex", "true"]);
    assert_ne!(code(&out), 0);
    assert_eq!(
        env.ok(&["container", "prune", "-f"]).lines().next(),
        Some("Deleted Containers:")
    );
    assert!(container_dirs(&env).is_empty());
    let _ = Path::new("/");
}

#[test]
fn networks_start_attach_restart_and_follow() {
    let Some((_reg, env, image)) = setup() else {
        return;
    };
    env.ok(&["pull", &image]);
    // The default and `none`: a private namespace with only lo; `host`: the host's interfaces.
    assert_eq!(
        env.ok(&["run", "--rm", &image, "ls", "/sys/class/net"]),
        "lo\n"
    );
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            &image,
            "ls",
            "/sys/class/net"
        ]),
        "lo\n"
    );
    let host_ifaces = std::fs::read_dir("/sys/class/net").unwrap().count();
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        &image,
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(out.lines().count(), host_ifaces, "{out}");
    let out = env.run(&["run", "--rm", "--network", "bridge", &image, "true"]);
    assert_eq!(code(&out), 125);
    assert!(text(&out.stderr).contains("not offered"));

    // create + start -a: attached, with the container's exit code.
    env.ok(&[
        "create",
        "--name",
        "att",
        &image,
        "sh",
        "-c",
        "echo attached; exit 5",
    ]);
    assert!(ps_all(&env).contains("att Created"));
    let out = env.run(&["start", "-a", "att"]);
    assert_eq!(code(&out), 5);
    assert_eq!(text(&out.stdout), "attached\n");
    assert!(ps_all(&env).contains("att Exited (5)"));

    // logs -f follows until the container exits; restart runs it again.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "fol",
        &image,
        "sh",
        "-c",
        "echo a; sleep 0.5; echo b",
    ]);
    assert_eq!(env.ok(&["logs", "-f", "fol"]), "a\nb\n");
    assert_eq!(env.ok(&["wait", "fol"]), "0\n");
    assert_eq!(env.ok(&["restart", "fol"]), "fol\n");
    assert_eq!(env.ok(&["wait", "fol"]), "0\n");
    assert_eq!(env.ok(&["logs", "fol"]), "a\nb\na\nb\n");
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["container", "inspect", "fol"])).unwrap();
    assert_eq!(v[0]["Path"], "sh");
    assert_eq!(v[0]["Args"][0], "-c");
    assert_eq!(v[0]["HostConfig"]["NetworkMode"], "none");
    assert_eq!(v[0]["GraphDriver"]["Name"], "overlay");
    assert_eq!(v[0]["State"]["Running"], false);
    env.ok(&["rm", "att", "fol"]);
    assert!(store_mounts(&env).is_empty());
}

#[test]
fn missing_runtime_is_a_clear_error_and_leaves_nothing() {
    let Some((_reg, env, image)) = setup() else {
        return;
    };
    env.ok(&["pull", &image]);
    let out = env.run(&[
        "run",
        "--rm",
        "--runtime",
        "no-such-runtime",
        &image,
        "true",
    ]);
    assert_eq!(code(&out), 125);
    assert_eq!(
        text(&out.stderr),
        "Error: OCI runtime \"no-such-runtime\" not found on PATH\n"
    );
    let empty = tempfile::tempdir().unwrap();
    let out = env
        .cmd()
        .env("PATH", empty.path())
        .args(["run", "--rm", &image, "true"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 125);
    assert!(
        text(&out.stderr).contains("neither runc nor crun is on PATH"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(ps_all(&env), "");
    assert!(container_dirs(&env).is_empty());
}

#[test]
fn copy_driver_fallback_runs_the_same_union() {
    let Some((reg, _, image)) = setup() else {
        return;
    };
    let env = Env::new().with_var("STRATA_SNAPSHOTTER", "copy");
    let mut spec = busybox_image().unwrap();
    spec.layers.push(LayerSpec::new(
        Comp::Gzip,
        vec![Entry::dir("etc"), Entry::whiteout("etc/group")],
    ));
    publish(&reg, &spec, "lab/copy:latest");
    let two = format!("{}/lab/copy", reg.addr);
    assert_eq!(env.ok(&["run", "--rm", &two, "ls", "/etc"]), "passwd\n");
    env.ok(&[
        "run",
        "--name",
        "cp1",
        &image,
        "sh",
        "-c",
        "echo changed > /etc/passwd",
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["container", "inspect", "cp1"])).unwrap();
    assert_eq!(v[0]["GraphDriver"]["Name"], "copy");
    // The image is untouched; a restart keeps the container's own change.
    assert_eq!(
        env.ok(&["run", "--rm", &image, "cat", "/etc/passwd"])
            .lines()
            .next(),
        Some("root:x:0:0:root:/root:/bin/sh")
    );
    assert_eq!(env.run(&["start", "-a", "cp1"]).status.code(), Some(0));
    env.ok(&["rm", "cp1"]);
    assert!(container_dirs(&env).is_empty());
    assert!(store_mounts(&env).is_empty());
}
