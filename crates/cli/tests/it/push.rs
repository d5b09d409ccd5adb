//! `push` against Debian's `docker-registry`: the bytes strata pulled go out unchanged (skopeo
//! reads the same manifest back), `Layer already exists` and `Mounted from` as Docker prints
//! them (goldens recorded by golden/record-push.sh from the docker 28 CLI + dockerd 20.10),
//! images made by `import` / `commit` pushed and pulled back on a fresh root, zstd, chunked
//! uploads, a blob the store never downloaded, `-a`, `-q`, errors and authentication.

use crate::common::*;
use oci_model::Digest;
use std::path::Path;
use std::process::Command;
use test_support::fixture::build_layer;
use test_support::{
    Comp, Entry, ImageSpec, LayerSpec, Registry, four_layer_image, multi_arch_specs,
    sample_docker_image, sample_image,
};

fn golden(name: &str) -> String {
    read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/it/golden")
            .join(name),
    )
}

/// The golden's cases, split at each `$ docker …` line: (command, output with the exit line).
fn golden_cases(name: &str, reg: &str) -> Vec<(String, String)> {
    let text = golden(name)
        .replace("{REGISTRY}", reg)
        .replace("{REFUSED}", "127.0.0.1:1");
    let mut cases: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("$ docker ") {
            cases.push((cmd.to_string(), String::new()));
        } else if let Some(last) = cases.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    cases
}

/// strata's output in the goldens' form: the pushed manifest's digest and size redacted, and
/// the exit line.
fn transcript(out: &std::process::Output) -> String {
    let mut s = String::new();
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
    {
        match line.split_once(": digest: sha256:") {
            Some((tag, _)) => s.push_str(&format!("{tag}: digest: {{DIGEST}} size: {{SIZE}}")),
            None => s.push_str(line),
        }
        s.push('\n');
    }
    s.push_str(&format!("exit {}\n", out.status.code().unwrap_or(-1)));
    s
}

