//! Pulls of every manifest and layer format, their output, and the resulting store.

use crate::common::*;
use std::os::unix::fs::MetadataExt;
use test_support::{
    Registry, compression_image, multi_arch_specs, sample_docker_image, sample_image,
};

#[test]
fn pull_oci_image_prints_docker_lines_and_records_the_image() {
    let reg = Registry::start().unwrap();
    let built = publish(&reg, &sample_image(), "lab/sample:1.0");
    let env = Env::new();
    let name = format!("{}/lab/sample:1.0", reg.addr);
    let out = env.ok(&["pull", &name]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1.0: Pulling from lab/sample");
    for d in &built.layer_digests {
        let st = statuses_for(&out, d.short());
        assert_eq!(st.first(), Some(&"Pulling fs layer"), "{out}");
        assert_eq!(st.last(), Some(&"Pull complete"), "{out}");
        assert!(
            st.contains(&"Verifying Checksum") && st.contains(&"Download complete"),
            "{out}"
        );
        assert!(
            !out.contains("Downloading"),
            "no byte counters without a TTY:\n{out}"
        );
    }
    let n = lines.len();
    assert_eq!(lines[n - 3], format!("Digest: {}", built.manifest_digest));
    assert_eq!(
        lines[n - 2],
        format!("Status: Downloaded newer image for {name}")
    );
    assert_eq!(lines[n - 1], name);

    let v = env.inspect(&name);
    assert_eq!(v["Id"], built.config_digest.to_string());
    assert_eq!(v["RepoTags"], serde_json::json!([name]));
    assert_eq!(
        v["RepoDigests"],
        serde_json::json!([format!("{}/lab/sample@{}", reg.addr, built.manifest_digest)])
    );
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Os"], "linux");
    let diff_ids: Vec<String> = built.diff_ids.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        v["RootFS"],
        serde_json::json!({"Type": "layers", "Layers": diff_ids})
    );
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["/bin/tool"]));
    assert_eq!(v["Config"]["Labels"]["org.example.fixture"], "sample");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Id",
            "RepoTags",
            "RepoDigests",
            "Parent",
            "Comment",
            "Created",
            "DockerVersion",
            "Author",
            "Config",
            "Architecture",
            "Os",
            "Size",
            "GraphDriver",
            "RootFS",
            "Metadata"
        ]
    );

    // Raw bytes are kept: the manifest and config blobs hash to their digests.
    assert!(
        env.root()
            .join("blobs/sha256")
            .join(built.manifest_digest.hex())
            .exists()
    );
    assert!(
        env.root()
            .join("blobs/sha256")
            .join(built.config_digest.hex())
            .exists()
    );
    assert_eq!(env.assert_blobs_valid(), 4);
    assert_eq!(env.layer_dirs().len(), 2);

    let images = env.ok(&["images"]);
    let rows: Vec<&str> = images.lines().collect();
    assert_eq!(rows.len(), 2, "{images}");
    assert!(
        rows[0].starts_with("REPOSITORY") && rows[0].contains("IMAGE ID"),
        "{images}"
    );
    let cells: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!(cells[0], format!("{}/lab/sample", reg.addr));
    assert_eq!(cells[1], "1.0");
    assert_eq!(cells[2], built.config_digest.short());
    assert_eq!(
        env.ok(&["images", "-q"]).trim(),
        built.config_digest.short()
    );

    // Pulling again: nothing to download, Docker's "up to date" lines only.
    let again = env.ok(&["pull", &name]);
    assert_eq!(
        again,
        format!(
            "1.0: Pulling from lab/sample\nDigest: {}\nStatus: Image is up to date for {name}\n{name}\n",
            built.manifest_digest
        )
    );
}

