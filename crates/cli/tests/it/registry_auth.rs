//! strata's own registry with authentication configured (`strata registry serve --config`):
//! htpasswd Basic auth and the registry's own token realm, driven by real clients — `strata
//! login` / `strata pull`, `skopeo copy --src-creds/--dest-creds` — and raw HTTP for the
//! catalog filter and cross-repository mounts.
//!
//! Users: alice (`s3cret`) may do everything; bob (`bpw`) may only pull `team/app` and nothing
//! at all on `secret/*`, and may do everything elsewhere. Anonymous clients (loopback) may pull
//! everything but `secret/*`.

use crate::common::*;
use std::path::Path;
use std::process::{Command, Output};
use test_support::http::{RegistryClient, basic_auth};
use test_support::{OciLayout, Registry, sample_image};

const ALICE: (&str, &str) = ("alice", "s3cret");
const BOB: (&str, &str) = ("bob", "bpw");

/// A strata registry with auth and the directory holding its htpasswd file.
struct AuthRegistry {
    reg: Registry,
    _users: tempfile::TempDir,
}

/// `htpasswd -nbB USER PASSWORD` (apache2-utils): a bcrypt entry as Apache writes it.
fn htpasswd_entry(user: &str, password: &str) -> String {
    let out = Command::new("htpasswd")
        .args(["-nbB", user, password])
        .output()
        .expect("running htpasswd (apache2-utils)");
    assert!(out.status.success(), "{out:?}");
    let line = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(line.starts_with(&format!("{user}:$2y$")), "{line}");
    line
}

/// Starts `strata registry serve` with `"auth": {htpasswd, mode, access, <extra>}`.
fn start(mode: &str, extra: &str) -> AuthRegistry {
    let users = tempfile::tempdir().unwrap();
    let htpasswd = users.path().join("htpasswd");
    let text = format!(
        "{}\n{}\n",
        htpasswd_entry(ALICE.0, ALICE.1),
        htpasswd_entry(BOB.0, BOB.1)
    );
    std::fs::write(&htpasswd, text).unwrap();
    let config = format!(
        r#"{{"auth": {{
            "htpasswd": {htpasswd:?},
            "mode": "{mode}",
            "access": [
                {{"account": "bob", "repository": "team/app", "actions": ["pull"]}},
                {{"account": "alice", "repository": "*", "actions": ["*"]}},
                {{"account": "*", "repository": "secret/*", "actions": []}},
                {{"account": "anonymous", "repository": "secret/*", "actions": []}},
                {{"account": "*", "repository": "*", "actions": ["*"]}}
            ]{extra}
        }}}}"#
    );
    let strata = Path::new(env!("CARGO_BIN_EXE_strata"));
    let reg = Registry::start_strata_with(strata, Some(&config)).unwrap();
    AuthRegistry { reg, _users: users }
}

/// An OCI layout holding the sample image as tag `t`.
fn layout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    OciLayout::new(dir.path())
        .unwrap()
        .add_image(&sample_image(), "t")
        .unwrap();
    dir
}

fn push(
    reg: &Registry,
    layout: &Path,
    dest: &str,
    creds: Option<(&str, &str)>,
) -> Result<(), String> {
    test_support::push_as(layout, "t", reg, dest, creds).map_err(|e| format!("{e:#}"))
}

/// `skopeo copy docker://ADDR/SRC oci:DIR:t` with `--src-creds` (or none).
fn skopeo_pull(reg: &Registry, src: &str, creds: Option<(&str, &str)>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("skopeo");
    cmd.args([
        "--insecure-policy",
        "copy",
        "--quiet",
        "--src-tls-verify=false",
    ]);
    match creds {
        Some((u, p)) => cmd.arg(format!("--src-creds={u}:{p}")),
        None => cmd.arg("--src-no-creds"),
    };
    cmd.arg(format!("docker://{}/{src}", reg.addr))
        .arg(format!("oci:{}:t", dir.path().display()));
    cmd.output().expect("running skopeo")
}

fn login(env: &Env, server: &str, (user, pass): (&str, &str)) -> Output {
    env.run(&["login", "-u", user, "-p", pass, server])
}

