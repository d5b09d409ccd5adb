//! `fixture-layout NAME DIR [TAG]`: writes one of the test fixtures as an OCI image layout, so
//! outside tools (skopeo, docker) can be run on exactly the images the tests use — e.g. to record
//! the golden outputs of a real Docker (crates/cli/tests/it/golden/record.sh).
//! NAME: sample | docker-sample | compression | four-layer | history | no-history | busybox | multi-arch | manifest-list

use test_support::{OciLayout, samples};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, dir, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: fixture-layout NAME DIR [TAG]");
    };
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
        other => anyhow::bail!("unknown fixture {other}"),
    };
    println!("{digest}");
    Ok(())
}