#[test]
fn union_view_honours_overrides_whiteouts_opaque_dirs_and_links() {
    let reg = Registry::start().unwrap();
    publish(&reg, &sample_image(), "lab/union:latest");
    let name = format!("{}/lab/union", reg.addr);
    for driver in ["overlay", "copy"] {
        let env = Env::new().with_var("STRATA_SNAPSHOTTER", driver);
        let out = env.ok(&["pull", &name]);
        assert!(
            out.starts_with("Using default tag: latest\nlatest: Pulling from lab/union\n"),
            "{out}"
        );
        assert!(out.ends_with(&format!("{name}:latest\n")), "{out}");
        let m = Mounted::new(&env, &name);
        let p = &m.path.clone();
        assert_eq!(
            read(&p.join("etc/a")),
            "a2\n",
            "{driver}: the later layer's file wins"
        );
        assert!(!p.join("etc/b").exists(), "{driver}: a whiteout deletes");
        assert!(
            !p.join("dir/x").exists(),
            "{driver}: an opaque directory hides what is below"
        );
        assert_eq!(read(&p.join("dir/y")), "y\n");
        assert_eq!(
            std::fs::read_link(p.join("etc/link")).unwrap().to_str(),
            Some("a")
        );
        assert_eq!(
            read(&p.join("etc/hard")),
            "a1\n",
            "{driver}: the hard link keeps layer 1's content"
        );
        let tool = std::fs::metadata(p.join("bin/tool")).unwrap();
        assert_eq!(tool.mode() & 0o777, 0o755);
        // No overlay whiteout devices or AUFS markers show through.
        assert!(!p.join("etc/.wh.b").exists() && !p.join("dir/.wh..wh..opq").exists());
        assert!(
            std::fs::write(p.join("etc/new"), "x").is_err(),
            "{driver}: the view is read-only"
        );
        // Mounting again gives the same path.
        assert_eq!(
            env.ok(&["image", "mount", &name]).trim(),
            p.to_str().unwrap()
        );
        assert_eq!(env.inspect(&name)["GraphDriver"]["Name"], driver);
        drop(m);
        assert!(
            !p.exists() || std::fs::read_dir(p).unwrap().next().is_none(),
            "{driver}: unmounted"
        );
        let err = env.fails(&["image", "unmount", &name]);
        assert!(err.contains("is not mounted"), "{err}");
    }
}

#[test]
fn tty_progress_redraws_lines_in_place() {
    let reg = Registry::start().unwrap();
    let built = publish(&reg, &sample_image(), "lab/tty:1");
    let env = Env::new();
    let name = format!("{}/lab/tty:1", reg.addr);
    // On a pseudo-terminal, as a user's shell would run it.
    let out = env.run_on_tty(&format!("pull {name}"));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\x1b[2K"),
        "lines are redrawn in place: {text:?}"
    );
    let first = built.layer_digests[0].short();
    assert!(
        text.contains(&format!("{first}: Downloading [")),
        "a progress bar: {text:?}"
    );
    assert!(
        text.contains(&format!("{first}: Pull complete")),
        "{text:?}"
    );
    assert!(
        text.contains(&format!("Status: Downloaded newer image for {name}")),
        "{text:?}"
    );
}

#[test]
fn pull_by_digest_and_tag_with_digest_and_quiet() {
    let reg = Registry::start().unwrap();
    let built = publish(&reg, &sample_image(), "lab/dig:v1");
    let env = Env::new();
    let by_digest = format!("{}/lab/dig@{}", reg.addr, built.manifest_digest);
    let out = env.ok(&["pull", &by_digest]);
    assert!(
        out.starts_with(&format!("{by_digest}: Pulling from lab/dig\n")),
        "{out}"
    );
    assert!(
        out.ends_with(&format!(
            "Status: Downloaded newer image for {by_digest}\n{by_digest}\n"
        )),
        "{out}"
    );
    let v = env.inspect(&by_digest);
    assert_eq!(v["RepoTags"], serde_json::json!([]));
    assert_eq!(v["RepoDigests"], serde_json::json!([by_digest]));

    // name:tag@digest: the digest wins (a tag that doesn't exist is not asked for).
    let both = format!("{}/lab/dig:nosuchtag@{}", reg.addr, built.manifest_digest);
    let out = env.ok(&["pull", "-q", &both]);
    assert_eq!(out, format!("{both}\n"));

    let env2 = Env::new();
    let q = env2.ok(&["image", "pull", "-q", &format!("{}/lab/dig:v1", reg.addr)]);
    assert_eq!(q, format!("{}/lab/dig:v1\n", reg.addr));
}

