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
/// OCI manifests and indexes go through `skopeo copy --all --preserve-digests` (no `--format`:
/// skopeo keeps the source's manifest type by default, and `--preserve-digests` makes it fail
/// rather than convert). Images whose root is a Docker manifest or manifest list go through
/// [`push_http`], because skopeo 1.9.3 cannot carry them out of an OCI layout unchanged:
/// its `oci:` transport ignores `index.json` entries of Docker media types ("no descriptor found
/// for reference"), and when such an entry is declared with an OCI media type instead, a Docker
/// manifest list is refused ("Manifest list must be converted to type
/// application/vnd.oci.image.index.v1+json ... Instructed to preserve digests").
pub fn push(layout_dir: &Path, tag: &str, registry: &Registry, dest_ref: &str) -> Result<()> {
    let creds = registry
        .creds
        .as_ref()
        .map(|(u, p)| (u.as_str(), p.as_str()));
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
    cmd.args([
        "--insecure-policy",
        "copy",
        "--all",
        "--preserve-digests",
        "--quiet",
        "--dest-tls-verify=false",
    ]);
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
    let doc: Value =
        serde_json::from_slice(&bytes).with_context(|| format!("manifest {digest} is not JSON"))?;
    if media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST {
        for m in doc["manifests"].as_array().into_iter().flatten() {
            let child = Digest::parse(m["digest"].as_str().unwrap_or_default())?;
            let child_mt = m["mediaType"].as_str().unwrap_or_default();
            push_manifest(
                client,
                layout_dir,
                repo,
                child_mt,
                &child,
                &child.to_string(),
            )?;
        }
    } else {
        let blobs =
            std::iter::once(&doc["config"]).chain(doc["layers"].as_array().into_iter().flatten());
        for b in blobs {
            let d = Digest::parse(b["digest"].as_str().unwrap_or_default())?;
            push_blob(client, repo, &d, &read_blob(layout_dir, &d)?)?;
        }
    }
    let resp = client.send(
        "PUT",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Content-Type", media_type)],
        &bytes,
    )?;
    if resp.status != 201 {
        bail!(
            "PUT manifest {repo}:{reference} answered {}: {}",
            resp.status,
            resp.body_str()
        );
    }
    if resp.header("docker-content-digest") != Some(digest.to_string().as_str()) {
        bail!(
            "registry stored {repo}:{reference} as {:?}, expected {digest}",
            resp.header("docker-content-digest")
        );
    }
    Ok(())
}

