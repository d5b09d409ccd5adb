//! `rmi` / `image rm`, `image prune`, `system prune`: Docker's outputs (golden/record-rmi.sh:
//! docker 28 CLI + dockerd 20.10 on the same fixtures), what stays on disk, container conflicts,
//! and a removal racing a pull in another process.

use crate::common::*;
use std::process::Stdio;
use std::time::Duration;
use test_support::proxy::Fault;
use test_support::{Comp, Entry, ImageSpec, LayerSpec, Registry, four_layer_image, sample_image};

fn golden(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/golden")
        .join(format!("rmi-{name}.txt"));
    read(&path)
}

struct Fx {
    reg: Registry,
    env: Env,
}

impl Fx {
    fn new() -> Fx {
        let reg = Registry::start().unwrap();
        publish(&reg, &four_layer_image(), "rmi/four:1");
        publish(&reg, &sample_image(), "rmi/sample:1");
        Fx {
            reg,
            env: Env::new(),
        }
    }

    fn r(&self, s: &str) -> String {
        s.replace("{REGISTRY}", &self.reg.addr)
    }

    fn pull(&self, r: &str) {
        self.env.ok(&["pull", "-q", &self.r(r)]);
    }

    /// Runs strata, returns stdout + stderr + `exit N` with the registry redacted.
    fn run(&self, args: &[&str]) -> String {
        self.env.transcript(&self.reg.addr, args)
    }

