//! Usage errors side by side with the docker 28 CLI, when it is installed: the same wrong
//! invocations give the same text (with `strata` for `docker`) and exit codes. The docker CLI
//! answers these without a daemon.

use crate::common::*;
use std::process::Command;

const DOCKER: &str = "/usr/local/bin/docker";

#[test]
fn usage_errors_match_the_docker_cli() {
    if !std::path::Path::new(DOCKER).exists() {
        eprintln!("skipping: {DOCKER} (the docker 28 CLI) is not installed");
        return;
    }
    let env = Env::new();
    let cases: &[&[&str]] = &[
        &["tag", "a"],
        &["tag"],
        &["rmi"],
        &["pull"],
        &["push"],
        &["history"],
        &["inspect"],
        &["images", "a", "b"],
        &["image", "inspect"],
        &["image", "ls", "a", "b"],
        &["image", "history"],
        &["run"],
        &["create"],
        &["ps", "a"],
        &["logs"],
        &["exec", "c"],
        &["commit"],
        &["export"],
        &["search"],
        &["login", "a", "b"],
        &["manifest", "inspect"],
        &["manifest", "create", "a"],
        &["manifest", "annotate", "a"],
        &["container", "rm"],
        &["images", "--bogus"],
        &["images", "-x"],
        &["images", "--filter"],
        &["images", "-f"],
        &["images", "--filter", "dangling"],
        &["ps", "--filter", "status"],
        &["search", "-f", "stars", "x"],
        &["image", "prune", "--filter", "until"],
        &["rmi", "--bogus", "x"],
        &["bogus"],
    ];
    let mut differences = Vec::new();
    for args in cases {
        let docker = Command::new(DOCKER)
            .args(*args)
            .env("DOCKER_HOST", "unix:///nonexistent/strata-test.sock")
            .output()
            .unwrap();
        let strata = env.run(args);
        let want = String::from_utf8_lossy(&docker.stderr).replace("docker", "strata");
        let got = String::from_utf8_lossy(&strata.stderr).into_owned();
        if (want.as_str(), docker.status.code()) != (got.as_str(), strata.status.code()) {
            differences.push(format!(
                "{args:?}:\n docker ({:?}):\n{want}\n strata ({:?}):\n{got}",
                docker.status.code(),
                strata.status.code()
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