fn is_layer_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Layers finish in any order: lines without a layer id must match in order; per block (ended
/// by a `digest:` line) the same layers with the same status sequence each.
fn assert_same_push(strata: &str, docker: &str) {
    /// Per layer id, its statuses in order.
    type Block = Vec<(String, Vec<String>)>;
    fn blocks(t: &str) -> (Vec<String>, Vec<Block>) {
        let mut plain = Vec::new();
        let mut blocks = vec![Block::new()];
        for line in t.lines() {
            match line.split_once(": ") {
                Some((id, status)) if is_layer_id(id) => {
                    let block = blocks.last_mut().unwrap();
                    match block.iter_mut().find(|(i, _)| i == id) {
                        Some((_, st)) => st.push(status.to_string()),
                        None => block.push((id.to_string(), vec![status.to_string()])),
                    }
                }
                _ => {
                    plain.push(line.to_string());
                    if line.contains(": digest: ") {
                        blocks.push(Vec::new());
                    }
                }
            }
        }
        for b in &mut blocks {
            b.sort();
        }
        (plain, blocks)
    }
    let (sp, sb) = blocks(strata);
    let (dp, db) = blocks(docker);
    assert_eq!(
        sp, dp,
        "lines without a layer id\nstrata:\n{strata}\ndocker:\n{docker}"
    );
    assert_eq!(
        sb, db,
        "per-layer statuses\nstrata:\n{strata}\ndocker:\n{docker}"
    );
}

/// Runs `strata <cmd>` (a golden's command line, split on spaces) and checks it against the
/// golden's output.
fn check_case(env: &Env, cmd: &str, want: &str) {
    let args: Vec<&str> = cmd.split(' ').collect();
    let out = env.run(&args);
    assert_same_push(&transcript(&out), want);
}

fn skopeo_raw(reference: &str) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .expect("running skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The path, kind and content of every entry under `root`, sorted.
fn tree(root: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap().display().to_string();
                out.push((rel, format!("-> {t}")));
            } else if m.is_dir() {
                out.push((rel, "dir".into()));
                walk(root, &p, out);
            } else {
                let data = std::fs::read(&p).unwrap();
                out.push((rel, String::from_utf8_lossy(&data).into_owned()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

fn files_of(env: &Env, image: &str) -> Vec<(String, String)> {
    let m = Mounted::new(env, image);
    tree(&m.path)
}

/// Pulls `pushed` into a fresh root and checks it holds the files `env` has for `original`;
/// returns that root and the files.
fn pull_fresh(env: &Env, original: &str, pushed: &str) -> (Env, Vec<(String, String)>) {
    let fresh = Env::new();
    fresh.ok(&["pull", "-q", pushed]);
    let files = files_of(&fresh, pushed);
    assert_eq!(files, files_of(env, original), "{pushed} vs {original}");
    (fresh, files)
}

/// The sample fixture's first layer as an uncompressed tar: what the goldens' `docker import`
/// was given.
fn sample_layer_tar(dir: &Path) -> std::path::PathBuf {
    let layer = build_layer(&sample_image().layers[0], false).unwrap();
    let path = dir.join("layer.tar");
    std::fs::write(&path, &layer.tar).unwrap();
    path
}

/// Pulls `<r>/pushsrc/four:1` (published by the test) and tags it `<r>/push/four:1`.
fn pull_and_tag_four(env: &Env, r: &str) {
    env.ok(&["pull", "-q", &format!("{r}/pushsrc/four:1")]);
    env.ok(&[
        "tag",
        &format!("{r}/pushsrc/four:1"),
        &format!("{r}/push/four:1"),
    ]);
}

#[test]
fn pulled_image_is_pushed_byte_for_byte_with_dockers_lines() {
    let reg = Registry::start().unwrap();
    let built = publish(&reg, &four_layer_image(), "pushsrc/four:1");
    let r = &reg.addr;
    let env = Env::new();
    pull_and_tag_four(&env, r);

    // First push into the same registry: every layer is mounted from the repository it was
    // pulled from.
    for (name, idx) in [
        ("push-mount.txt", 0),
        ("push-exists.txt", 0),
        ("push-quiet.txt", 0),
    ] {
        let cases = golden_cases(name, r);
        let (cmd, want) = &cases[idx];
        check_case(&env, cmd, want);
    }
    // The registry has the very manifest strata pulled.
    let raw = skopeo_raw(&format!("{r}/push/four:1"));
    assert_eq!(raw, built.manifest_bytes);
    let out = env.ok(&["push", &format!("{r}/push/four:1")]);
    assert!(
        out.ends_with(&format!(
            "1: digest: {} size: {}\n",
            built.manifest_digest,
            built.manifest_bytes.len()
        )),
        "{out}"
    );
    // Recorded as a repo digest, as Docker does.
    let digests = env.ok(&[
        "images",
        "--digests",
        "--format",
        "{{.Repository}} {{.Digest}}",
    ]);
    assert!(
        digests.contains(&format!("{r}/push/four {}", built.manifest_digest)),
        "{digests}"
    );

    // -a: every local tag of the repository, sorted.
    env.ok(&[
        "tag",
        &format!("{r}/push/four:1"),
        &format!("{r}/push/four:2"),
    ]);
    let (cmd, want) = &golden_cases("push-all-tags.txt", r)[0];
    check_case(&env, cmd, want);
    assert_eq!(
        skopeo_raw(&format!("{r}/push/four:2")),
        built.manifest_bytes
    );

    // With one upload at a time, the layers below the top one wait.
    env.ok(&[
        "tag",
        &format!("{r}/push/four:1"),
        &format!("{r}/push/serial:1"),
    ]);
    let out = env.ok(&[
        "push",
        "--max-concurrent-uploads",
        "1",
        &format!("{r}/push/serial:1"),
    ]);
    let top = built.diff_ids[3].short().to_string();
    assert_eq!(statuses_for(&out, &top)[0], "Preparing");
    assert!(!statuses_for(&out, &top).contains(&"Waiting"), "{out}");
    for d in &built.diff_ids[..3] {
        let st = statuses_for(&out, d.short());
        assert_eq!(st[..2], ["Preparing", "Waiting"], "{out}");
        assert_eq!(st[2], "Mounted from push/four", "{out}");
    }
    env.assert_blobs_valid();
}

#[test]
fn push_errors_match_docker() {
    let reg = Registry::start().unwrap();
    publish(&reg, &four_layer_image(), "pushsrc/four:1");
    let r = &reg.addr;
    let env = Env::new();
    pull_and_tag_four(&env, r);
    env.ok(&[
        "tag",
        &format!("{r}/pushsrc/four:1"),
        "127.0.0.1:1/push/x:1",
    ]);
    for (cmd, want) in golden_cases("push-errors.txt", r) {
        let args: Vec<&str> = cmd.split(' ').collect();
        let out = env.run(&args);
        assert_eq!(transcript(&out), want, "strata {cmd}");
    }
    // Nothing was pushed.
    let e = reg.get_manifest("push/four", "1").unwrap();
    assert_eq!(e.status, 404);
}

#[test]
fn imported_image_is_pushed_mounted_and_pulled_back() {
    let reg = Registry::start().unwrap();
    let r = &reg.addr;
    let env = Env::new();
    let tar = sample_layer_tar(env.dir.path());
    env.ok(&[
        "import",
        tar.to_str().unwrap(),
        &format!("{r}/push/imported:1"),
    ]);
    let (cmd, want) = &golden_cases("push-import.txt", r)[0];
    check_case(&env, cmd, want);
    env.ok(&[
        "tag",
        &format!("{r}/push/imported:1"),
        &format!("{r}/push/imported2:1"),
    ]);
    let (cmd, want) = &golden_cases("push-import-mount.txt", r)[0];
    check_case(&env, cmd, want);

    // The registry serves strata's own manifest, and a fresh root pulls the same image.
    let id = env.inspect(&format!("{r}/push/imported:1"))["Id"].clone();
    let manifest: serde_json::Value =
        serde_json::from_slice(&skopeo_raw(&format!("{r}/push/imported2:1"))).unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let pushed = format!("{r}/push/imported2:1");
    let (fresh, _) = pull_fresh(&env, &format!("{r}/push/imported:1"), &pushed);
    assert_eq!(fresh.inspect(&pushed)["Id"], id);
}

#[test]
fn zstd_re_encodes_only_the_layers_strata_made() {
    let reg = Registry::start().unwrap();
    let r = &reg.addr;
    let built = publish(&reg, &four_layer_image(), "pushsrc/four:1");
    let env = Env::new();
    let tar = sample_layer_tar(env.dir.path());
    env.ok(&["import", tar.to_str().unwrap(), &format!("{r}/push/zimp:1")]);
    let gz_blobs = env.assert_blobs_valid();
    let out = env.ok(&["push", "--compression", "zstd", &format!("{r}/push/zimp:1")]);
    assert!(out.contains(": Pushed\n"), "{out}");
    let m: serde_json::Value =
        serde_json::from_slice(&skopeo_raw(&format!("{r}/push/zimp:1"))).unwrap();
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    // The pushed digest is that manifest's, and the zstd blob and manifest are kept locally.
    let raw = skopeo_raw(&format!("{r}/push/zimp:1"));
    assert!(
        out.ends_with(&format!(
            "1: digest: {} size: {}\n",
            Digest::of(&raw),
            raw.len()
        )),
        "{out}"
    );
    assert_eq!(env.assert_blobs_valid(), gz_blobs + 2);
    // Again: the conversion is reused, the layer exists.
    let again = env.ok(&["push", "--compression", "zstd", &format!("{r}/push/zimp:1")]);
    assert!(again.contains(": Layer already exists\n"), "{again}");
    assert!(again.ends_with(&format!(
        "digest: {} size: {}\n",
        Digest::of(&raw),
        raw.len()
    )));
    // Pulled back on a fresh root: the same image (same config), the same files.
    let zimp = format!("{r}/push/zimp:1");
    let (fresh, _) = pull_fresh(&env, &zimp, &zimp);
    assert_eq!(fresh.inspect(&zimp)["Id"], env.inspect(&zimp)["Id"]);

    // A pulled image keeps its bytes under --compression zstd.
    pull_and_tag_four(&env, r);
    env.ok(&["push", "--compression", "zstd", &format!("{r}/push/four:1")]);
    assert_eq!(
        skopeo_raw(&format!("{r}/push/four:1")),
        built.manifest_bytes
    );
}

#[test]
fn chunked_upload_and_a_blob_the_store_never_downloaded() {
    let reg = Registry::start().unwrap();
    let other = Registry::start().unwrap();
    let (r, o) = (&reg.addr, &other.addr);
    // Two images with the same layer contents, compressed differently (and configs that differ
    // by a label): pulling the second finds its layers unpacked already and downloads none of its
    // blobs.
    let layers = |comp: Comp| {
        (0..3)
            .map(|i| {
                let big: String = (0..20_000).map(|j| format!("{i}-{j}\n")).collect();
                LayerSpec::new(comp, vec![Entry::file(&format!("f{i}.txt"), big)])
            })
            .collect::<Vec<_>>()
    };
    let gz = publish(
        &reg,
        &ImageSpec {
            layers: layers(Comp::Gzip),
            ..ImageSpec::default()
        },
        "src/gz:1",
    );
    let plain = publish(
        &reg,
        &ImageSpec {
            layers: layers(Comp::None),
            labels: vec![("kind".into(), "plain".into())],
            ..ImageSpec::default()
        },
        "src/plain:1",
    );
    assert_eq!(gz.diff_ids, plain.diff_ids);
    let env = Env::new().with_var("STRATA_PUSH_CHUNK_SIZE", "30000");
    env.ok(&["pull", "-q", &format!("{r}/src/gz:1")]);
    let out = env.ok(&["pull", &format!("{r}/src/plain:1")]);
    assert!(out.contains("Already exists"), "{out}");
    for d in &plain.layer_digests {
        assert!(!env.root().join("blobs/sha256").join(d.hex()).exists());
    }
    // To another registry (no mount possible): the missing blobs are fetched from src/plain, then
    // sent in 30 kB chunks.
    env.ok(&[
        "tag",
        &format!("{r}/src/plain:1"),
        &format!("{o}/dst/plain:1"),
    ]);
    let out = env.ok(&["push", &format!("{o}/dst/plain:1")]);
    for d in &plain.diff_ids {
        assert_eq!(
            statuses_for(&out, d.short()).last(),
            Some(&"Pushed"),
            "{out}"
        );
    }
    assert_eq!(
        skopeo_raw(&format!("{o}/dst/plain:1")),
        plain.manifest_bytes
    );
    for (d, size) in plain.layer_digests.iter().zip(&plain.layer_sizes) {
        assert!(*size > 30_000, "the layers span several chunks");
        let blob = other.get_blob("dst/plain", d).unwrap();
        assert_eq!(Digest::of(&blob.body), *d);
    }
    env.assert_blobs_valid();

    // The same image (same config) pulled from a third repository with yet another manifest:
    // pushed back to that repository, it keeps that repository's manifest.
    let same = publish(
        &reg,
        &ImageSpec {
            layers: layers(Comp::None),
            ..ImageSpec::default()
        },
        "src/same:1",
    );
    assert_eq!(same.config_digest, gz.config_digest);
    assert_ne!(same.manifest_digest, gz.manifest_digest);
    env.ok(&["pull", "-q", &format!("{r}/src/same:1")]);
    env.ok(&[
        "tag",
        &format!("{r}/src/same:1"),
        &format!("{r}/src/same:2"),
    ]);
    env.ok(&["push", &format!("{r}/src/same:2")]);
    assert_eq!(skopeo_raw(&format!("{r}/src/same:2")), same.manifest_bytes);

    // And a fresh root pulls it from there.
    pull_fresh(&env, &format!("{r}/src/gz:1"), &format!("{o}/dst/plain:1"));
}

#[test]
fn push_needs_a_login() {
    let src = Registry::start().unwrap();
    let built = publish(&src, &four_layer_image(), "pushsrc/four:1");
    let env = Env::new();
    env.ok(&["pull", "-q", &format!("{}/pushsrc/four:1", src.addr)]);

    // htpasswd: Docker's text without credentials (golden), then login and push.
    let basic = Registry::start_htpasswd("alice", "wonder-land").unwrap();
    let target = format!("{}/priv/four:1", basic.addr);
    env.ok(&["tag", &format!("{}/pushsrc/four:1", src.addr), &target]);
    let (_, want) = &golden_cases("push-auth.txt", &src.addr)[0];
    let want = want.replace("{AUTHREG}", &basic.addr);
    let out = env.run(&["push", &target]);
    assert_same_push(&transcript(&out), &want);
    let out = env.login(&basic.addr, "alice", "wonder-land");
    assert!(out.status.success(), "{out:?}");
    let out = env.ok(&["push", &target]);
    assert!(out.contains(": Pushed\n"), "{out}");
    assert_eq!(
        basic.get_manifest("priv/four", "1").unwrap().body,
        built.manifest_bytes
    );
    // Cross-repository mount with credentials.
    env.ok(&["tag", &target, &format!("{}/priv/copy:1", basic.addr)]);
    let out = env.ok(&["push", &format!("{}/priv/copy:1", basic.addr)]);
    assert_eq!(
        out.matches(": Mounted from priv/four\n").count(),
        4,
        "{out}"
    );

    // Bearer tokens: anonymous push refused, then push and mount with push-scoped tokens.
    let tok = Registry::start_token("alice", "wonder-land").unwrap();
    let target = format!("{}/priv/four:1", tok.addr);
    env.ok(&["tag", &format!("{}/pushsrc/four:1", src.addr), &target]);
    let out = env.run(&["push", &target]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("unauthorized: "), "{err}");
    let out = env.login(&tok.addr, "alice", "wonder-land");
    assert!(out.status.success(), "{out:?}");
    let out = env.ok(&["push", &target]);
    assert_eq!(out.matches(": Pushed\n").count(), 4, "{out}");
    env.ok(&["tag", &target, &format!("{}/priv/copy:1", tok.addr)]);
    let out = env.ok(&["push", &format!("{}/priv/copy:1", tok.addr)]);
    assert_eq!(
        out.matches(": Mounted from priv/four\n").count(),
        4,
        "{out}"
    );
    assert_eq!(
        tok.get_manifest("priv/copy", "1").unwrap().body,
        built.manifest_bytes
    );
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn committed_image_is_pushed_and_pulled_back() {
    if !is_root() {
        eprintln!("skipped: containers' overlay upper directories need root");
        return;
    }
    let reg = Registry::start().unwrap();
    let r = &reg.addr;
    let built = publish(&reg, &four_layer_image(), "pushsrc/four:1");
    let env = Env::new();
    let base = format!("{r}/pushsrc/four:1");
    env.ok(&["pull", "-q", &base]);
    // A container whose upper directory holds a new file (no process needs to run).
    {
        use engine::containers::create::{CreateOptions, create};
        let store = store::Store::open(&env.root(), Default::default()).unwrap();
        let id = engine::images::query::lookup::find_image(store.db(), &base).unwrap();
        let c = create(
            &store,
            &id,
            &CreateOptions {
                image_ref: base.clone(),
                name: Some("push-changed".into()),
                args: vec!["sh".into()],
                ..Default::default()
            },
        )
        .unwrap();
        let upper = runtime::upper_dir(store.root(), &c.id);
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/new"), b"new\n").unwrap();
    }
    env.ok(&["commit", "push-changed", &format!("{r}/push/committed:1")]);
    let out = env.ok(&["push", &format!("{r}/push/committed:1")]);
    // The base layers are mounted from where they were pulled; the new one is pushed.
    assert_eq!(
        out.matches(": Mounted from pushsrc/four\n").count(),
        4,
        "{out}"
    );
    assert_eq!(out.matches(": Pushed\n").count(), 1, "{out}");
    let m: serde_json::Value =
        serde_json::from_slice(&skopeo_raw(&format!("{r}/push/committed:1"))).unwrap();
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 5);
    for (i, d) in built.layer_digests.iter().enumerate() {
        assert_eq!(layers[i]["digest"], d.to_string());
    }
    // zstd touches only the committed layer.
    env.ok(&[
        "tag",
        &format!("{r}/push/committed:1"),
        &format!("{r}/push/committed-z:1"),
    ]);
    let out = env.ok(&[
        "push",
        "--compression",
        "zstd",
        &format!("{r}/push/committed-z:1"),
    ]);
    assert_eq!(out.matches(": Mounted from ").count(), 4, "{out}");
    let mz: serde_json::Value =
        serde_json::from_slice(&skopeo_raw(&format!("{r}/push/committed-z:1"))).unwrap();
    for i in 0..4 {
        assert_eq!(mz["layers"][i], m["layers"][i]);
    }
    assert_eq!(
        mz["layers"][4]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );

    for name in ["push/committed:1", "push/committed-z:1"] {
        let original = format!("{r}/push/committed:1");
        let (_, files) = pull_fresh(&env, &original, &format!("{r}/{name}"));
        assert!(
            files.contains(&("etc/new".into(), "new\n".into())),
            "{files:?}"
        );
    }
}

#[test]
fn multi_arch_pull_pushes_the_platform_manifest() {
    let reg = Registry::start().unwrap();
    let r = &reg.addr;
    let index = publish_index(&reg, &multi_arch_specs(), "pushsrc/multi:1", false);
    let docker = publish(&reg, &sample_docker_image(), "pushsrc/docker:1");
    let env = Env::new();
    env.ok(&[
        "pull",
        "-q",
        "--platform",
        "linux/arm64",
        &format!("{r}/pushsrc/multi:1"),
    ]);
    env.ok(&[
        "tag",
        &format!("{r}/pushsrc/multi:1"),
        &format!("{r}/push/multi:1"),
    ]);
    env.ok(&["push", &format!("{r}/push/multi:1")]);
    let arm = index
        .images
        .iter()
        .find(|i| i.platform.starts_with("linux/arm64"))
        .unwrap();
    assert_eq!(skopeo_raw(&format!("{r}/push/multi:1")), arm.manifest_bytes);
    // A Docker schema 2 image keeps its media type.
    env.ok(&["pull", "-q", &format!("{r}/pushsrc/docker:1")]);
    env.ok(&[
        "tag",
        &format!("{r}/pushsrc/docker:1"),
        &format!("{r}/push/docker:1"),
    ]);
    env.ok(&["push", &format!("{r}/push/docker:1")]);
    let got = reg.get_manifest("push/docker", "1").unwrap();
    assert_eq!(got.body, docker.manifest_bytes);
    assert_eq!(
        got.header("content-type"),
        Some("application/vnd.docker.distribution.manifest.v2+json")
    );
}
