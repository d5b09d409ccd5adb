//! `tag`, `history`, `info` and `system df` against the outputs a real Docker printed on the same
//! fixture images (docker 28 CLI + dockerd 20.10, recorded by golden/record-history.sh). Each test
//! runs the recorder's command sequence through strata and compares the whole transcript. Dates
//! print in UTC (TZ=UTC on both sides); "N years ago" is compared without N, which moves with the
//! calendar.

use crate::common::*;
use test_support::{Registry, four_layer_image, history_image, no_history_image};

fn golden(name: &str, reg: &Registry) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/golden")
        .join(name);
    read(&path).replace("{REGISTRY}", &reg.addr)
}

/// Replaces the number in every "N years ago" with `#` (same width for 1-digit numbers).
fn without_years(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(" years ago") {
        let head = &rest[..i];
        let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        out.push_str(&head[..head.len() - digits]);
        out.push_str(&"#".repeat(digits));
        out.push_str(" years ago");
        rest = &rest[i + " years ago".len()..];
    }
    out.push_str(rest);
    out
}

/// Three images like the recorder's: history (config history with empty layers, comments, wide
/// characters), nohist (no config history) and four (sharing all of nohist's layers).
fn setup() -> (Registry, Env) {
    let reg = Registry::start().unwrap();
    publish(&reg, &history_image(), "hist/history:1");
    publish(&reg, &no_history_image(), "hist/nohist:1");
    publish(&reg, &four_layer_image(), "hist/four:1");
    let env = Env::new().with_var("TZ", "UTC");
    for r in ["history:1", "nohist:1", "four:1"] {
        env.ok(&["pull", "-q", &format!("{}/hist/{r}", reg.addr)]);
    }
    (reg, env)
}

/// Appends stdout, or on failure Docker's daemon-error form of stderr and `exit N`.
fn transcript(env: &Env, out: &mut String, args: &[&str]) {
    let o = env.run(args);
    out.push_str(&String::from_utf8_lossy(&o.stdout));
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        out.push_str(&err.replacen("Error: ", "Error response from daemon: ", 1));
        out.push_str(&format!("exit {}\n", o.status.code().unwrap_or(-1)));
    }
}

#[test]
fn history_matches_docker() {
    let (reg, env) = setup();
    let h = format!("{}/hist/history:1", reg.addr);
    let mut got = String::new();
    let mut step = |title: &str, args: &[&str]| {
        got.push_str(&format!("$ {title}\n"));
        transcript(&env, &mut got, args);
    };
    step("history", &["history", &h]);
    step("history -H=false", &["history", "-H=false", &h]);
    step(
        "history --human=false --no-trunc",
        &["history", "--human=false", "--no-trunc", &h],
    );
    step("history -q", &["image", "history", "-q", &h]);
    step(
        "history -q --no-trunc",
        &["history", "-q", "--no-trunc", &h],
    );
    let raw = "{{.ID}}|{{.CreatedAt}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}";
    step(
        &format!("history --format {raw}"),
        &["history", "--format", raw, &h],
    );
    let table = r"table {{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
    step(
        &format!("history -H=false --format {table}"),
        &["history", "-H=false", "--format", table, &h],
    );
    step(
        "history -q --format {{.Size}}",
        &["history", "-q", "--format", "{{.Size}}", &h],
    );
    step(
        "history --format json -H=false",
        &["history", "--format", "json", "-H=false", &h],
    );
    step(
        "history nohist",
        &["history", &format!("{}/hist/nohist:1", reg.addr)],
    );
    step(
        "history four",
        &["history", "-H=false", &format!("{}/hist/four:1", reg.addr)],
    );
    step(
        "history missing",
        &["history", &format!("{}/hist/nope:1", reg.addr)],
    );
    assert_eq!(
        without_years(&got),
        without_years(&golden("history.txt", &reg))
    );
}

/// `name:tag id` lines of `strata images` for repositories containing `filter`, sorted.
fn tagged(env: &Env, filter: &str) -> String {
    let out = env.ok(&["images"]);
    let mut lines: Vec<String> = out
        .lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            (c[0].contains(filter)).then(|| format!("{}:{} {}\n", c[0], c[1], c[2]))
        })
        .collect();
    lines.sort();
    lines.concat()
}

#[test]
fn tag_matches_docker() {
    let (reg, env) = setup();
    let h = format!("{}/hist/history:1", reg.addr);
    let id = env.inspect(&h)["Id"].as_str().unwrap().to_string();
    let hex = id.trim_start_matches("sha256:");
    let tagged_repo = format!("{}/hist/tagged", reg.addr);
    let mut got = String::from("$ tag (no output)\n");
    transcript(&env, &mut got, &["tag", &h, &tagged_repo]);
    transcript(
        &env,
        &mut got,
        &["image", "tag", hex, &format!("{tagged_repo}:v2")],
    );
    got.push_str(&tagged(&env, "/hist/tagged"));
    got.push_str("$ tag moves a tag\n");
    transcript(
        &env,
        &mut got,
        &[
            "tag",
            &format!("{}/hist/four:1", reg.addr),
            &format!("{tagged_repo}:v2"),
        ],
    );
    got.push_str(&tagged(&env, "/hist/tagged"));
    got.push_str("$ tag errors\n");
    let zeros = "0".repeat(64);
    for (src, target) in [
        (
            format!("{}/hist/nope:1", reg.addr),
            format!("{}/hist/x", reg.addr),
        ),
        (h.clone(), format!("{}/hist/x@sha256:{zeros}", reg.addr)),
        (h.clone(), "sha256:abc".to_string()),
        (h.clone(), "sha256".to_string()),
        (h.clone(), "Hist/Upper".to_string()),
        (h.clone(), format!("{}/hist/x:bad@tag", reg.addr)),
    ] {
        transcript(&env, &mut got, &["tag", &src, &target]);
    }
    assert_eq!(got, golden("tag.txt", &reg));

    // The moved tag's previous image keeps its other names; the new tag records LastTagTime.
    let four = env.inspect(&format!("{tagged_repo}:v2"));
    assert_ne!(
        four["Metadata"]["LastTagTime"].as_str().unwrap(),
        "0001-01-01T00:00:00Z"
    );
    let tags = env.inspect(&h)["RepoTags"].clone();
    assert_eq!(
        tags,
        serde_json::json!([h, format!("{tagged_repo}:latest")])
    );
}

