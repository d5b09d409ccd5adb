//! `strata search` against Debian's docker-registry, which has no `/v1/search`: the catalog
//! fallback (with its notice), the limit, filters, formats and errors as Docker words them, and
//! registries that want credentials; and against strata's own registry, which has it, compared
//! with what Docker printed (golden/record-search.sh).

use crate::common::*;
use base64::Engine as _;
use test_support::{AuthKind, Registry, sample_image};

const NOTICE: &str = "does not support the search API (/v1/search): matching repository names from its catalog (/v2/_catalog) instead";

/// A docker-registry (no `/v1/search`, so strata falls back to its catalog) holding `repos`.
fn registry_with(repos: &[&str]) -> Registry {
    let reg = Registry::start_distribution().unwrap();
    for r in repos {
        publish(&reg, &sample_image(), &format!("{r}:1"));
    }
    reg
}

/// Docker's table for rows with no description, no stars and not official (tabwriter: min width
/// 10, padding 3; the last column unpadded).
fn table(names: &[String]) -> String {
    let w = (names.iter().map(String::len).max().unwrap_or(0) + 3).max(10);
    let mut s = format!("{:<w$}DESCRIPTION   STARS     OFFICIAL\n", "NAME");
    for n in names {
        s.push_str(&format!("{n:<w$}{:<14}{:<10}\n", "", "0"));
    }
    s
}

#[test]
fn search_falls_back_to_the_catalog() {
    let reg = registry_with(&["search/alpha", "other/alphabet", "search/beta"]);
    let env = Env::new();
    let names = [
        format!("{}/other/alphabet", reg.addr),
        format!("{}/search/alpha", reg.addr),
    ];
    let out = env.run(&["search", &format!("{}/ALPHA", reg.addr)]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), table(&names));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("WARNING: {} {NOTICE}\n", reg.addr)
    );
    // The limit cuts the matches, in catalog order.
    assert_eq!(
        env.ok(&["search", "--limit", "1", &format!("{}/alpha", reg.addr)]),
        table(&names[..1])
    );
    // No query after the registry: every repository.
    assert_eq!(
        env.ok(&["search", "--format", "{{.Name}}", &format!("{}/", reg.addr)]),
        format!(
            "{0}/other/alphabet\n{0}/search/alpha\n{0}/search/beta\n",
            reg.addr
        )
    );
    assert_eq!(
        env.ok(&["search", "--format", "json", &format!("{}/beta", reg.addr)]),
        format!(
            "{{\"Description\":\"\",\"IsOfficial\":\"false\",\"Name\":\"{}/search/beta\",\"StarCount\":\"0\"}}\n",
            reg.addr
        )
    );
    assert_eq!(
        env.ok(&[
            "search",
            "--format",
            "table {{.Name}}\\t{{.StarCount}}",
            &format!("{}/beta", reg.addr)
        ]),
        format!(
            "NAME{}STARS\n{}/search/beta   0\n",
            " ".repeat(reg.addr.len() + "/search/beta".len() + 3 - 4),
            reg.addr
        )
    );
    assert_eq!(
        env.ok(&["search", &format!("{}/nothing-like-it", reg.addr)]),
        table(&[])
    );
}

#[test]
fn search_filters_like_the_daemon() {
    let reg = registry_with(&["search/alpha"]);
    let env = Env::new();
    let term = format!("{}/alpha", reg.addr);
    let all = table(&[format!("{}/search/alpha", reg.addr)]);
    // Catalog matches are unofficial and have no stars.
    assert_eq!(
        env.ok(&["search", "-f", "is-official=true", &term]),
        table(&[])
    );
    assert_eq!(env.ok(&["search", "-f", "is-official=0", &term]), all);
    assert_eq!(env.ok(&["search", "--filter", "stars=0", &term]), all);
    assert_eq!(env.ok(&["search", "-f", "stars=1", &term]), table(&[]));
    let deprecated = "WARNING: the \"is-automated\" filter is deprecated, and searching for \"is-automated=true\" will not yield any results in future.\n";
    let out = env.run(&["search", "-f", "is-automated=false", &term]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), all);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with(deprecated));
    // is-automated=true answers nothing, without asking the registry.
    let out = env.run(&["search", "-f", "is-automated=true", &term]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), table(&[]));
    assert_eq!(String::from_utf8_lossy(&out.stderr), deprecated);

    for (args, want) in [
        (vec!["-f", "color=red"], "invalid filter 'color'"),
        (
            vec!["-f", "is-official=maybe"],
            "invalid filter 'is-official=[maybe]'",
        ),
        (
            vec!["-f", "stars=many"],
            "invalid filter 'stars=many': strconv.Atoi: parsing \"many\": invalid syntax",
        ),
        (
            vec!["--limit", "101"],
            "limit 101 is outside the range of [1, 100]",
        ),
        (
            vec!["--limit", "-1"],
            "limit -1 is outside the range of [1, 100]",
        ),
    ] {
        let mut full = vec!["search"];
        full.extend(&args);
        full.push(&term);
        assert_eq!(env.fails(&full), format!("Error: {want}\n"), "{args:?}");
    }
    // A filter without `=` is refused while parsing the flags, as docker's pflag does.
    let out = env.run(&["search", "-f", "stars", &term]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "invalid argument \"stars\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\n\nUsage:  strata search [OPTIONS] TERM\n\nRun 'strata search --help' for more information\n"
    );
    // --limit 0 is the default, 25.
    assert_eq!(env.ok(&["search", "--limit", "0", &term]), all);
}

