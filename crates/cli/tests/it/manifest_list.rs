//! Local manifest lists — `strata manifest create/annotate/inspect/push/rm` — against docker-registry,
//! compared with what the docker 28 CLI printed for the same steps on the same fixtures
//! (recorded by golden/record-manifest-list.sh). Docker prints its errors bare; strata prefixes
//! them with `Error: `.

use crate::common::*;
use base64::Engine as _;
use test_support::proxy::Fault;
use test_support::{ImageSpec, Registry, multi_arch_specs};

const ARCHES: [&str; 3] = ["amd64", "arm64", "arm"];

fn golden(name: &str, reg: &Registry) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/golden")
        .join(name);
    read(&path).replace("{REGISTRY}", &reg.addr)
}

/// One platform of the multi-arch fixture as an image of its own (fixture-layout's
/// `arch-<arch>` / `docker-arch-<arch>`).
fn arch_image(arch: &str, docker: bool) -> ImageSpec {
    let mut spec = multi_arch_specs()
        .into_iter()
        .find(|s| s.arch == arch)
        .unwrap();
    spec.docker_media_types = docker;
    spec
}

/// The registry as the recording had it: `golden/ml:<arch>` (OCI), `golden/mld:<arch>` (Docker)
/// and the multi-arch Docker list `golden/manifest:manifest-list`.
fn registry() -> Registry {
    let reg = Registry::start().unwrap();
    for arch in ARCHES {
        publish(&reg, &arch_image(arch, false), &format!("golden/ml:{arch}"));
        publish(&reg, &arch_image(arch, true), &format!("golden/mld:{arch}"));
    }
    publish_index(
        &reg,
        &multi_arch_specs(),
        "golden/manifest:manifest-list",
        true,
    );
    reg
}

/// stderr of a failing run, without strata's `Error: ` prefix.
/// `strata manifest create FLAGS… LIST REPO:ARCH…`; returns stdout.
fn create_list(env: &Env, flags: &[&str], list: &str, repo: &str, arches: &[&str]) -> String {
    let entries: Vec<String> = arches.iter().map(|a| format!("{repo}:{a}")).collect();
    let mut args = vec!["manifest", "create"];
    args.extend(flags);
    args.push(list);
    args.extend(entries.iter().map(String::as_str));
    env.ok(&args)
}

fn error_text(env: &Env, args: &[&str]) -> String {
    let err = env.fails(args);
    err.strip_prefix("Error: ")
        .unwrap_or_else(|| panic!("{args:?}: {err}"))
        .to_string()
}