    fn id(&self, r: &str) -> String {
        self.env.inspect(&self.r(r))["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

const FOUR_ID: &str = "ae62b8c534d1";

#[test]
fn rmi_matches_docker() {
    let fx = Fx::new();
    fx.pull("{REGISTRY}/rmi/four:1");
    fx.pull("{REGISTRY}/rmi/sample:1");
    let four = fx.id("{REGISTRY}/rmi/four:1");
    assert_eq!(&four[7..19], FOUR_ID, "the fixture is deterministic");
    fx.env.ok(&[
        "tag",
        &fx.r("{REGISTRY}/rmi/four:1"),
        &fx.r("{REGISTRY}/rmi/four:2"),
    ]);
    fx.env.ok(&[
        "tag",
        &fx.r("{REGISTRY}/rmi/four:1"),
        &fx.r("{REGISTRY}/rmi/other:x"),
    ]);
    let mut text = fx.run(&["rmi", FOUR_ID]);
    text += &fx.run(&["rmi", "{REGISTRY}/rmi/four:2"]);
    text += &fx.run(&["image", "rm", "-f", FOUR_ID]);
    assert_eq!(text, golden("multi-repo"));
    // Every layer and blob of four went; sample's stayed.
    assert_eq!(fx.env.layer_dirs().len(), 2);

    fx.pull("{REGISTRY}/rmi/four:1");
    let digest = fx.env.inspect(&fx.r("{REGISTRY}/rmi/four:1"))["RepoDigests"][0]
        .as_str()
        .unwrap()
        .to_string();
    let mut text = fx.run(&["rmi", &digest]);
    text += &fx.run(&["image", "remove", "{REGISTRY}/rmi/four:1"]);
    assert_eq!(text, golden("by-digest"));

    let mut text = fx.run(&[
        "rmi",
        "{REGISTRY}/rmi/nothere",
        "0123456789ab",
        "sha256:0123456789ab",
    ]);
    text += &fx.run(&["rmi", "-f", "{REGISTRY}/rmi/nothere"]);
    assert_eq!(text, golden("missing"));

    // Several arguments, the first failing: the others are still removed, then exit 1.
    fx.pull("{REGISTRY}/rmi/four:1");
    let mut text = fx.run(&[
        "rmi",
        "{REGISTRY}/rmi/nothere",
        "{REGISTRY}/rmi/four:1",
        "{REGISTRY}/rmi/sample:1",
    ]);
    text += &fx.run(&["images", "-q", "{REGISTRY}/rmi/four"]);
    assert_eq!(text, golden("several"));
    assert!(fx.env.layer_dirs().is_empty());
    assert_eq!(fx.env.assert_blobs_valid(), 0);
}

#[test]
fn shared_layers_stay_until_their_last_image_goes() {
    let reg = Registry::start().unwrap();
    let base = LayerSpec::new(Comp::Gzip, vec![Entry::file("base.txt", "shared\n")]);
    let spec = |top: &str| ImageSpec {
        layers: vec![
            base.clone(),
            LayerSpec::new(Comp::Gzip, vec![Entry::file("top.txt", format!("{top}\n"))]),
        ],
        ..ImageSpec::default()
    };
    let a = publish(&reg, &spec("a"), "rmi/a:1");
    let b = publish(&reg, &spec("b"), "rmi/b:1");
    let env = Env::new();
    for r in ["rmi/a:1", "rmi/b:1"] {
        env.ok(&["pull", "-q", &format!("{}/{r}", reg.addr)]);
    }
    assert_eq!(env.layer_dirs().len(), 3);
    // Index-less images: 2 configs + 2 manifests + 3 layer blobs.
    assert_eq!(env.assert_blobs_valid(), 7);
    let blob = |d: &oci_model::Digest| env.root().join("blobs/sha256").join(d.hex());

    let out = env.ok(&["rmi", &format!("{}/rmi/a:1", reg.addr)]);
    let deleted: Vec<&str> = out.lines().filter(|l| l.starts_with("Deleted: ")).collect();
    assert_eq!(deleted.len(), 2, "image + its own top layer:\n{out}");
    assert_eq!(env.layer_dirs().len(), 2);
    assert_eq!(env.assert_blobs_valid(), 4);
    assert!(blob(&a.layer_digests[0]).exists(), "shared blob kept");
    assert!(!blob(&a.layer_digests[1]).exists());
    assert!(!blob(&a.config_digest).exists());
    assert!(!blob(&a.manifest_digest).exists());
    // b is whole: its union view still has both files.
    {
        let m = Mounted::new(&env, &format!("{}/rmi/b:1", reg.addr));
        assert_eq!(read(&m.path.join("base.txt")), "shared\n");
        assert_eq!(read(&m.path.join("top.txt")), "b\n");
    }
    let out = env.ok(&["rmi", &b.config_digest.to_string()]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("Deleted: ")).count(),
        3
    );
    assert!(env.layer_dirs().is_empty());
    assert_eq!(env.assert_blobs_valid(), 0);
}

#[test]
fn image_rm_of_every_listed_id_with_repeats() {
    let fx = Fx::new();
    fx.pull("{REGISTRY}/rmi/four:1");
    fx.pull("{REGISTRY}/rmi/sample:1");
    fx.env.ok(&[
        "tag",
        &fx.r("{REGISTRY}/rmi/four:1"),
        &fx.r("{REGISTRY}/rmi/four:2"),
    ]);
    let ids = fx.env.ok(&["image", "ls", "-q"]);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    assert_eq!(ids.len(), 3, "four is listed twice");
    let mut args = vec!["image", "rm"];
    args.extend(&ids);
    args.push("-f");
    let out = fx.env.run(&args);
    // The repeated ID is gone by its second turn: reported, but -f with only missing images is success.
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr, format!("Error: No such image: {FOUR_ID}:latest\n"));
    assert_eq!(fx.env.ok(&["images", "-q", "-a"]), "");
    assert!(fx.env.layer_dirs().is_empty());
    assert_eq!(fx.env.assert_blobs_valid(), 0);
    // Without -f the same repeat is a failure.
    fx.pull("{REGISTRY}/rmi/four:1");
    let err = fx.env.fails(&["rmi", FOUR_ID, FOUR_ID]);
    assert_eq!(err, format!("Error: No such image: {FOUR_ID}:latest\n"));
}

#[test]
fn stopped_container_conflicts_and_prune_keeps_used_images() {
    let fx = Fx::new();
    fx.pull("{REGISTRY}/rmi/four:1");
    fx.pull("{REGISTRY}/rmi/sample:1");
    let four = fx.r("{REGISTRY}/rmi/four:1");
    let cid = fx.env.ok(&["create", &four, "true"]).trim().to_string();
    assert_eq!(cid.len(), 64, "{cid}");
    let short = &cid[..12];
    let err = fx.env.fails(&["rmi", &four]);
    assert_eq!(
        err,
        format!(
            "Error: conflict: unable to remove repository reference \"{four}\" (must force) - container {short} is using its referenced image {FOUR_ID}\n"
        )
    );
    let err = fx.env.fails(&["rmi", FOUR_ID]);
    assert_eq!(
        err,
        format!(
            "Error: conflict: unable to delete {FOUR_ID} (must be forced) - image is being used by stopped container {short}\n"
        )
    );
    // `image prune -a` leaves the image a container uses and removes the other.
    let out = fx.env.ok(&["image", "prune", "-a", "-f"]);
    let sample_digest = "sha256:583cdfd871d204a2f67b3009728f42a93e0eab8469166c8b30414903e2e951ca";
    let want = format!(
        "Deleted Images:\nuntagged: {a}/rmi/sample:1\nuntagged: {a}/rmi/sample@{sample_digest}\n\
         deleted: sha256:43d6716aa788e010688145e291d04b73ab923a52ff392a88fccd561c346937ba\n\
         deleted: sha256:b7086a68656b2ed10cb3b2bab5dcb5f11a234bb7578280af10565065d312484b\n\
         deleted: sha256:078c3a08ed8783f62ab004585772cc16840d45c7a2e230a48ef7abe4656fecb1\n\n\
         Total reclaimed space: 34B\n",
        a = fx.reg.addr
    );
    assert_eq!(out, want);
    // Forced: the references go; the container keeps its (now dangling) image and layers.
    let out = fx.env.ok(&["rmi", "-f", &four]);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().all(|l| l.starts_with("Untagged: ")), "{out}");
    assert_eq!(fx.env.layer_dirs().len(), 4);
    assert_eq!(fx.env.ok(&["images", "-q", "-a"]).trim(), FOUR_ID);
    // system prune removes the stopped container, then the dangling image and its layers.
    let out = fx.env.ok(&["system", "prune", "-f"]);
    assert!(
        out.starts_with(&format!(
            "Deleted Containers:\n{cid}\n\nDeleted Images:\ndeleted: sha256:{FOUR_ID}"
        )),
        "{out}"
    );
    assert!(out.ends_with("\nTotal reclaimed space: 32B\n"), "{out}");
    assert!(fx.env.layer_dirs().is_empty());
    assert_eq!(fx.env.assert_blobs_valid(), 0);
}