#[test]
fn search_errors_name_the_registry() {
    let env = Env::new();
    assert_eq!(
        env.fails(&["search", "http://127.0.0.1:5000/x"]),
        "Error: invalid repository name: repository name (http://127.0.0.1:5000/x) should not have a scheme\n"
    );
    assert_eq!(
        env.fails(&["search", "127.0.0.1:1/x"]),
        "Error: Get \"http://127.0.0.1:1/v1/_ping\": dial tcp 127.0.0.1:1: connect: connection refused\n"
    );
    // No registry in the term: Docker Hub's index, which this machine cannot reach. (dockerd
    // 20.10 here: `Get "https://index.docker.io/v1/search?q=alpine&n=25": dial tcp: lookup
    // index.docker.io on <dns server>: no such host`.)
    let err = env.fails(&["search", "alpine"]);
    assert!(
        err.starts_with("Error: Get \"https://index.docker.io/v1/search?q=alpine&n=25\": "),
        "{err}"
    );
}

fn write_credentials(env: &Env, reg: &Registry) {
    let (u, p) = reg.creds.clone().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
    std::fs::write(
        env.docker_config().join("config.json"),
        format!("{{\"auths\":{{\"{}\":{{\"auth\":\"{auth}\"}}}}}}", reg.addr),
    )
    .unwrap();
}

#[test]
fn search_uses_stored_credentials() {
    for reg in [
        Registry::start_htpasswd("alice", "s3cret").unwrap(),
        Registry::start_token("alice", "s3cret").unwrap(),
    ] {
        publish(&reg, &sample_image(), "private/app:1");
        let env = Env::new();
        let term = format!("{}/app", reg.addr);
        let err = env.fails(&["search", &term]);
        let want = match reg.auth {
            AuthKind::Htpasswd => format!(
                "Error: Get \"http://{}/v2/_catalog?n=1000\": no basic auth credentials\n",
                reg.addr
            ),
            _ => "Error: unauthorized: authentication required".to_string(),
        };
        assert!(err.starts_with(&want), "{:?}: {err}", reg.auth);
        write_credentials(&env, &reg);
        assert_eq!(
            env.ok(&["search", &term]),
            table(&[format!("{}/private/app", reg.addr)]),
            "{:?}",
            reg.auth
        );
    }
}