#[test]
fn local_lists_match_docker() {
    let reg = registry();
    let env = Env::new();
    let r = format!("{}/golden/ml", reg.addr);
    let (list, amd64, arm64, arm) = (
        format!("{r}:list"),
        format!("{r}:amd64"),
        format!("{r}:arm64"),
        format!("{r}:arm"),
    );
    assert_eq!(
        create_list(&env, &["--insecure"], &list, &r, &ARCHES),
        golden("manifest-list-created.txt", &reg)
    );
    assert_eq!(
        env.ok(&["manifest", "inspect", &list]),
        golden("manifest-list-inspect.txt", &reg)
    );
    assert_eq!(
        env.ok(&["manifest", "inspect", "-v", &list]),
        golden("manifest-list-inspect-verbose.txt", &reg)
    );
    assert_eq!(
        env.ok(&["manifest", "inspect", &list, &arm64]),
        golden("manifest-list-inspect-entry.txt", &reg)
    );
    assert_eq!(
        env.ok(&["manifest", "inspect", "-v", &list, &arm64]),
        golden("manifest-list-inspect-entry-verbose.txt", &reg)
    );
    env.ok(&[
        "manifest",
        "annotate",
        &list,
        &arm,
        "--variant",
        "v6",
        "--os-version",
        "1.0",
        "--os-features",
        "f1,f2",
        "--os-features",
        "f1",
    ]);
    assert_eq!(
        env.ok(&["manifest", "inspect", "-v", &list, &arm]),
        golden("manifest-list-annotated-entry-verbose.txt", &reg)
    );

    let nope = format!("{r}:nope");
    let l2 = format!("{r}:l2");
    let other_list = format!("{}/golden/manifest:manifest-list", reg.addr);
    let mut errors = String::new();
    for args in [
        vec!["create", "--insecure", &list, &amd64],
        vec!["create", "--insecure", &l2, &other_list],
        vec!["create", "--insecure", &l2, &nope],
        vec!["annotate", &list, &nope, "--arch", "arm"],
        vec!["annotate", &list, &amd64, "--arch", "aarch64"],
        vec!["annotate", &list, &amd64, "--os", "linux", "--arch", "mips"],
        vec!["inspect", &list, &nope],
        vec!["rm", &nope, &format!("{r}:list-nope")],
        vec!["push", "--insecure", &nope],
    ] {
        let mut full = vec!["manifest"];
        full.extend(args);
        errors.push_str(&error_text(&env, &full));
    }
    assert_eq!(errors, golden("manifest-list-errors.txt", &reg));
    // Failed creations left no list behind.
    assert!(env.run(&["manifest", "rm", &l2]).status.code() == Some(1));

    assert_eq!(
        env.ok(&["manifest", "create", "--amend", "--insecure", &list, &amd64]),
        golden("manifest-list-amended.txt", &reg)
    );
    // Amending kept the annotated entry as it was.
    assert_eq!(
        env.ok(&["manifest", "inspect", "-v", &list, &arm]),
        golden("manifest-list-annotated-entry-verbose.txt", &reg)
    );

    env.ok(&["manifest", "rm", &list]);
    assert_eq!(
        error_text(&env, &["manifest", "inspect", &list, &arm]),
        format!("No such manifest: {arm}\n")
    );
    // The store holds nothing else: no temporary files or empty lists were left.
    let left: Vec<_> = std::fs::read_dir(env.root().join("manifests"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn local_list_refuses_entries_from_another_registry() {
    let reg = registry();
    let env = Env::new();
    let entry = format!("{}/golden/ml:amd64", reg.addr);
    env.ok(&["manifest", "create", "other.example:5000/x:list", &entry]);
    assert_eq!(
        error_text(&env, &["manifest", "inspect", "other.example:5000/x:list"]),
        format!(
            "failed to assemble ManifestDescriptor: cannot use source images from a different registry than the target image: {} != other.example:5000\n",
            reg.addr
        )
    );
    // The verbose form lists the entries all the same, as Docker's does.
    let v = env.ok(&["manifest", "inspect", "-v", "other.example:5000/x:list"]);
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    assert_eq!(v[0]["Ref"], entry.as_str());
}

#[test]
fn concurrent_creates_of_one_list_leave_one_whole_list() {
    let reg = registry();
    let env = Env::new();
    let r = format!("{}/golden/ml", reg.addr);
    let list = format!("{r}:race");
    let children: Vec<_> = (0..6)
        .map(|_| {
            env.cmd()
                .args(["manifest", "create", &list])
                .args(ARCHES.iter().map(|a| format!("{r}:{a}")))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outcomes: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let won = outcomes.iter().filter(|o| o.status.success()).count();
    assert_eq!(won, 1, "exactly one create wins");
    for o in outcomes.iter().filter(|o| !o.status.success()) {
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            "Error: refusing to amend an existing manifest list with no --amend flag\n"
        );
    }
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["manifest", "inspect", &list])).unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 3);
}

/// `skopeo inspect --raw` of `reference` (plain HTTP).
fn raw_manifest(reference: &str) -> String {
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .expect("running skopeo");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn manifest_push_matches_docker() {
    let reg = registry();
    let env = Env::new();
    let r = format!("{}/golden/ml", reg.addr);
    let list = format!("{r}:list");
    create_list(&env, &["--insecure"], &list, &r, &ARCHES);
    env.ok(&[
        "manifest",
        "annotate",
        &list,
        &format!("{r}:arm"),
        "--variant",
        "v6",
        "--os-version",
        "1.0",
        "--os-features",
        "f1,f2",
    ]);
    // The same list bytes as Docker pushed, so the same digest.
    assert_eq!(
        env.ok(&["manifest", "push", "--insecure", &list]),
        golden("manifest-list-push.txt", &reg)
    );
    assert_eq!(
        raw_manifest(&list),
        golden("manifest-list-pushed.json", &reg)
    );
    // Without --purge the local list stays.
    env.ok(&["manifest", "inspect", &list, &format!("{r}:amd64")]);
    assert_eq!(
        error_text(
            &env,
            &["manifest", "push", "--insecure", &format!("{r}:nope")]
        ),
        golden("manifest-list-errors.txt", &reg)
            .lines()
            .last()
            .map(|l| format!("{l}\n"))
            .unwrap()
    );

    // Docker media types give a Docker manifest list; --purge drops the local list, so inspect
    // then reads the pushed one from the registry.
    let rd = format!("{}/golden/mld", reg.addr);
    let dlist = format!("{rd}:list");
    create_list(&env, &[], &dlist, &rd, &ARCHES);
    assert_eq!(
        env.ok(&["manifest", "push", "--purge", &dlist]),
        golden("manifest-list-push-docker.txt", &reg)
    );
    assert_eq!(
        raw_manifest(&dlist),
        golden("manifest-list-pushed-docker.json", &reg)
    );
    assert_eq!(
        env.ok(&["manifest", "inspect", &dlist]),
        golden("manifest-list-after-purge.txt", &reg)
    );

    // A list in another repository: blobs mounted, manifests pushed there by digest.
    let other = format!("{}/golden/ml-other:list", reg.addr);
    create_list(&env, &[], &other, &r, &["amd64", "arm64"]);
    assert_eq!(
        env.ok(&["manifest", "push", &other]),
        golden("manifest-list-push-other-repo.txt", &reg)
    );

    // The pushed lists serve multi-arch pulls. (The annotated arm entry asks for OS features
    // and an OS version no plain `--platform` offers, so containerd's matching skips it.)
    let err = env.fails(&["pull", "--platform", "linux/arm/v6", &list]);
    assert_eq!(
        err,
        "Error: no matching manifest for linux/arm/v6 in the manifest list entries\n"
    );
    for (l, platform, want) in [
        (&list, "linux/arm64", "arm64/v8"),
        (&dlist, "linux/arm/v7", "arm/v7"),
        (&other, "linux/amd64", "amd64/"),
    ] {
        env.ok(&["pull", "-q", "--platform", platform, l]);
        let v = env.inspect(l);
        let got = format!(
            "{}/{}",
            v["Architecture"].as_str().unwrap(),
            v["Variant"].as_str().unwrap_or_default()
        );
        assert_eq!(got, want, "{l} {platform}");
        env.ok(&["rmi", l]);
    }
}

#[test]
fn manifest_push_oci_index_on_request() {
    let reg = registry();
    let env = Env::new();
    let rd = format!("{}/golden/mld", reg.addr);
    let list = format!("{rd}:oci");
    create_list(&env, &[], &list, &rd, &["amd64", "arm64"]);
    let digest = env.ok(&["manifest", "push", "--oci", &list]);
    let raw = raw_manifest(&list);
    assert_eq!(
        digest.trim(),
        oci_model::Digest::of(raw.as_bytes()).to_string()
    );
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(
        v["manifests"][0]["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
}

#[test]
fn manifest_push_copies_blobs_a_registry_does_not_mount() {
    let reg = registry();
    let proxy = fault_proxy(
        &reg,
        Fault::DropQuery {
            path_contains: "mount=".into(),
            times: u32::MAX,
        },
    );
    let env = Env::new();
    let r = format!("{}/golden/ml", proxy.addr);
    let list = format!("{}/golden/copied:list", proxy.addr);
    create_list(&env, &[], &list, &r, &["amd64", "arm"]);
    let out = env.ok(&["manifest", "push", "--purge", &list]);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.starts_with(&format!("Pushed ref {}/golden/copied@sha256:", proxy.addr)));
    let dropped = proxy
        .requests()
        .iter()
        .filter(|q| q.faults.iter().any(|f| f == "drop query"))
        .count();
    assert_eq!(
        dropped, 4,
        "a config and a layer per entry went as plain uploads"
    );
    env.ok(&["pull", "-q", "--platform", "linux/arm/v7", &list]);
    assert_eq!(
        env.ok(&["image", "inspect", "--format", "{{.Architecture}}", &list]),
        "arm\n"
    );
    // The copies' temporary files are gone, and so is the purged list.
    let tmp: Vec<_> = std::fs::read_dir(env.root().join("tmp"))
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        tmp.iter()
            .all(|n| !n.to_string_lossy().starts_with("manifest-blob")),
        "{tmp:?}"
    );
    assert_eq!(
        std::fs::read_dir(env.root().join("manifests"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn manifest_push_needs_credentials_where_the_registry_wants_them() {
    let reg = Registry::start_htpasswd("alice", "s3cret").unwrap();
    publish(&reg, &arch_image("amd64", false), "private/app:amd64");
    let env = Env::new();
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    let config = env.docker_config().join("config.json");
    std::fs::write(
        &config,
        format!("{{\"auths\":{{\"{}\":{{\"auth\":\"{auth}\"}}}}}}", reg.addr),
    )
    .unwrap();
    let list = format!("{}/private/app:list", reg.addr);
    create_list(
        &env,
        &[],
        &list,
        &format!("{}/private/app", reg.addr),
        &["amd64"],
    );
    std::fs::remove_file(&config).unwrap();
    let err = env.fails(&["manifest", "push", &list]);
    assert_eq!(
        err,
        format!(
            "Error: failed to put manifest {list}: Put \"http://{}/v2/private/app/manifests/list\": no basic auth credentials\n",
            reg.addr
        )
    );
    std::fs::write(
        &config,
        format!("{{\"auths\":{{\"{}\":{{\"auth\":\"{auth}\"}}}}}}", reg.addr),
    )
    .unwrap();
    let digest = env.ok(&["manifest", "push", &list]);
    assert!(digest.starts_with("sha256:"), "{digest}");
}