#[test]
fn pull_all_tags() {
    let reg = Registry::start().unwrap();
    let a = publish(&reg, &sample_image(), "lab/many:a");
    let b = publish(&reg, &compression_image(), "lab/many:b");
    let env = Env::new();
    let name = format!("{}/lab/many", reg.addr);
    assert!(
        env.fails(&["pull", "-a", &format!("{name}:a")])
            .contains("tag can't be used with --all-tags/-a")
    );
    let out = env.ok(&["pull", "--all-tags", &name]);
    assert!(
        out.contains("a: Pulling from lab/many\n") && out.contains("b: Pulling from lab/many\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("Digest: {}", a.manifest_digest))
            && out.contains(&format!("Digest: {}", b.manifest_digest))
    );
    assert!(
        out.ends_with(&format!(
            "Status: Downloaded newer image for {name}\n{name}\n"
        )),
        "{out}"
    );
    assert_eq!(env.ok(&["images", "-q"]).lines().count(), 2);
}

#[test]
fn multi_arch_index_picks_the_platform() {
    let reg = Registry::start().unwrap();
    let index = publish_index(&reg, &multi_arch_specs(), "lab/multi:1", false);
    let list = publish_index(&reg, &multi_arch_specs(), "lab/multi:list", true);
    for (tag, root) in [("1", &index), ("list", &list)] {
        let name = format!("{}/lab/multi:{tag}", reg.addr);
        for (platform, want) in [
            (None, "linux/amd64"),
            (Some("linux/arm64"), "linux/arm64/v8"),
            (Some("linux/arm64/v8"), "linux/arm64/v8"),
            (Some("linux/arm"), "linux/arm/v7"),
            (Some("linux/arm/v7"), "linux/arm/v7"),
        ] {
            let env = Env::new();
            let mut args = vec!["pull"];
            if let Some(p) = platform {
                args.extend(["--platform", p]);
            }
            args.push(&name);
            let out = env.ok(&args);
            assert!(
                out.contains(&format!("Digest: {}", root.digest)),
                "the index digest is reported:\n{out}"
            );
            let v = env.inspect(&name);
            assert_eq!(
                v["RepoDigests"],
                serde_json::json!([format!("{}/lab/multi@{}", reg.addr, root.digest)]),
                "RepoDigests record the index digest"
            );
            let m = Mounted::new(&env, &name);
            assert_eq!(
                read(&m.path.join("arch.txt")).trim(),
                want,
                "platform {platform:?} of {tag}"
            );
        }
        let env = Env::new();
        let err = env.fails(&["pull", "--platform", "linux/s390x", &name]);
        assert!(
            err.contains("no matching manifest for linux/s390x in the manifest list entries"),
            "{err}"
        );
        assert_eq!(env.ok(&["images", "-q"]), "");
    }
}

#[test]
fn docker_schema2_and_every_compression() {
    let reg = Registry::start().unwrap();
    let docker = publish(&reg, &sample_docker_image(), "lab/docker:1");
    assert_eq!(
        docker.manifest_media_type,
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let comp = publish(&reg, &compression_image(), "lab/comp:1");
    let env = Env::new();
    env.ok(&["pull", &format!("{}/lab/docker:1", reg.addr)]);
    env.ok(&["pull", &format!("{}/lab/comp:1", reg.addr)]);
    let m = Mounted::new(&env, &format!("{}/lab/comp:1", reg.addr));
    for name in ["gzip", "zstd", "none"] {
        assert_eq!(
            read(&m.path.join(format!("layer-{name}.txt"))),
            format!("{name}\n")
        );
    }
    let v = env.inspect(&format!("{}/lab/comp:1", reg.addr));
    assert_eq!(v["Id"], comp.config_digest.to_string());
    // The Docker image shares its layers' content with nothing else here, but both are listed.
    assert_eq!(env.ok(&["images", "-q"]).lines().count(), 2);
}

#[test]
fn shared_layers_are_stored_once_and_reported_as_already_existing() {
    let reg = Registry::start().unwrap();
    let base = sample_image();
    let mut derived = sample_image();
    derived.layers.push(test_support::LayerSpec::new(
        test_support::Comp::Gzip,
        vec![test_support::Entry::file("extra.txt", "extra\n")],
    ));
    let b = publish(&reg, &base, "lab/base:1");
    let d = publish(&reg, &derived, "lab/derived:1");
    let env = Env::new();
    env.ok(&["pull", &format!("{}/lab/base:1", reg.addr)]);
    let out = env.ok(&["pull", &format!("{}/lab/derived:1", reg.addr)]);
    for l in &b.layer_digests {
        assert_eq!(statuses_for(&out, l.short()), ["Already exists"], "{out}");
    }
    assert_eq!(
        statuses_for(&out, d.layer_digests[2].short()).last(),
        Some(&"Pull complete")
    );
    assert_eq!(env.layer_dirs().len(), 3);
}

#[test]
fn bad_references_get_dockers_errors() {
    let env = Env::new();
    for (input, want) in [
        (
            "Alpine",
            "invalid reference format: repository name (library/Alpine) must be lowercase",
        ),
        ("a:b:c", "invalid reference format"),
        (
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "invalid repository name (0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef), cannot specify 64-byte hexadecimal strings",
        ),
    ] {
        let err = env.fails(&["pull", input]);
        assert_eq!(err, format!("Error: {want}\n"));
    }
    let out = env.run(&["pull", "--no-such-flag", "x"]);
    assert_eq!(out.status.code(), Some(125));
    let err = env.fails(&["image", "inspect", "nope"]);
    assert_eq!(err, "Error: No such image: nope:latest\n");
}
