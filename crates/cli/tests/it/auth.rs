//! Registries with htpasswd Basic auth and with the Bearer token flow; credentials from Docker's
//! config.json, and `strata login` / `logout` writing it.

use crate::common::*;
use base64::Engine;
use std::os::unix::fs::PermissionsExt;
use test_support::{Registry, sample_image};

fn check_auth_flow(reg: &Registry, anonymous_error: &str) {
    let name = format!("{}/private/app:1", reg.addr);
    let env = Env::new();
    let err = env.fails(&["pull", &name]);
    assert_eq!(err, format!("Error: {anonymous_error}\n"));

    // Wrong password: login refused, nothing written.
    let out = env.login(&reg.addr, "alice", "wrong");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!env.docker_config().join("config.json").exists());

    let out = env.login(&reg.addr, "alice", "s3cret");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Login Succeeded\n");
    let cfg_path = env.docker_config().join("config.json");
    let mode = std::fs::metadata(&cfg_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let cfg: serde_json::Value = serde_json::from_str(&read(&cfg_path)).unwrap();
    let auth = cfg["auths"][&reg.addr]["auth"].as_str().unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(auth)
            .unwrap(),
        b"alice:s3cret"
    );

    env.ok(&["pull", &name]);
    assert_eq!(
        env.ok(&["logout", &reg.addr]),
        format!("Removing login credentials for {}\n", reg.addr)
    );
    let cfg: serde_json::Value = serde_json::from_str(&read(&cfg_path)).unwrap();
    assert!(cfg["auths"].get(&reg.addr).is_none());
}

#[test]
fn htpasswd_basic_auth() {
    let reg = Registry::start_htpasswd("alice", "s3cret").unwrap();
    publish(&reg, &sample_image(), "private/app:1");
    // As dockerd 20.10 words it (tests/it/golden/docker-20.10-pull-errors.txt).
    let url = format!("http://{}/v2/private/app/manifests/1", reg.addr);
    check_auth_flow(&reg, &format!("Get \"{url}\": no basic auth credentials"));
}

#[test]
fn bearer_token_auth() {
    let reg = Registry::start_token("alice", "s3cret").unwrap();
    publish(&reg, &sample_image(), "private/app:1");
    // An anonymous token without pull access: the registry's UNAUTHORIZED passed through.
    check_auth_flow(&reg, "unauthorized: authentication required");
}

#[test]
fn credentials_written_by_docker_login_are_used() {
    let reg = Registry::start_htpasswd("bob", "pw").unwrap();
    publish(&reg, &sample_image(), "private/app:1");
    let env = Env::new();
    // What `docker login` writes, unknown keys included (they must survive a strata logout).
    let auth = base64::engine::general_purpose::STANDARD.encode("bob:pw");
    let cfg = serde_json::json!({"auths": {reg.addr.clone(): {"auth": auth}}, "psFormat": "table {{.ID}}"});
    std::fs::write(env.docker_config().join("config.json"), cfg.to_string()).unwrap();
    env.ok(&["pull", &format!("{}/private/app:1", reg.addr)]);
    env.ok(&["logout", &reg.addr]);
    let cfg: serde_json::Value =
        serde_json::from_str(&read(&env.docker_config().join("config.json"))).unwrap();
    assert_eq!(cfg["psFormat"], "table {{.ID}}");
}
