//! Local manifest lists — `strata manifest create/annotate/inspect/rm` — against docker-registry,
//! compared with what the docker 28 CLI printed for the same steps on the same fixtures
//! (recorded by golden/record-manifest-list.sh). Docker prints its errors bare; strata prefixes
//! them with `Error: `.

use crate::common::*;
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
        env.ok(&[
            "manifest",
            "create",
            "--insecure",
            &list,
            &amd64,
            &arm64,
            &arm
        ]),
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
    ] {
        let mut full = vec!["manifest"];
        full.extend(args);
        errors.push_str(&error_text(&env, &full));
    }
    // The last line of the golden is `manifest push`'s (tested with push).
    let want = golden("manifest-list-errors.txt", &reg);
    let want: String = want.lines().take(9).map(|l| format!("{l}\n")).collect();
    assert_eq!(errors, want);
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