/// The part of golden/search-strata.txt under `$ <command>` (commands end at the next `$ `).
fn golden_section(text: &str, command: &str) -> String {
    let mut out = String::new();
    let mut on = false;
    for line in text.lines() {
        if let Some(c) = line.strip_prefix("$ ") {
            on = c == command;
            continue;
        }
        if on {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(!out.is_empty(), "no golden section {command:?}");
    out
}

/// Against strata's own registry, which serves `/v1/search`: strata prints what the docker 28
/// CLI printed through dockerd for the same repositories and metadata
/// (golden/record-search.sh), no fallback notice.
#[test]
fn search_strata_registry_matches_docker() {
    let reg = Registry::start_strata(std::path::Path::new(env!("CARGO_BIN_EXE_strata"))).unwrap();
    for r in [
        "lab/ubuntu",
        "lab/ubuntu-minimal",
        "tools/ubu-utils",
        "other/thing",
    ] {
        publish(&reg, &sample_image(), &format!("{r}:1"));
    }
    let env = Env::new();
    let root = reg.storage_dir().to_str().unwrap().to_string();
    for (repo, description, stars, official) in [
        (
            "lab/ubuntu",
            "Ubuntu is a Debian-based Linux operating system based on free software.",
            "17000",
            true,
        ),
        (
            "lab/ubuntu-minimal",
            "Minimal Ubuntu:\nsmall & <quick>",
            "12",
            false,
        ),
        (
            "tools/ubu-utils",
            "日本語の説明、とても長い説明文がここに続きます。幅の広い文字",
            "3",
            false,
        ),
    ] {
        let mut args = vec![
            "registry",
            "repo",
            "set",
            "--root",
            &root,
            repo,
            "--description",
            description,
            "--stars",
            stars,
        ];
        if official {
            args.push("--official");
        }
        env.ok(&args);
    }
    let text = read(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/golden/search-strata.txt"),
    );
    let addr = reg.addr.as_str();
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("search {REGISTRY}/ubu", vec![format!("{addr}/ubu")]),
        (
            "search --no-trunc {REGISTRY}/ubu",
            vec!["--no-trunc".into(), format!("{addr}/ubu")],
        ),
        (
            "search --limit 2 {REGISTRY}/ubu",
            vec!["--limit".into(), "2".into(), format!("{addr}/ubu")],
        ),
        (
            "search -f is-official=true {REGISTRY}/ubu",
            vec![
                "-f".into(),
                "is-official=true".into(),
                format!("{addr}/ubu"),
            ],
        ),
        (
            "search -f stars=10 {REGISTRY}/ubu",
            vec!["-f".into(), "stars=10".into(), format!("{addr}/ubu")],
        ),
        (
            "search -f is-official=false -f stars=5 {REGISTRY}/UBU",
            vec![
                "-f".into(),
                "is-official=false".into(),
                "-f".into(),
                "stars=5".into(),
                format!("{addr}/UBU"),
            ],
        ),
        (
            "search --format json {REGISTRY}/ubu",
            vec!["--format".into(), "json".into(), format!("{addr}/ubu")],
        ),
        (
            "search --format {{.Name}}|{{.StarCount}}|{{.IsOfficial}} {REGISTRY}/ubu",
            vec![
                "--format".into(),
                "{{.Name}}|{{.StarCount}}|{{.IsOfficial}}".into(),
                format!("{addr}/ubu"),
            ],
        ),
        (
            "search --format table {{.Name}}\\t{{.Description}} {REGISTRY}/debian",
            vec![
                "--format".into(),
                "table {{.Name}}\\t{{.Description}}".into(),
                format!("{addr}/debian"),
            ],
        ),
        ("search {REGISTRY}/nothing", vec![format!("{addr}/nothing")]),
    ];
    for (command, args) in cases {
        let mut full = vec!["search"];
        full.extend(args.iter().map(String::as_str));
        let out = env.run(&full);
        assert!(out.status.success(), "{command}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            golden_section(&text, command),
            "{command}"
        );
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{command}");
    }
}

/// strata's registry with auth: search asks for `registry:catalog:search` in token mode (Basic
/// in basic mode), and the registry leaves out what the caller may not pull.
#[test]
fn search_strata_registry_filters_by_access() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("users.htpasswd");
    let out = std::process::Command::new("htpasswd")
        .args(["-Bbn", "alice", "s3cret"])
        .output()
        .expect("htpasswd (apache2-utils)");
    std::fs::write(&htpasswd, &out.stdout).unwrap();
    for mode in ["token", "basic"] {
        let config = serde_json::json!({"auth": {
            "htpasswd": htpasswd,
            "mode": mode,
            "access": [
                {"account": "anonymous", "repository": "private/*", "actions": []},
                {"account": "alice", "repository": "*", "actions": ["pull", "push", "delete"]},
            ],
        }})
        .to_string();
        let reg = Registry::start_strata_with(
            std::path::Path::new(env!("CARGO_BIN_EXE_strata")),
            Some(&config),
        )
        .unwrap();
        for repo in ["private/app", "public/app"] {
            let layout = tempfile::tempdir().unwrap();
            let mut l = test_support::OciLayout::new(layout.path()).unwrap();
            l.add_image(&sample_image(), "t").unwrap();
            test_support::push_as(
                layout.path(),
                "t",
                &reg,
                &format!("{repo}:1"),
                Some(("alice", "s3cret")),
            )
            .unwrap();
        }
        let env = Env::new();
        let term = format!("{}/app", reg.addr);
        assert_eq!(
            env.ok(&["search", "--format", "{{.Name}}", &term]),
            "public/app\n",
            "{mode}: anonymous"
        );
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        std::fs::write(
            env.docker_config().join("config.json"),
            format!("{{\"auths\":{{\"{}\":{{\"auth\":\"{auth}\"}}}}}}", reg.addr),
        )
        .unwrap();
        assert_eq!(
            env.ok(&["search", "--format", "{{.Name}}", &term]),
            "private/app\npublic/app\n",
            "{mode}: alice"
        );
    }
}
