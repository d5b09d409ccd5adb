//! `strata manifest inspect` against the outputs of the docker 28 CLI on the same fixtures
//! (recorded by golden/record-manifest.sh): an OCI manifest, a Docker schema2 manifest, an OCI
//! index and a Docker manifest list, plain and verbose, byte for byte. Docker prints its
//! client-side errors bare; strata prefixes them with `Error: `.

use crate::common::*;
use test_support::{Registry, multi_arch_specs, sample_docker_image, sample_image};

const LIST_DIGEST: &str = "sha256:11f77776b95a55a5edbef316b36fce85d0a1744a39e39c7d4336cea0619beac3";

fn golden(name: &str, reg: &Registry) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/golden")
        .join(name);
    read(&path).replace("{REGISTRY}", &reg.addr)
}

/// A registry holding the four fixtures as `golden/manifest:<fixture>`, as the recording did.
fn registry() -> Registry {
    let reg = Registry::start().unwrap();
    publish(&reg, &sample_image(), "golden/manifest:sample");
    publish(
        &reg,
        &sample_docker_image(),
        "golden/manifest:docker-sample",
    );
    publish_index(
        &reg,
        &multi_arch_specs(),
        "golden/manifest:multi-arch",
        false,
    );
    let list = publish_index(
        &reg,
        &multi_arch_specs(),
        "golden/manifest:manifest-list",
        true,
    );
    assert_eq!(list.digest.to_string(), LIST_DIGEST, "fixture drifted");
    reg
}

#[test]
fn manifest_inspect_matches_docker() {
    let reg = registry();
    let env = Env::new();
    let repo = format!("{}/golden/manifest", reg.addr);
    for fixture in ["sample", "docker-sample", "multi-arch", "manifest-list"] {
        let r = format!("{repo}:{fixture}");
        assert_eq!(
            env.ok(&["manifest", "inspect", "--insecure", &r]),
            golden(&format!("manifest-inspect-{fixture}.txt"), &reg),
            "{fixture}"
        );
        assert_eq!(
            env.ok(&["manifest", "inspect", "--insecure", "-v", &r]),
            golden(&format!("manifest-inspect-{fixture}-verbose.txt"), &reg),
            "{fixture} -v"
        );
    }
    assert_eq!(
        env.ok(&[
            "manifest",
            "inspect",
            "--insecure",
            "--verbose",
            &format!("{repo}@{LIST_DIGEST}")
        ]),
        golden("manifest-inspect-by-digest-verbose.txt", &reg)
    );
    assert_eq!(
        env.ok(&[
            "manifest",
            "inspect",
            "--insecure",
            "-v",
            &format!("{repo}:manifest-list@{LIST_DIGEST}")
        ]),
        golden("manifest-inspect-tag-and-digest-verbose.txt", &reg)
    );
    // Loopback registries are reached over plain HTTP without --insecure as well (strata's rule
    // for 127.0.0.0/8; the docker CLI insists on the flag).
    assert_eq!(
        env.ok(&["manifest", "inspect", &format!("{repo}:sample")]),
        golden("manifest-inspect-sample.txt", &reg)
    );
    // Nothing was stored: the command never opens the store.
    assert!(!env.root().exists(), "manifest inspect created a store");
}

#[test]
fn manifest_inspect_errors_match_docker() {
    let reg = registry();
    let env = Env::new();
    let repo = format!("{}/golden/manifest", reg.addr);
    let mut got = String::new();
    for args in [
        vec!["--insecure".to_string(), format!("{repo}:nope")],
        vec![
            "--insecure".to_string(),
            "-v".to_string(),
            format!("{}/golden/nothere", reg.addr),
        ],
        // MANIFEST_LIST MANIFEST: there is no such local list, so the entry is not there.
        vec![
            "--insecure".to_string(),
            format!("{repo}:manifest-list"),
            format!("{repo}:sample"),
        ],
    ] {
        let mut full = vec!["manifest", "inspect"];
        full.extend(args.iter().map(String::as_str));
        let err = env.fails(&full);
        got.push_str(
            err.strip_prefix("Error: ")
                .unwrap_or_else(|| panic!("{err}")),
        );
    }
    assert_eq!(got, golden("manifest-inspect-errors.txt", &reg));
}

#[test]
fn manifest_inspect_refuses_a_digest_that_does_not_match() {
    let reg = registry();
    let env = Env::new();
    // Fetched by tag, checked against the digest next to it.
    let err = env.fails(&[
        "manifest",
        "inspect",
        &format!("{}/golden/manifest:sample@{LIST_DIGEST}", reg.addr),
    ]);
    assert_eq!(
        err,
        format!("Error: manifest verification failed for digest {LIST_DIGEST}\n")
    );
}
