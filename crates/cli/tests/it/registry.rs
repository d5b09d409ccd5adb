//! `strata registry serve | gc | repo set` driven by real clients: skopeo (copy in, inspect,
//! copy out), strata's own pull, and plain HTTP for search.

use crate::common::*;
use oci_model::Digest;
use std::path::Path;
use std::process::Command;
use test_support::http::request;
use test_support::{Registry, Server, multi_arch_specs, sample_docker_image, sample_image};

fn strata_registry() -> Registry {
    Registry::start_strata(Path::new(env!("CARGO_BIN_EXE_strata"))).unwrap()
}

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("running skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn skopeo_pushes_and_strata_pulls_through_strata_registry() {
    let reg = strata_registry();
    assert_eq!(reg.server, Server::Strata);
    let built = publish(&reg, &sample_image(), "lab/sample:1.0");
    assert!(reg.blob_data_path(&built.config_digest).exists());

    let env = Env::new();
    let name = format!("{}/lab/sample:1.0", reg.addr);
    let out = env.ok(&["pull", &name]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1.0: Pulling from lab/sample");
    assert!(
        out.contains(&format!("Digest: {}", built.manifest_digest)),
        "{out}"
    );
    assert_eq!(lines.last(), Some(&name.as_str()));
    let v = env.inspect(&name);
    assert_eq!(v["Id"], built.config_digest.to_string());
    env.assert_blobs_valid();

    // skopeo inspect sees the same digest and layers.
    let inspect: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{name}"),
    ]))
    .unwrap();
    assert_eq!(inspect["Digest"], built.manifest_digest.to_string());
    let layers: Vec<String> = built.layer_digests.iter().map(|d| d.to_string()).collect();
    assert_eq!(inspect["Layers"], serde_json::json!(layers));

    // skopeo copies it back out unchanged.
    let out_dir = tempfile::tempdir().unwrap();
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--preserve-digests",
        &format!("docker://{name}"),
        &format!("oci:{}:copy", out_dir.path().display()),
    ]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["digest"],
        built.manifest_digest.to_string()
    );
    for d in &built.layer_digests {
        let bytes = std::fs::read(out_dir.path().join("blobs/sha256").join(d.hex())).unwrap();
        assert_eq!(&Digest::of(&bytes), d);
    }
}

#[test]
fn docker_manifests_lists_and_indexes_pull_from_strata_registry() {
    let reg = strata_registry();
    // A Docker v2 manifest (pushed over plain HTTP by test-support).
    let docker = publish(&reg, &sample_docker_image(), "lab/docker:v2");
    // A multi-arch OCI index (skopeo) and a Docker manifest list (HTTP).
    let oci_index = publish_index(&reg, &multi_arch_specs(), "lab/multi:oci", false);
    let docker_list = publish_index(&reg, &multi_arch_specs(), "lab/multi:list", true);

    let env = Env::new();
    let out = env.ok(&["pull", &format!("{}/lab/docker:v2", reg.addr)]);
    assert!(
        out.contains(&format!("Digest: {}", docker.manifest_digest)),
        "{out}"
    );
    for (tag, built) in [("oci", &oci_index), ("list", &docker_list)] {
        let name = format!("{}/lab/multi:{tag}", reg.addr);
        let out = env.ok(&["pull", "--platform", "linux/amd64", &name]);
        assert!(out.contains(&format!("Digest: {}", built.digest)), "{out}");
    }
    env.assert_blobs_valid();
}

#[test]
fn gc_and_repo_metadata_from_the_command_line() {
    let reg = strata_registry();
    publish(&reg, &sample_image(), "lab/kept:1");
    let orphan = b"an orphan blob nobody references";
    let mut client = reg.client();
    test_support::push::push_blob(&mut client, "lab/kept", &Digest::of(orphan), orphan).unwrap();
    let root = reg.storage_dir().to_str().unwrap().to_string();
    let env = Env::new();

    env.ok(&[
        "registry",
        "repo",
        "set",
        "lab/kept",
        "--description",
        "A kept sample",
        "--stars",
        "7",
        "--official",
        "--root",
        &root,
    ]);
    let resp = request(&reg.addr, "GET", "/v1/search?q=KEPT", &[], &[]).unwrap();
    assert_eq!(resp.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(v["num_results"], 1);
    assert_eq!(
        v["results"][0],
        serde_json::json!({"name": "lab/kept", "description": "A kept sample",
                           "star_count": 7, "is_official": true, "is_automated": false})
    );
    env.ok(&[
        "registry",
        "repo",
        "set",
        "lab/kept",
        "--official=false",
        "--root",
        &root,
    ]);
    let resp = request(&reg.addr, "GET", "/v1/search?q=sample", &[], &[]).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(v["results"][0]["is_official"], false);
    assert_eq!(v["results"][0]["star_count"], 7);
    let err = env.fails(&["registry", "repo", "set", "Bad/Name", "--root", &root]);
    assert!(err.starts_with("Error: invalid repository name"), "{err}");

    let orphan_digest = Digest::of(orphan);
    let dry = env.ok(&["registry", "gc", "--dry-run", "--root", &root]);
    assert_eq!(
        dry,
        format!(
            "would delete blob {orphan_digest} ({} bytes)\n1 blobs ({} bytes) and 0 upload sessions would be deleted\n",
            orphan.len(),
            orphan.len()
        )
    );
    assert!(reg.blob_data_path(&orphan_digest).exists());
    env.ok(&["registry", "gc", "--root", &root]);
    assert!(!reg.blob_data_path(&orphan_digest).exists());
    // The image is still whole.
    env.ok(&["pull", &format!("{}/lab/kept:1", reg.addr)]);
    env.assert_blobs_valid();

    let missing = env.dir.path().join("nothing-here");
    let err = env.fails(&["registry", "gc", "--root", missing.to_str().unwrap()]);
    assert!(err.starts_with("Error: no registry storage at"), "{err}");
}

#[test]
fn serve_reports_bad_config_and_busy_ports() {
    let env = Env::new();
    let cfg = env.dir.path().join("registry.json");
    std::fs::write(&cfg, r#"{"adr": "127.0.0.1:1"}"#).unwrap();
    let err = env.fails(&["registry", "serve", "--config", cfg.to_str().unwrap()]);
    assert!(err.contains("invalid registry config file"), "{err}");
    assert!(err.contains("unknown field `adr`"), "{err}");

    let reg = strata_registry();
    let root = env.dir.path().join("reg");
    let err = env.fails(&[
        "registry",
        "serve",
        "--addr",
        &reg.addr,
        "--root",
        root.to_str().unwrap(),
    ]);
    assert!(
        err.starts_with(&format!("Error: listening on {}", reg.addr)),
        "{err}"
    );
}

#[test]
fn serve_prints_its_address_and_stops_cleanly_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let env = Env::new();
    let root = env.dir.path().join("reg");
    let mut child = env
        .cmd()
        .args(["registry", "serve", "--addr", "127.0.0.1:0", "--root"])
        .arg(&root)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("strata registry listening on http://")
        .unwrap_or_else(|| panic!("ready line: {line:?}"))
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let resp = request(&addr, "GET", "/v2/", &[], &[]).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );
    assert!(root.join("blobs/sha256").is_dir());
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 10s after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    assert!(request(&addr, "GET", "/v2/", &[], &[]).is_err());
    // Quiet without --log: nothing after the ready line.
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(rest, "");
}
