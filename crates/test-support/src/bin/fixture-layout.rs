//! `fixture-layout NAME DIR [TAG] [--push REGISTRY REPO:TAG]`: writes one of the test fixtures as
//! an OCI image layout, so outside tools (skopeo, docker) can be run on exactly the images the
//! tests use — e.g. to record the golden outputs of a real Docker (crates/cli/tests/it/golden/).
//! With `--push`, the image is then pushed (anonymously) to the registry at REGISTRY
//! (`host:port`) as REPO:TAG with every manifest's bytes kept: skopeo for OCI roots, plain HTTP
//! for Docker roots (skopeo cannot carry a Docker manifest list out of an OCI layout unchanged).
//! NAME: sample | docker-sample | compression | four-layer | history | no-history | busybox | multi-arch | manifest-list
//! | arch-<amd64|arm64|arm> | docker-arch-<amd64|arm64|arm> (one platform of multi-arch, alone; OCI or
//! Docker media types)

use test_support::{OciLayout, push_http, push_skopeo, samples};

const USAGE: &str = "usage: fixture-layout NAME DIR [TAG] [--push REGISTRY REPO:TAG]";

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let push = match args.iter().position(|a| a == "--push") {
        Some(i) if args.len() >= i + 3 => {
            let mut taken = args.drain(i..i + 3).skip(1);
            Some((taken.next().unwrap(), taken.next().unwrap()))
        }
        Some(_) => anyhow::bail!(USAGE),
        None => None,
    };
    let [name, dir, rest @ ..] = args.as_slice() else {
        anyhow::bail!(USAGE);
    };
    if rest.len() > 1 {
        anyhow::bail!(USAGE);
    }
    let tag = rest.first().map(String::as_str).unwrap_or("latest");
    let mut layout = OciLayout::new(std::path::Path::new(dir))?;
    let digest = match name.as_str() {
        "sample" => {
            layout
                .add_image(&samples::sample_image(), tag)?
                .manifest_digest
        }
        "docker-sample" => {
            layout
                .add_image(&samples::sample_docker_image(), tag)?
                .manifest_digest
        }
        "compression" => {
            layout
                .add_image(&samples::compression_image(), tag)?
                .manifest_digest
        }
        "four-layer" => {
            layout
                .add_image(&samples::four_layer_image(), tag)?
                .manifest_digest
        }
        "history" => {
            layout
                .add_image(&samples::history_image(), tag)?
                .manifest_digest
        }
        "no-history" => {
            layout
                .add_image(&samples::no_history_image(), tag)?
                .manifest_digest
        }
        "busybox" => {
            let spec = samples::busybox_image()
                .ok_or_else(|| anyhow::anyhow!("/bin/busybox is missing"))?;
            layout.add_image(&spec, tag)?.manifest_digest
        }
        "multi-arch" => {
            layout
                .add_index(&samples::multi_arch_specs(), tag, false)?
                .digest
        }
        "manifest-list" => {
            layout
                .add_index(&samples::multi_arch_specs(), tag, true)?
                .digest
        }
        other => {
            let (docker, arch) = match other.strip_prefix("docker-arch-") {
                Some(arch) => (true, arch),
                None => match other.strip_prefix("arch-") {
                    Some(arch) => (false, arch),
                    None => anyhow::bail!("unknown fixture {other}"),
                },
            };
            let mut spec = samples::multi_arch_specs()
                .into_iter()
                .find(|s| s.arch == arch)
                .ok_or_else(|| anyhow::anyhow!("unknown fixture {other}"))?;
            spec.docker_media_types = docker;
            layout.add_image(&spec, tag)?.manifest_digest
        }
    };
    println!("{digest}");
    if let Some((registry, dest)) = push {
        let dir = std::path::Path::new(dir);
        if root_is_oci(dir, tag)? {
            push_skopeo(dir, tag, &registry, &dest, None)?;
        } else {
            push_http(dir, tag, &registry, &dest, None)?;
        }
    }
    Ok(())
}

/// Whether `index.json` declares `tag` with an OCI media type (else it is a Docker one).
fn root_is_oci(dir: &std::path::Path, tag: &str) -> anyhow::Result<bool> {
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json"))?)?;
    let entry = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .ok_or_else(|| anyhow::anyhow!("no {tag:?} in {}/index.json", dir.display()))?;
    Ok(entry["mediaType"]
        .as_str()
        .is_some_and(|mt| mt.starts_with("application/vnd.oci.")))
}
