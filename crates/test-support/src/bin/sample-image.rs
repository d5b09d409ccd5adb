//! `sample-image DIR [TAG]`: writes a runnable busybox image (from Debian's busybox-static) as an
//! OCI image layout in DIR, for the README's offline demo and the benchmarks.

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: sample-image DIR [TAG]"))?;
    let tag = args.next().unwrap_or_else(|| "latest".into());
    let spec = test_support::busybox_image().ok_or_else(|| {
        anyhow::anyhow!("/bin/busybox is missing: apt-get install busybox-static")
    })?;
    let mut layout = test_support::OciLayout::new(std::path::Path::new(&dir))?;
    let built = layout.add_image(&spec, &tag)?;
    println!("{}", built.manifest_digest);
    Ok(())
}