fn answer_n(env: &Env, args: &[&str]) -> String {
    let out = env.run_with_stdin(args, b"n\n");
    format!(
        "{}{}\nexit {}\n",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status.code().unwrap_or(-1)
    )
}

#[test]
fn prune_prompts_and_dangling_prune() {
    let fx = Fx::new();
    for (case, args) in [
        ("image-prune", &["image", "prune"][..]),
        ("image-prune--a", &["image", "prune", "-a"][..]),
        ("system-prune", &["system", "prune"][..]),
        ("system-prune--a", &["system", "prune", "-a"][..]),
    ] {
        assert_eq!(
            answer_n(&fx.env, args),
            golden(&format!("prompt-{case}")),
            "{case}"
        );
    }
    fx.pull("{REGISTRY}/rmi/four:1");
    fx.pull("{REGISTRY}/rmi/sample:1");
    // Declined: nothing removed.
    assert_eq!(fx.env.ok(&["images", "-q"]).lines().count(), 2);
    assert_eq!(
        fx.env.ok(&["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    // Moving the tag leaves four dangling (its digest reference stays, its tag is gone).
    fx.env.ok(&[
        "tag",
        &fx.r("{REGISTRY}/rmi/sample:1"),
        &fx.r("{REGISTRY}/rmi/four:1"),
    ]);
    let out = fx.env.ok(&[
        "image",
        "prune",
        "-f",
        "--filter",
        "label=org.example.nothing",
    ]);
    assert_eq!(out, "Total reclaimed space: 0B\n");
    let out = fx.env.ok(&["image", "prune", "-f", "--filter", "until=1h"]);
    assert!(out.starts_with(&format!(
        "Deleted Images:\nuntagged: {}/rmi/four@sha256:0127df45d9eaad084f01d108313ef53e126985682de10c7a87b185d6fbd0d882\ndeleted: sha256:{FOUR_ID}",
        fx.reg.addr
    )), "{out}");
    assert!(out.ends_with("\n\nTotal reclaimed space: 32B\n"), "{out}");
    assert_eq!(fx.env.layer_dirs().len(), 2);
    let err = fx
        .env
        .fails(&["image", "prune", "-f", "--filter", "bogus=1"]);
    assert_eq!(err, "Error: invalid filter 'bogus'\n");
}

/// Image bytes: a small layer shared with another image, then `mb` incompressible megabytes.
fn shared_base_image(seed: u64, mb: usize) -> ImageSpec {
    let data = test_support::noise(seed, mb * 1_000_000);
    ImageSpec {
        layers: vec![
            LayerSpec::new(Comp::Gzip, vec![Entry::file("base.txt", "shared\n")]),
            LayerSpec::new(Comp::Gzip, vec![Entry::file("big.bin", data)]),
        ],
        ..ImageSpec::default()
    }
}

#[test]
fn rmi_during_a_pull_of_an_image_sharing_its_layers_leaves_the_pull_intact() {
    let reg = Registry::start().unwrap();
    let a = publish(&reg, &shared_base_image(1, 0), "rmi/a:1");
    let b = publish(&reg, &shared_base_image(2, 3), "rmi/b:1");
    let env = Env::new();
    env.ok(&["pull", "-q", &format!("{}/rmi/a:1", reg.addr)]);
    let base_chain = env.inspect(&format!("{}/rmi/a:1", reg.addr))["RootFS"]["Layers"][0]
        .as_str()
        .unwrap()
        .to_string();
    let proxy = fault_proxy(
        &reg,
        Fault::Throttle {
            path_contains: "/blobs/".into(),
            bytes_per_sec: 1_000_000,
        },
    );
    let b_name = format!("{}/rmi/b:1", proxy.addr);
    let child = env
        .cmd()
        .args(["pull", &b_name])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The pull has resolved, leased and found the shared layer present ("Already exists")
    // well before its 3 MB at 1 MB/s arrive.
    std::thread::sleep(Duration::from_millis(1500));
    let out = env.ok(&["rmi", &format!("{}/rmi/a:1", reg.addr)]);
    assert!(
        out.contains(&format!("Deleted: {}", a.config_digest)),
        "{out}"
    );
    assert!(
        !out.contains(&base_chain),
        "the layer the pull uses must stay:\n{out}"
    );
    let pulled = child.wait_with_output().unwrap();
    assert!(
        pulled.status.success(),
        "pull failed:\n{}\n{}",
        String::from_utf8_lossy(&pulled.stdout),
        String::from_utf8_lossy(&pulled.stderr)
    );
    let stdout = String::from_utf8_lossy(&pulled.stdout);
    assert!(stdout.contains("Already exists"), "{stdout}");
    assert_eq!(env.inspect(&b_name)["Id"], b.config_digest.to_string());
    {
        let m = Mounted::new(&env, &b_name);
        assert_eq!(read(&m.path.join("base.txt")), "shared\n");
        assert_eq!(
            std::fs::metadata(m.path.join("big.bin")).unwrap().len(),
            3_000_000
        );
    }
    env.assert_blobs_valid();
    assert_eq!(env.layer_dirs().len(), 2);
    // The lease went with the pull: removing b now frees everything.
    env.ok(&["rmi", &b_name]);
    assert!(env.layer_dirs().is_empty());
    assert_eq!(env.assert_blobs_valid(), 0);
}