/// The shared scenario for both modes; `denied_push` is what skopeo reports when bob pushes to a
/// repository he may only pull.
fn scenario(mode: &str, denied_push: &str) {
    let AuthRegistry { reg, _users } = start(mode, "");
    let oci = layout();

    // No write without credentials, even from loopback.
    let err = push(&reg, oci.path(), "team/app:1", None).unwrap_err();
    assert!(err.contains("authentication required"), "{err}");
    // skopeo --dest-creds: alice pushes.
    push(&reg, oci.path(), "team/app:1", Some(ALICE)).unwrap();
    push(&reg, oci.path(), "secret/x:1", Some(ALICE)).unwrap();
    // bob may pull team/app but not push to it; elsewhere he may push.
    let err = push(&reg, oci.path(), "team/app:2", Some(BOB)).unwrap_err();
    assert!(err.contains(denied_push), "{err}");
    push(&reg, oci.path(), "team/bob:1", Some(BOB)).unwrap();
    // Wrong password: refused.
    let err = push(&reg, oci.path(), "team/bob:2", Some(("bob", "nope"))).unwrap_err();
    assert!(
        err.to_lowercase().contains("unauthorized") || err.contains("401"),
        "{err}"
    );

    // skopeo --src-creds.
    let out = skopeo_pull(&reg, "team/app:1", Some(BOB));
    assert!(out.status.success(), "{out:?}");
    let out = skopeo_pull(&reg, "secret/x:1", Some(BOB));
    assert!(!out.status.success(), "bob may not read secret/*");
    let out = skopeo_pull(&reg, "secret/x:1", Some(ALICE));
    assert!(out.status.success(), "{out:?}");
    // Anonymous pull from loopback is on by default.
    let out = skopeo_pull(&reg, "team/app:1", None);
    assert!(out.status.success(), "{out:?}");

    // strata: anonymous pull from loopback, login (wrong then right), pull.
    let env = Env::new();
    env.ok(&["pull", &format!("{}/team/app:1", reg.addr)]);
    let out = login(&env, &reg.addr, ("alice", "wrong"));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unauthorized"),
        "{out:?}"
    );
    assert!(!env.docker_config().join("config.json").exists());
    let out = login(&env, &reg.addr, ALICE);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Login Succeeded\n");
    env.ok(&["pull", &format!("{}/secret/x:1", reg.addr)]);
    let env_bob = Env::new();
    assert!(login(&env_bob, &reg.addr, BOB).status.success());
    env_bob.ok(&["pull", &format!("{}/team/app:1", reg.addr)]);
    let err = env_bob.fails(&["pull", &format!("{}/secret/x:1", reg.addr)]);
    // Basic: 403 DENIED; token: a token without pull, 401 (as with distribution's token auth).
    let want = if mode == "basic" {
        format!(
            "Error: pull access denied for {}/secret/x, repository does not exist or may require \
             'docker login': denied: requested access to the resource is denied\n",
            reg.addr
        )
    } else {
        "Error: unauthorized: authentication required\n".to_string()
    };
    assert_eq!(err, want);

    // strata push: anonymous refused, bob refused on a pull-only repository, alice allowed.
    let anon = Env::new();
    let src = format!("{}/team/app:1", reg.addr);
    anon.ok(&["pull", &src]);
    anon.ok(&["tag", &src, &format!("{}/team/anon:1", reg.addr)]);
    let err = anon.fails(&["push", &format!("{}/team/anon:1", reg.addr)]);
    let want = if mode == "basic" {
        "no basic auth credentials"
    } else {
        "unauthorized: authentication required"
    };
    assert!(err.contains(want), "{err}");
    env_bob.ok(&["tag", &src, &format!("{}/team/app:3", reg.addr)]);
    let err = env_bob.fails(&["push", &format!("{}/team/app:3", reg.addr)]);
    let want = if mode == "basic" {
        "denied: requested access to the resource is denied"
    } else {
        "unauthorized: authentication required"
    };
    assert!(err.contains(want), "{err}");
    env.ok(&["pull", &src]);
    env.ok(&["tag", &src, &format!("{}/team/strata:1", reg.addr)]);
    let out = env.ok(&["push", &format!("{}/team/strata:1", reg.addr)]);
    // alice may read both repositories that hold these layers: either is a valid source.
    assert!(
        out.contains(": Mounted from team/app") || out.contains(": Mounted from secret/x"),
        "{out}"
    );
    assert!(!out.contains(": Pushed"), "{out}");

    // The catalog lists only what the caller may pull.
    let catalog = |creds: Option<(&str, &str)>| {
        // Like every registry client: ping /v2/ (always challenged when auth is on), then send
        // the credentials the challenge asked for.
        let mut c = RegistryClient::new(&reg.addr, creds);
        assert_eq!(c.send("GET", "/v2/", &[], &[]).unwrap().status, 200);
        let r = c.send("GET", "/v2/_catalog", &[], &[]).unwrap();
        assert_eq!(r.status, 200, "{}", r.body_str());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        v["repositories"].clone()
    };
    assert_eq!(
        catalog(Some(ALICE)),
        serde_json::json!(["secret/x", "team/app", "team/bob", "team/strata"])
    );
    assert_eq!(
        catalog(Some(BOB)),
        serde_json::json!(["team/app", "team/bob", "team/strata"])
    );
}

