//! strata's pull output against the outputs a real Docker printed on the same fixture images
//! (recorded by golden/record.sh from dockerd 20.10 + the docker CLI). The registry address is
//! `{REGISTRY}` in the files; digests are literal, the fixtures being deterministic. Docker prints
//! daemon errors as `Error response from daemon: …`; strata, having no daemon, as `Error: …`.

use crate::common::*;
use test_support::{Registry, four_layer_image, sample_image};

fn golden(name: &str, reg: &Registry) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/golden")
        .join(name);
    read(&path).replace("{REGISTRY}", &reg.addr)
}

/// Layer lines whose order depends on timing are compared per layer: the same layers, each
/// starting with `Pulling fs layer` and ending with `Pull complete`, in Docker's vocabulary.
fn assert_same_pull(strata: &str, docker: &str) {
    let (s, d): (Vec<&str>, Vec<&str>) = (strata.lines().collect(), docker.lines().collect());
    assert_eq!(s[0], d[0], "header line");
    assert_eq!(
        s[s.len() - 3..],
        d[d.len() - 3..],
        "Digest, Status and reference lines"
    );
    let ids = |lines: &[&str]| {
        let mut v: Vec<String> = lines
            .iter()
            .filter_map(|l| l.split_once(": ").map(|(id, _)| id.to_string()))
            .filter(|id| id.len() == 12)
            .collect();
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(ids(&s), ids(&d), "the same layers");
    let vocabulary = [
        "Pulling fs layer",
        "Waiting",
        "Verifying Checksum",
        "Download complete",
        "Pull complete",
    ];
    for id in ids(&s) {
        let st = statuses_for(strata, &id);
        assert_eq!(st.first(), Some(&"Pulling fs layer"), "{id}: {st:?}");
        assert_eq!(st.last(), Some(&"Pull complete"), "{id}: {st:?}");
        assert!(st.iter().all(|x| vocabulary.contains(x)), "{id}: {st:?}");
    }
}

#[test]
fn pull_output_matches_docker() {
    let reg = Registry::start().unwrap();
    publish(&reg, &four_layer_image(), "golden/four:1");
    publish(&reg, &sample_image(), "golden/sample:1");
    let env = Env::new();
    let four = format!("{}/golden/four", reg.addr);
    assert_same_pull(
        &env.ok(&["pull", &format!("{four}:1")]),
        &golden("pull-cold-four.txt", &reg),
    );
    assert_eq!(
        env.ok(&["pull", &format!("{four}:1")]),
        golden("pull-up-to-date.txt", &reg)
    );
    let digest = "sha256:0127df45d9eaad084f01d108313ef53e126985682de10c7a87b185d6fbd0d882";
    assert_eq!(
        env.ok(&["pull", &format!("{four}@{digest}")]),
        golden("pull-by-digest-up-to-date.txt", &reg)
    );
    assert_eq!(
        env.ok(&["pull", "-a", &four]),
        golden("pull-all-tags-up-to-date.txt", &reg)
    );
    assert_same_pull(
        &env.ok(&["pull", &format!("{}/golden/sample:1", reg.addr)]),
        &golden("pull-sample-shared-none.txt", &reg),
    );
}

#[test]
fn pull_errors_match_docker() {
    let reg = Registry::start().unwrap();
    publish(&reg, &four_layer_image(), "golden/four:1");
    let env = Env::new();
    let mut got = String::new();
    for r in [
        format!("{}/golden/four:nope", reg.addr),
        format!("{}/golden/nothere:1", reg.addr),
        "127.0.0.1:1/golden/x:1".to_string(),
    ] {
        let out = env.run(&["pull", &r]);
        assert_eq!(out.status.code(), Some(1));
        // Nothing on stdout: "Pulling from" comes only once the registry answered with a manifest.
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{r}");
        got.push_str(&String::from_utf8_lossy(&out.stderr).replacen(
            "Error: ",
            "Error response from daemon: ",
            1,
        ));
    }
    let want = golden("pull-errors.txt", &reg).replace("{REFUSED}", "127.0.0.1:1");
    assert_eq!(got, want);
}
