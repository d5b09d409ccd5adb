//! Pushing an OCI layout's tagged image or index to a registry, bytes unchanged.

use crate::fixture::{DOCKER_MANIFEST_LIST, OCI_INDEX, REF_NAME};
use crate::http::{RegistryClient, split_url};
use crate::registry::Registry;
use anyhow::{Context, Result, bail};
use oci_model::Digest;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Splits `repo:tag` (the tag is after the last `:` that follows the last `/`).
pub fn split_dest(dest_ref: &str) -> Result<(&str, &str)> {
    let slash = dest_ref.rfind('/').map_or(0, |i| i + 1);
    match dest_ref[slash..].rfind(':') {
        Some(i) => Ok((&dest_ref[..slash + i], &dest_ref[slash + i + 1..])),
        None => bail!("destination {dest_ref:?} must be repo:tag"),
    }
}

/// The media type and digest `index.json` names `tag`.
fn lookup_ref(layout_dir: &Path, tag: &str) -> Result<(String, Digest)> {
    let index: Value = serde_json::from_slice(&std::fs::read(layout_dir.join("index.json"))?)?;
    let entry = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["annotations"][REF_NAME] == tag)
        .with_context(|| format!("no {tag:?} in {}/index.json", layout_dir.display()))?;
    let mt = entry["mediaType"].as_str().unwrap_or_default().to_string();
    let digest = Digest::parse(entry["digest"].as_str().unwrap_or_default())?;
    Ok((mt, digest))
}

/// Pushes `oci:<layout_dir>:<tag>` to `<registry>/<dest_ref>` with the registry's credentials,
/// keeping every manifest's bytes (and so its digest).
///
/// OCI manifests and indexes go through `skopeo copy --all --preserve-digests`. Images whose root
/// is a Docker manifest or manifest list go through [`push_http`]: skopeo 1.9.3's `oci:` transport
/// only looks up index.json entries of OCI media types, so it cannot read them.
pub fn push(layout_dir: &Path, tag: &str, registry: &Registry, dest_ref: &str) -> Result<()> {
    let creds = registry.creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
    push_as(layout_dir, tag, registry, dest_ref, creds)
}

/// [`push`] with explicit credentials (`None` = anonymous).
pub fn push_as(
    layout_dir: &Path,
    tag: &str,
    registry: &Registry,
    dest_ref: &str,
    creds: Option<(&str, &str)>,
) -> Result<()> {
    let (mt, _) = lookup_ref(layout_dir, tag)?;
    if mt.starts_with("application/vnd.oci.") {
        push_skopeo(layout_dir, tag, &registry.addr, dest_ref, creds)
    } else {
        push_http(layout_dir, tag, &registry.addr, dest_ref, creds)
    }
}

/// `skopeo --insecure-policy copy --all --preserve-digests --dest-tls-verify=false
/// oci:<dir>:<tag> docker://<addr>/<dest_ref>`.
pub fn push_skopeo(
    layout_dir: &Path,
    tag: &str,
    addr: &str,
    dest_ref: &str,
    creds: Option<(&str, &str)>,
) -> Result<()> {
    let mut cmd = Command::new("skopeo");
    cmd.args(["--insecure-policy", "copy", "--all", "--preserve-digests", "--quiet", "--dest-tls-verify=false"]);
    match creds {
        Some((u, p)) => cmd.arg(format!("--dest-creds={u}:{p}")),
        None => cmd.arg("--dest-no-creds"),
    };
    cmd.arg(format!("oci:{}:{tag}", layout_dir.display()));
    cmd.arg(format!("docker://{addr}/{dest_ref}"));
    let out = cmd.output().context("running skopeo")?;
    if !out.status.success() {
        bail!(
            "skopeo copy of {tag} to {addr}/{dest_ref} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Uploads blobs (monolithic POST + PUT) and manifests (PUT, children by digest, root by tag)
/// of `tag` in the layout straight over HTTP, with the Content-Type of each manifest's media type.
pub fn push_http(
    layout_dir: &Path,
    tag: &str,
    addr: &str,
    dest_ref: &str,
    creds: Option<(&str, &str)>,
) -> Result<()> {
    let (repo, dest_tag) = split_dest(dest_ref)?;
    let (mt, digest) = lookup_ref(layout_dir, tag)?;
    let mut client = RegistryClient::new(addr, creds);
    push_manifest(&mut client, layout_dir, repo, &mt, &digest, dest_tag)
}

fn read_blob(layout_dir: &Path, digest: &Digest) -> Result<Vec<u8>> {
    let path = layout_dir.join("blobs/sha256").join(digest.hex());
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

fn push_manifest(
    client: &mut RegistryClient,
    layout_dir: &Path,
    repo: &str,
    media_type: &str,
    digest: &Digest,
    reference: &str,
) -> Result<()> {
    let bytes = read_blob(layout_dir, digest)?;
    let doc: Value = serde_json::from_slice(&bytes).with_context(|| format!("manifest {digest} is not JSON"))?;
    if media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST {
        for m in doc["manifests"].as_array().into_iter().flatten() {
            let child = Digest::parse(m["digest"].as_str().unwrap_or_default())?;
            let child_mt = m["mediaType"].as_str().unwrap_or_default();
            push_manifest(client, layout_dir, repo, child_mt, &child, &child.to_string())?;
        }
    } else {
        let blobs = std::iter::once(&doc["config"]).chain(doc["layers"].as_array().into_iter().flatten());
        for b in blobs {
            let d = Digest::parse(b["digest"].as_str().unwrap_or_default())?;
            push_blob(client, repo, &d, &read_blob(layout_dir, &d)?)?;
        }
    }
    let resp = client.send("PUT", &format!("/v2/{repo}/manifests/{reference}"), &[("Content-Type", media_type)], &bytes)?;
    if resp.status != 201 {
        bail!("PUT manifest {repo}:{reference} answered {}: {}", resp.status, resp.body_str());
    }
    if resp.header("docker-content-digest") != Some(digest.to_string().as_str()) {
        bail!("registry stored {repo}:{reference} as {:?}, expected {digest}", resp.header("docker-content-digest"));
    }
    Ok(())
}

/// Uploads one blob unless the repository already has it.
pub fn push_blob(client: &mut RegistryClient, repo: &str, digest: &Digest, data: &[u8]) -> Result<()> {
    let head = client.send("HEAD", &format!("/v2/{repo}/blobs/{digest}"), &[], &[])?;
    if head.status == 200 {
        return Ok(());
    }
    let start = client.send("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], &[])?;
    if start.status != 202 {
        bail!("starting upload to {repo} answered {}: {}", start.status, start.body_str());
    }
    let location = start.header("location").context("upload without Location")?;
    let path = if location.starts_with("http://") { split_url(location)?.1 } else { location.to_string() };
    let sep = if path.contains('?') { '&' } else { '?' };
    let put = client.send(
        "PUT",
        &format!("{path}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        data,
    )?;
    if put.status != 201 {
        bail!("finishing upload of {digest} to {repo} answered {}: {}", put.status, put.body_str());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_destinations() {
        assert_eq!(split_dest("a/b:v1").unwrap(), ("a/b", "v1"));
        assert_eq!(split_dest("localhost:5000/a:latest").unwrap(), ("localhost:5000/a", "latest"));
        assert!(split_dest("a/b").is_err());
    }
}