#[test]
fn basic_auth_with_strata_and_skopeo() {
    // 403 DENIED on the manifest PUT (the blobs already exist, bob may HEAD them).
    scenario("basic", "denied");
}

#[test]
fn token_auth_with_strata_and_skopeo() {
    // distribution's answer to a token without the needed scope: 401 insufficient_scope.
    scenario("token", "authentication required");
}

#[test]
fn anonymous_none_needs_login() {
    for (mode, anonymous_error) in [
        ("basic", "no basic auth credentials"),
        ("token", "authentication required"),
    ] {
        let AuthRegistry { reg, _users } = start(mode, r#", "anonymous": "none""#);
        let oci = layout();
        push(&reg, oci.path(), "team/app:1", Some(ALICE)).unwrap();
        let name = format!("{}/team/app:1", reg.addr);
        let env = Env::new();
        let err = env.fails(&["pull", &name]);
        assert!(err.contains(anonymous_error), "{mode}: {err}");
        if mode == "basic" {
            let url = format!("http://{}/v2/team/app/manifests/1", reg.addr);
            assert_eq!(
                err,
                format!("Error: Get \"{url}\": no basic auth credentials\n")
            );
        }
        let out = skopeo_pull(&reg, "team/app:1", None);
        assert!(!out.status.success(), "{mode}");
        assert!(login(&env, &reg.addr, BOB).status.success());
        env.ok(&["pull", &name]);
    }
}

#[test]
fn cross_repository_mount_needs_pull_on_the_source() {
    for mode in ["basic", "token"] {
        let AuthRegistry { reg, _users } = start(mode, "");
        let oci = layout();
        push(&reg, oci.path(), "secret/x:1", Some(ALICE)).unwrap();
        push(&reg, oci.path(), "team/app:1", Some(ALICE)).unwrap();
        let digest = sample_layer_digest(oci.path());
        let mount = |creds: (&str, &str), from: &str| {
            let mut c = RegistryClient::new(&reg.addr, Some(creds));
            let path = format!("/v2/team/bob/blobs/uploads/?mount={digest}&from={from}");
            c.send("POST", &path, &[], &[]).unwrap()
        };
        // bob may read team/app: mounted (201).
        let r = mount(BOB, "team/app");
        assert_eq!(r.status, 201, "{mode}: {}", r.body_str());
        // bob may not read secret/x: a plain upload session instead (202), no mount.
        let r = mount(BOB, "secret/x");
        assert_eq!(r.status, 202, "{mode}: {}", r.body_str());
        // The Basic header alone is checked like any other request.
        let r = test_support::http::request(
            &reg.addr,
            "GET",
            "/v2/",
            &[("Authorization", &basic_auth("bob", "bpw"))],
            &[],
        )
        .unwrap();
        let want = if mode == "basic" { 200 } else { 401 };
        assert_eq!(r.status, want, "{mode}");
    }
}

/// The first layer digest of the sample image in an OCI layout.
fn sample_layer_digest(layout: &Path) -> String {
    let index: serde_json::Value = serde_json::from_str(&read(&layout.join("index.json"))).unwrap();
    let m = index["manifests"][0]["digest"].as_str().unwrap();
    let hex = m.strip_prefix("sha256:").unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&layout.join("blobs/sha256").join(hex))).unwrap();
    manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}