/// Uploads one blob unless the repository already has it.
pub fn push_blob(
    client: &mut RegistryClient,
    repo: &str,
    digest: &Digest,
    data: &[u8],
) -> Result<()> {
    let head = client.send("HEAD", &format!("/v2/{repo}/blobs/{digest}"), &[], &[])?;
    if head.status == 200 {
        return Ok(());
    }
    let start = client.send("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], &[])?;
    if start.status != 202 {
        bail!(
            "starting upload to {repo} answered {}: {}",
            start.status,
            start.body_str()
        );
    }
    let location = start
        .header("location")
        .context("upload without Location")?;
    let path = if location.starts_with("http://") {
        split_url(location)?.1
    } else {
        location.to_string()
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    let put = client.send(
        "PUT",
        &format!("{path}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        data,
    )?;
    if put.status != 201 {
        bail!(
            "finishing upload of {digest} to {repo} answered {}: {}",
            put.status,
            put.body_str()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_destinations() {
        assert_eq!(split_dest("a/b:v1").unwrap(), ("a/b", "v1"));
        assert_eq!(
            split_dest("localhost:5000/a:latest").unwrap(),
            ("localhost:5000/a", "latest")
        );
        assert!(split_dest("a/b").is_err());
    }
}

#[cfg(test)]
mod registry_tests {
    use super::*;
    use crate::fixture::{
        BuiltImage, BuiltIndex, DOCKER_MANIFEST, ImageSpec, OCI_MANIFEST, OciLayout,
    };
    use crate::samples;

    /// The registry serves exactly the bytes built, under their digest, by tag and by digest.
    fn assert_manifest(
        reg: &Registry,
        repo: &str,
        tag: &str,
        bytes: &[u8],
        digest: &Digest,
        media_type: &str,
    ) {
        for reference in [tag.to_string(), digest.to_string()] {
            let resp = reg.get_manifest(repo, &reference).unwrap();
            assert_eq!(
                resp.status,
                200,
                "{repo}:{reference}: {} / {}",
                resp.body_str(),
                reg.log()
            );
            assert_eq!(
                Digest::of(&resp.body),
                *digest,
                "{repo}:{reference} bytes changed"
            );
            assert_eq!(resp.body, bytes);
            assert_eq!(resp.header("content-type"), Some(media_type));
            assert_eq!(
                resp.header("docker-content-digest"),
                Some(digest.to_string().as_str())
            );
        }
    }

    fn assert_blobs(reg: &Registry, repo: &str, img: &BuiltImage) {
        for d in std::iter::once(&img.config_digest).chain(&img.layer_digests) {
            let resp = reg.get_blob(repo, d).unwrap();
            assert_eq!(resp.status, 200, "blob {d}");
            assert_eq!(Digest::of(&resp.body), *d);
            assert!(reg.blob_data_path(d).is_file(), "{d} not at blob_data_path");
        }
    }

    /// [`assert_manifest`] for an image's manifest under `tag`, then [`assert_blobs`].
    fn assert_image(reg: &Registry, repo: &str, tag: &str, img: &BuiltImage, media_type: &str) {
        assert_manifest(
            reg,
            repo,
            tag,
            &img.manifest_bytes,
            &img.manifest_digest,
            media_type,
        );
        assert_blobs(reg, repo, img);
    }

    /// An index under `tag`, each of its images under its digest, and all their blobs.
    fn assert_index(
        reg: &Registry,
        repo: &str,
        tag: &str,
        idx: &BuiltIndex,
        index_type: &str,
        image_type: &str,
    ) {
        assert_manifest(reg, repo, tag, &idx.bytes, &idx.digest, index_type);
        for img in &idx.images {
            assert_eq!(img.manifest_media_type, image_type);
            assert_image(reg, repo, &img.manifest_digest.to_string(), img, image_type);
        }
    }

    /// A fresh layout holding `spec` tagged `tag`.
    fn layout_image(spec: &ImageSpec, tag: &str) -> (tempfile::TempDir, BuiltImage) {
        let dir = tempfile::tempdir().unwrap();
        let img = OciLayout::new(dir.path())
            .unwrap()
            .add_image(spec, tag)
            .unwrap();
        (dir, img)
    }

    /// A fresh layout holding the multi-arch sample index tagged `tag`.
    fn layout_index(tag: &str, docker: bool) -> (tempfile::TempDir, BuiltIndex) {
        let dir = tempfile::tempdir().unwrap();
        let idx = OciLayout::new(dir.path())
            .unwrap()
            .add_index(&samples::multi_arch_specs(), tag, docker)
            .unwrap();
        (dir, idx)
    }

    /// Pushes `spec` by skopeo/HTTP to `repo:tag` and checks what the registry serves.
    fn push_and_check(reg: &Registry, spec: &ImageSpec, repo: &str, tag: &str) {
        let (dir, img) = layout_image(spec, "img");
        push(dir.path(), "img", reg, &format!("{repo}:{tag}")).unwrap();
        assert_image(reg, repo, tag, &img, OCI_MANIFEST);
    }

    #[test]
    fn oci_manifest_via_skopeo_keeps_bytes() {
        let reg = Registry::start().unwrap();
        push_and_check(&reg, &samples::sample_image(), "fixtures/sample", "v1");
    }

    #[test]
    fn oci_index_via_skopeo_to_htpasswd_registry_keeps_bytes() {
        let reg = Registry::start_htpasswd("u", "p").unwrap();
        let (dir, idx) = layout_index("multi", false);
        assert!(
            push_as(dir.path(), "multi", &reg, "multi:latest", None).is_err(),
            "anonymous push must be refused"
        );
        push(dir.path(), "multi", &reg, "multi:latest").unwrap();
        assert_index(&reg, "multi", "latest", &idx, OCI_INDEX, OCI_MANIFEST);
        let platforms: Vec<&str> = idx.images.iter().map(|i| i.platform.as_str()).collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]);
    }

    #[test]
    fn docker_manifest_over_http_to_token_registry_keeps_bytes() {
        let reg = Registry::start_token("t", "pw").unwrap();
        let (dir, img) = layout_image(&samples::sample_docker_image(), "docker");
        assert_eq!(img.manifest_media_type, DOCKER_MANIFEST);
        assert!(
            push_as(
                dir.path(),
                "docker",
                &reg,
                "lib/docker:v2",
                Some(("t", "bad"))
            )
            .is_err()
        );
        push(dir.path(), "docker", &reg, "lib/docker:v2").unwrap();
        assert_image(&reg, "lib/docker", "v2", &img, DOCKER_MANIFEST);
        // Anonymous clients are refused by the token registry.
        let anon = reg
            .anonymous_client()
            .send(
                "GET",
                "/v2/lib/docker/manifests/v2",
                &[("Accept", crate::registry::ACCEPT_ALL_MANIFESTS)],
                &[],
            )
            .unwrap();
        assert_eq!(anon.status, 401);
    }

    #[test]
    fn docker_manifest_list_over_http_keeps_bytes() {
        let reg = Registry::start().unwrap();
        let (dir, idx) = layout_index("list", true);
        push(dir.path(), "list", &reg, "multi/list:latest").unwrap();
        assert_index(
            &reg,
            "multi/list",
            "latest",
            &idx,
            DOCKER_MANIFEST_LIST,
            DOCKER_MANIFEST,
        );
    }

    #[test]
    fn compressed_layers_via_skopeo_to_token_registry_keep_bytes() {
        let reg = Registry::start_token("t", "pw").unwrap();
        push_and_check(&reg, &samples::compression_image(), "comp", "latest");
    }

    #[test]
    fn busybox_image_pushes() {
        let Some(spec) = samples::busybox_image() else {
            eprintln!("skipping: /bin/busybox is missing");
            return;
        };
        let reg = Registry::start().unwrap();
        push_and_check(&reg, &spec, "library/busybox", "latest");
    }

    #[test]
    fn http_pusher_also_handles_oci_roots() {
        let reg = Registry::start_htpasswd("u", "p").unwrap();
        let (dir, idx) = layout_index("multi", false);
        push_http(
            dir.path(),
            "multi",
            &reg.addr,
            "h/multi:1",
            Some(("u", "p")),
        )
        .unwrap();
        assert_manifest(&reg, "h/multi", "1", &idx.bytes, &idx.digest, OCI_INDEX);
    }
}
