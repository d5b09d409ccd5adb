//! Bad registries and broken networks: tampered blobs, resets mid-blob, 5xx, refused connections,
//! unknown names, killed pulls, and layers that try to escape their root.

use crate::common::*;
use std::process::Stdio;
use std::time::Duration;
use tar::EntryType;
use test_support::proxy::Fault;
use test_support::{Comp, Entry, ImageSpec, LayerSpec, Registry, noise, sample_image};

fn big_image(seed: u32, mb: u32) -> ImageSpec {
    // Incompressible, so the compressed layer really is `mb` megabytes.
    let data = noise(seed.into(), mb as usize * 1_000_000);
    let mut spec = sample_image();
    spec.layers.insert(
        0,
        LayerSpec::new(Comp::Gzip, vec![Entry::file("big.bin", data)]),
    );
    spec
}

#[test]
fn tampered_blob_fails_naming_the_digest_and_stores_nothing() {
    let reg = Registry::start().unwrap();
    let built = publish(&reg, &sample_image(), "lab/tamper:1");
    let layer = &built.layer_digests[1];
    let path = reg.blob_data_path(layer);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let env = Env::new();
    let err = env.fails(&["pull", &format!("{}/lab/tamper:1", reg.addr)]);
    assert!(
        err.contains(&layer.to_string()),
        "the error names the digest: {err}"
    );
    assert!(
        err.contains("digest mismatch") || err.contains("failed to verify"),
        "{err}"
    );
    assert!(!env.root().join("blobs/sha256").join(layer.hex()).exists());
    env.assert_blobs_valid();
    assert_eq!(env.ok(&["images", "-q", "-a"]), "");
}

#[test]
fn unknown_names_and_refused_connections() {
    let reg = Registry::start().unwrap();
    publish(&reg, &sample_image(), "lab/known:1");
    let env = Env::new();
    let err = env.fails(&["pull", &format!("{}/lab/known:nope", reg.addr)]);
    assert_eq!(
        err,
        format!(
            "Error: manifest for {}/lab/known:nope not found: manifest unknown: manifest unknown\n",
            reg.addr
        )
    );
    let err = env.fails(&["pull", &format!("{}/lab/unknown:1", reg.addr)]);
    assert!(err.starts_with("Error: "), "{err}");
    assert!(err.contains("unknown"), "{err}");
    let port = test_support::free_port();
    let err = env.fails(&["pull", &format!("127.0.0.1:{port}/lab/x:1")]);
    assert!(err.contains("connection refused"), "{err}");
}

#[test]
fn reset_mid_blob_resumes_with_range() {
    let reg = Registry::start().unwrap();
    let built = publish(&reg, &big_image(1, 3), "lab/reset:1");
    let proxy = fault_proxy(
        &reg,
        Fault::CutBody {
            path_contains: "/blobs/".into(),
            after_bytes: 1_000_000,
            times: 2,
        },
    );
    let env = Env::new();
    let name = format!("{}/lab/reset:1", proxy.addr);
    env.ok(&["pull", &name]);
    let ranged: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.range.is_some())
        .collect();
    assert!(
        !ranged.is_empty(),
        "the interrupted blob was resumed with a Range request"
    );
    assert_eq!(env.assert_blobs_valid(), 5);
    let v = env.inspect(&name);
    assert_eq!(v["Id"], built.config_digest.to_string());
}

#[test]
fn transient_5xx_is_retried_and_persistent_5xx_fails() {
    let reg = Registry::start().unwrap();
    publish(&reg, &sample_image(), "lab/flaky:1");
    let proxy = fault_proxy(
        &reg,
        Fault::Status {
            path_contains: "/blobs/".into(),
            status: 503,
            times: 2,
        },
    );
    let env = Env::new();
    env.ok(&["pull", &format!("{}/lab/flaky:1", proxy.addr)]);

    let down = fault_proxy(
        &reg,
        Fault::Status {
            path_contains: "/manifests/".into(),
            status: 500,
            times: 1000,
        },
    );
    let env = Env::new();
    let err = env.fails(&["pull", &format!("{}/lab/flaky:1", down.addr)]);
    assert!(
        err.contains("received unexpected HTTP status: 500 Internal Server Error"),
        "{err}"
    );
}

#[test]
fn corruption_on_the_wire_is_caught() {
    let reg = Registry::start().unwrap();
    publish(&reg, &big_image(2, 1), "lab/wire:1");
    let proxy = fault_proxy(
        &reg,
        Fault::Corrupt {
            path_contains: "/blobs/".into(),
            after_bytes: 1000,
            times: 1000,
        },
    );
    let env = Env::new();
    let err = env.fails(&["pull", &format!("{}/lab/wire:1", proxy.addr)]);
    assert!(err.contains("sha256:"), "{err}");
    env.assert_blobs_valid();
    assert_eq!(env.ok(&["images", "-q", "-a"]), "");
}

#[test]
fn killed_pull_leaves_a_consistent_store_and_resumes() {
    let reg = Registry::start().unwrap();
    let built = publish(&reg, &big_image(3, 4), "lab/kill:1");
    for delay_ms in [150u64, 600, 1200] {
        let proxy = fault_proxy(
            &reg,
            Fault::Throttle {
                path_contains: "/blobs/".into(),
                bytes_per_sec: 2_000_000,
            },
        );
        let env = Env::new();
        let name = format!("{}/lab/kill:1", proxy.addr);
        let mut child = env
            .cmd()
            .args(["pull", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        // SIGKILL: no cleanup code runs.
        child.kill().unwrap();
        child.wait().unwrap();
        env.assert_blobs_valid();
        assert_eq!(
            env.ok(&["images", "-q", "-a"]),
            "",
            "a killed pull shows no image"
        );
        drop(proxy);
        // Again, straight from the registry: it completes.
        let direct = format!("{}/lab/kill:1", reg.addr);
        env.ok(&["pull", &direct]);
        assert_eq!(env.assert_blobs_valid(), 5);
        assert_eq!(env.inspect(&direct)["Id"], built.config_digest.to_string());
        let ingest_left = std::fs::read_dir(env.root().join("ingest"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(
            ingest_left, 0,
            "the leftover ingest was resumed and committed"
        );
    }
}

fn file(name: &str) -> Entry {
    Entry::raw(EntryType::Regular, name.as_bytes(), b"", b"x".to_vec())
}

#[test]
fn layers_that_try_to_escape_never_write_outside() {
    let reg = Registry::start().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("pwned");
    let t = target.to_str().unwrap();
    let evil = [
        vec![file(&format!("../../../../../../../../..{t}"))],
        vec![file(t)],
        vec![
            Entry::symlink("esc", outside.path().to_str().unwrap()),
            file("esc/pwned"),
        ],
        vec![
            Entry::symlink("up", "../../../../../../../../.."),
            file(&format!("up{t}")),
        ],
        vec![
            Entry::raw(EntryType::Link, b"hl", t.as_bytes(), Vec::new()),
            file("hl"),
        ],
        vec![Entry::symlink("sl", t), file("sl")],
    ];
    for (i, entries) in evil.into_iter().enumerate() {
        let spec = ImageSpec {
            layers: vec![LayerSpec::new(Comp::Gzip, entries)],
            ..ImageSpec::default()
        };
        publish(&reg, &spec, &format!("lab/evil:{i}"));
        let env = Env::new();
        let _ = env.run(&["pull", &format!("{}/lab/evil:{i}", reg.addr)]);
        assert!(!target.exists(), "case {i} wrote outside the layer root");
        assert!(
            std::fs::read_dir(outside.path()).unwrap().next().is_none(),
            "case {i}"
        );
    }
}