/// Cells of a table line (cells are separated by 2+ spaces; cells hold single spaces at most).
fn cells(l: &str) -> String {
    l.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The image rows of `system df -v` sorted (Docker orders images created at the same second
/// arbitrarily) and compared by cells: their widths depend on the registry address, whose port
/// differs between the recording and the test.
fn sort_df_images(s: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut block: Vec<String> = Vec::new();
    let mut in_images = false;
    for l in s.lines() {
        if l.starts_with("REPOSITORY ") {
            in_images = true;
            out.push(cells(l));
            continue;
        }
        if in_images && !l.is_empty() {
            block.push(cells(l));
            continue;
        }
        if in_images {
            block.sort();
            out.append(&mut block);
            in_images = false;
        }
        out.push(l.to_string());
    }
    out.append(&mut block);
    out.join("\n") + "\n"
}

#[test]
fn system_df_matches_docker() {
    let (reg, env) = setup();
    let mut got = String::new();
    let mut step = |title: &str, args: &[&str]| {
        got.push_str(&format!("$ {title}\n"));
        transcript(&env, &mut got, args);
    };
    step("system df", &["system", "df"]);
    step("system df -v", &["system", "df", "-v"]);
    step(
        "system df --format {{json .}}",
        &["system", "df", "--format", "{{json .}}"],
    );
    let table = r"table {{.Type}}\t{{.Size}}\t{{.Reclaimable}}";
    step(
        &format!("system df --format {table}"),
        &["system", "df", "--format", table],
    );
    assert_eq!(
        sort_df_images(&without_years(&got)),
        sort_df_images(&without_years(&golden("system-df.txt", &reg)))
    );

    // -v with a template runs once over {Images, Containers, Volumes, BuildCache}.
    let out = env.ok(&["system", "df", "-v", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let images = v["Images"].as_array().unwrap();
    assert_eq!(images.len(), 3);
    let history = images
        .iter()
        .find(|i| i["Repository"] == format!("{}/hist/history", reg.addr))
        .unwrap();
    assert_eq!(history["Size"], "1.51kB");
    assert_eq!(history["UniqueSize"], "1.515kB");
    assert_eq!(history["CreatedAt"], "2023-11-14 22:13:21 +0000 UTC");
    assert_eq!(v["BuildCache"], serde_json::json!([]));
    assert_eq!(
        env.ok(&[
            "system",
            "df",
            "-v",
            "--format",
            "{{range .Images}}{{.Tag}}{{end}}"
        ]),
        "111"
    );
}

#[test]
fn info_matches_docker_fields() {
    let (reg, env) = setup();
    std::fs::write(
        env.dir.path().join("strata-config.json"),
        format!(r#"{{"insecure-registries": ["{}"]}}"#, reg.addr),
    )
    .unwrap();
    let mut got = String::new();
    for (title, t) in [
        ("{{.IndexServerAddress}}", "{{.IndexServerAddress}}"),
        ("{{json .RegistryConfig}}", "{{json .RegistryConfig}}"),
    ] {
        got.push_str(&format!("$ info --format {title}\n"));
        got.push_str(&env.ok(&["info", "--format", t]));
    }
    // dockerd 20.10 lists only 127.0.0.0/8; Docker ≥ 23 (and strata) add ::1/128.
    let want =
        golden("info.txt", &reg).replace(r#"["127.0.0.0/8"]"#, r#"["127.0.0.0/8","::1/128"]"#);
    let want: String = want
        .split_inclusive('\n')
        .take_while(|l| !l.starts_with("$ info --format {{.Driver}}"))
        .collect();
    assert_eq!(got, want);

    let fields = env.ok(&[
        "system",
        "info",
        "--format",
        "{{.Images}} {{.Containers}} {{.OSType}} {{.Architecture}} {{.NCPU}} {{.Driver}}",
    ]);
    let ncpu = std::thread::available_parallelism().unwrap().get();
    let arch = std::env::consts::ARCH;
    assert!(
        fields == format!("3 0 linux {arch} {ncpu} overlay\n")
            || fields == format!("3 0 linux {arch} {ncpu} copy\n"),
        "{fields}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["info", "--format", "{{json .}}"])).unwrap();
    assert_eq!(
        v["DockerRootDir"],
        env.root().canonicalize().unwrap().to_str().unwrap()
    );
    assert!(v["MemTotal"].as_u64().unwrap() > 0);

    let text = env.ok(&["info"]);
    for line in [
        " Images: 3".to_string(),
        " Containers: 0".to_string(),
        format!(
            " Strata Root Dir: {}",
            env.root().canonicalize().unwrap().display()
        ),
        " Registry: https://index.docker.io/v1/".to_string(),
        format!(
            " Insecure Registries:\n  {}\n  127.0.0.0/8\n  ::1/128\n",
            reg.addr
        ),
        format!(" OSType: linux\n Architecture: {arch}\n CPUs: {ncpu}\n Total Memory: "),
    ] {
        assert!(text.contains(&line), "missing {line:?} in:\n{text}");
    }
}
