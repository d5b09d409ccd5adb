//! `strata login [-u USER] [-p PASS | --password-stdin] [SERVER]` and `strata logout [SERVER]`,
//! sharing Docker's ~/.docker/config.json (and its credential helpers).

use super::Ctx;
use clap::Args;
use oci_model::{Error, Result};
use registry_client::{erase_credentials, store_credentials};
use std::io::{BufRead, Write};

const DOCKER_HUB: &str = "https://index.docker.io/v1/";

#[derive(Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Registry server (default: Docker Hub)
    pub server: Option<String>,
}

#[derive(Args)]
pub struct LogoutArgs {
    pub server: Option<String>,
}

fn server_key(server: Option<&str>) -> String {
    match server {
        None | Some("docker.io") | Some("index.docker.io") | Some("registry-1.docker.io") => {
            DOCKER_HUB.into()
        }
        Some(s) => s
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
    }
}

fn prompt(label: &str) -> Result<String> {
    print!("{label}");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::invalid(format!("reading {label}: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub fn login(ctx: &Ctx, a: LoginArgs) -> Result<u8> {
    if a.password.is_some() && a.password_stdin {
        return Err(Error::invalid(
            "--password and --password-stdin are mutually exclusive",
        ));
    }
    if a.password_stdin && a.username.is_none() {
        return Err(Error::invalid(
            "Must provide --username with --password-stdin",
        ));
    }
    if a.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let server = server_key(a.server.as_deref());
    let username = match a.username {
        Some(u) => u,
        None => prompt("Username: ")?,
    };
    let password = match (a.password, a.password_stdin) {
        (Some(p), _) => p,
        (None, true) => {
            let mut s = String::new();
            std::io::stdin()
                .read_line(&mut s)
                .map_err(|e| Error::invalid(format!("reading password from stdin: {e}")))?;
            s.trim_end_matches(['\r', '\n']).to_string()
        }
        (None, false) => prompt("Password: ")?,
    };
    if username.is_empty() || password.is_empty() {
        return Err(Error::invalid("Username and password are required"));
    }
    let client = ctx.client()?;
    let rt = super::runtime()?;
    rt.block_on(client.login(&server, &username, &password))
        .map_err(|e| {
            Error::new(
                oci_model::ErrorKind::Unauthorized,
                format!("login to {server} failed: {e}"),
            )
        })?;
    store_credentials(None, &server, &username, &password)?;
    println!("Login Succeeded");
    Ok(0)
}

pub fn logout(_ctx: &Ctx, a: LogoutArgs) -> Result<u8> {
    let server = server_key(a.server.as_deref());
    if erase_credentials(None, &server)? {
        println!("Removing login credentials for {server}");
    } else {
        println!("Not logged in to {server}");
    }
    Ok(0)
}
