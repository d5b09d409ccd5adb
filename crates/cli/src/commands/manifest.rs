//! `strata manifest inspect|create|annotate|push|rm` — the docker CLI's manifest commands. Local
//! manifest lists live in the store root (`<root>/manifests/`); the logic is image-store's
//! the engine's `manifests` module.

use super::Ctx;
use clap::Args;
use engine::manifests::inspect as manifest_inspect;
use engine::manifests::lists::{self as manifest_list, Annotation, normalize};
use engine::manifests::store::ManifestStore;
use oci_model::Result;
use registry_client::{ClientOptions, RegistryClient};
use std::io::Write as _;

#[derive(Args)]
pub struct InspectArgs {
    /// Allow communication with an insecure registry
    #[arg(long)]
    pub insecure: bool,
    /// Output additional info including layers and platform
    #[arg(short, long)]
    pub verbose: bool,
    /// [MANIFEST_LIST] MANIFEST
    #[arg(required = true, num_args = 1..=2)]
    pub refs: Vec<String>,
}

#[derive(Args)]
pub struct CreateArgs {
    /// Amend an existing manifest list
    #[arg(short, long)]
    pub amend: bool,
    /// Allow communication with an insecure registry
    #[arg(long)]
    pub insecure: bool,
    /// MANIFEST_LIST
    #[arg(value_name = "MANIFEST_LIST")]
    pub list: String,
    /// MANIFEST [MANIFEST...]
    #[arg(value_name = "MANIFEST", required = true, num_args = 1..)]
    pub manifests: Vec<String>,
}

#[derive(Args)]
pub struct AnnotateArgs {
    /// Set architecture
    #[arg(long, value_name = "string", default_value = "")]
    pub arch: String,
    /// Set operating system
    #[arg(long, value_name = "string", default_value = "")]
    pub os: String,
    /// Set operating system feature
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub os_features: Vec<String>,
    /// Set operating system version
    #[arg(long, value_name = "string", default_value = "")]
    pub os_version: String,
    /// Set architecture variant
    #[arg(long, value_name = "string", default_value = "")]
    pub variant: String,
    #[arg(value_name = "MANIFEST_LIST")]
    pub list: String,
    #[arg(value_name = "MANIFEST")]
    pub manifest: String,
}

#[derive(Args)]
pub struct PushArgs {
    /// Allow push to an insecure registry
    #[arg(long)]
    pub insecure: bool,
    /// Push an OCI image index (default: Docker's choice — an OCI index when the first entry is
    /// an OCI manifest, a Docker manifest list otherwise)
    #[arg(long)]
    pub oci: bool,
    /// Remove the local manifest list after push
    #[arg(short, long)]
    pub purge: bool,
    #[arg(value_name = "MANIFEST_LIST")]
    pub list: String,
}

#[derive(Args)]
pub struct RmArgs {
    /// MANIFEST_LIST [MANIFEST_LIST...]
    #[arg(value_name = "MANIFEST_LIST", required = true, num_args = 1..)]
    pub lists: Vec<String>,
}

/// A registry client; `--insecure` adds plain HTTP for the registry of `domain`.
fn client(ctx: &Ctx, insecure: bool, domains: &[&str]) -> Result<RegistryClient> {
    let mut list = ctx.config.insecure_registries.clone();
    if insecure {
        list.extend(domains.iter().map(|d| d.to_string()));
    }
    RegistryClient::new(ClientOptions {
        insecure_registries: list,
        ..ClientOptions::default()
    })
}

fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

pub fn inspect(ctx: &Ctx, a: InspectArgs) -> Result<u8> {
    let store = ManifestStore::new(&ctx.root());
    let text = match a.refs.as_slice() {
        [list, manifest] => {
            let manifest = normalize(manifest)?;
            let list = normalize(list)?;
            manifest_list::inspect_local_entry(&store, &list, &manifest, a.verbose)?
        }
        [manifest] => {
            let reference = normalize(manifest)?;
            match manifest_list::inspect_local_list(&store, &reference, a.verbose)? {
                Some(text) => text,
                None => {
                    let client = client(ctx, a.insecure, &[reference.domain()])?;
                    super::runtime()?
                        .block_on(manifest_inspect::inspect(&client, &reference, a.verbose))?
                }
            }
        }
        _ => unreachable!("clap takes one or two references"),
    };
    print(&text);
    Ok(0)
}

pub fn create(ctx: &Ctx, a: CreateArgs) -> Result<u8> {
    let store = ManifestStore::new(&ctx.root());
    // --insecure covers every registry named on the command line, as docker's flag does.
    let domains: Vec<String> = a
        .manifests
        .iter()
        .filter_map(|m| normalize(m).ok())
        .map(|r| r.domain().to_string())
        .collect();
    let domains: Vec<&str> = domains.iter().map(String::as_str).collect();
    let client = client(ctx, a.insecure, &domains)?;
    let name = super::runtime()?.block_on(manifest_list::create(
        &client,
        &store,
        &a.list,
        &a.manifests,
        a.amend,
    ))?;
    print(&format!("Created manifest list {name}\n"));
    Ok(0)
}

pub fn annotate(ctx: &Ctx, a: AnnotateArgs) -> Result<u8> {
    let store = ManifestStore::new(&ctx.root());
    let ann = Annotation {
        os: a.os,
        arch: a.arch,
        variant: a.variant,
        os_version: a.os_version,
        os_features: a.os_features,
    };
    manifest_list::annotate(&store, &a.list, &a.manifest, &ann)?;
    Ok(0)
}

pub fn push(ctx: &Ctx, a: PushArgs) -> Result<u8> {
    let root = ctx.root();
    let store = ManifestStore::new(&root);
    let domain = normalize(&a.list)
        .map(|r| r.domain().to_string())
        .unwrap_or_default();
    let client = client(ctx, a.insecure, &[&domain])?;
    let mut line = |l: String| print(&format!("{l}\n"));
    super::runtime()?.block_on(manifest_list::push(
        &client, &store, &root, &a.list, a.purge, a.oci, &mut line,
    ))?;
    Ok(0)
}

pub fn rm(ctx: &Ctx, a: RmArgs) -> Result<u8> {
    let store = ManifestStore::new(&ctx.root());
    manifest_list::remove(&store, &a.lists)?;
    Ok(0)
}
