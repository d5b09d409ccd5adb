//! Many small images for the listing benchmark (bench/images.sh).
//!
//! `many-images DIR COUNT` writes an OCI image layout with COUNT distinct linux/amd64 images tagged
//! `1`..`COUNT` in `index.json`. Every image shares the same two small gzip layers; what makes each
//! one distinct is its config: a label `org.example.bench.index=N`, an env `BENCH_INDEX=N` and a
//! creation time N seconds after 2023-11-14T22:13:20Z. Deterministic: the same COUNT gives the same
//! digests on every run. Prints the manifest digest of the last image.
//!
//! `many-images --push DIR HOST:PORT/REPO [JOBS]` pushes every tag of the layout to
//! `HOST:PORT/REPO:TAG` over plain HTTP with [`test_support::push_http`], JOBS tags at a time
//! (default 8). Prints how many tags it pushed.

use anyhow::{Context, Result, bail};
use oci_model::time::rfc3339_utc;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use test_support::fixture::{FIXED_MTIME, OCI_INDEX, REF_NAME};
use test_support::{Comp, Entry, ImageSpec, LayerSpec, OciLayout};

/// The two layers every image shares.
fn shared_layers() -> Vec<LayerSpec> {
    vec![
        LayerSpec::new(
            Comp::Gzip,
            vec![
                Entry::dir("etc"),
                Entry::file("etc/hostname", "bench\n"),
                Entry::file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
                Entry::file("etc/group", "root:x:0:\n"),
            ],
        ),
        LayerSpec::new(
            Comp::Gzip,
            vec![
                Entry::dir("app"),
                Entry::exec("app/run", "#!/bin/sh\necho \"image $BENCH_INDEX\"\n"),
                Entry::file("app/README", "one of many small bench images\n"),
            ],
        ),
    ]
}

/// Image number `n` (1-based).
fn image_spec(n: usize) -> ImageSpec {
    ImageSpec {
        layers: shared_layers(),
        env: vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            format!("BENCH_INDEX={n}"),
        ],
        cmd: Some(vec!["/app/run".into()]),
        labels: vec![("org.example.bench.index".into(), n.to_string())],
        created: rfc3339_utc(FIXED_MTIME + n as u64),
        ..ImageSpec::default()
    }
}

/// Writes images 1..=count into `dir` and names them `1`..`count` in one `index.json` (written
/// once at the end, replacing whatever index the layout had). Returns the manifest digests.
fn generate(dir: &Path, count: usize) -> Result<Vec<String>> {
    let layout = OciLayout::new(dir)?;
    let mut refs = Vec::with_capacity(count);
    let mut digests = Vec::with_capacity(count);
    for n in 1..=count {
        let img = layout.write_image(&image_spec(n), false)?;
        refs.push(json!({
            "mediaType": img.manifest_media_type,
            "digest": img.manifest_digest.to_string(),
            "size": img.manifest_bytes.len(),
            "annotations": { REF_NAME: n.to_string() },
        }));
        digests.push(img.manifest_digest.to_string());
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": refs});
    std::fs::write(dir.join("index.json"), serde_json::to_vec_pretty(&index)?)?;
    Ok(digests)
}

/// Every tag named in the layout's `index.json`, in order.
fn layout_tags(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join("index.json");
    let index: Value = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    Ok(index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["annotations"][REF_NAME].as_str().map(str::to_string))
        .collect())
}

/// Pushes every tag of the layout to `dest` (`HOST:PORT/REPO`) as `dest:TAG`, `jobs` at a time.
fn push_all(dir: &Path, dest: &str, jobs: usize) -> Result<usize> {
    let (addr, repo) = dest
        .split_once('/')
        .filter(|(a, r)| !a.is_empty() && !r.is_empty())
        .with_context(|| format!("destination {dest:?} must be HOST:PORT/REPO"))?;
    let tags = layout_tags(dir)?;
    let push_one = |tag: &str| {
        test_support::push_http(dir, tag, addr, &format!("{repo}:{tag}"), None)
            .with_context(|| format!("pushing {tag} to {dest}"))
    };
    // The first tag alone uploads the shared layers: concurrent uploads of one blob race in the
    // registry (a manifest PUT can then find the blob unknown). The rest only add configs.
    let Some(first) = tags.first() else {
        return Ok(0);
    };
    push_one(first)?;
    let next = AtomicUsize::new(1);
    std::thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(tag) = tags.get(i) else {
                            return Ok(());
                        };
                        push_one(tag)?;
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("push worker panicked")?;
        }
        Ok(())
    })?;
    Ok(tags.len())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, dir, dest, rest @ ..] if flag == "--push" && rest.len() <= 1 => {
            let jobs = match rest.first() {
                Some(j) => j.parse().with_context(|| format!("JOBS {j:?}"))?,
                None => 8,
            };
            let n = push_all(Path::new(dir), dest, jobs)?;
            println!("{n}");
        }
        [dir, count] => {
            let count: usize = count.parse().with_context(|| format!("COUNT {count:?}"))?;
            let digests = generate(Path::new(dir), count)?;
            if let Some(last) = digests.last() {
                println!("{last}");
            }
        }
        _ => bail!("usage: many-images DIR COUNT | many-images --push DIR HOST:PORT/REPO [JOBS]"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use test_support::Registry;

    #[test]
    fn created_matches_the_fixture() {
        // The formatting itself is tested in oci-model (`rfc3339_utc`).
        assert_eq!(
            rfc3339_utc(FIXED_MTIME),
            test_support::fixture::FIXED_CREATED
        );
    }

    #[test]
    fn images_are_distinct_share_layers_and_are_deterministic() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let da = generate(a.path(), 25).unwrap();
        let db = generate(b.path(), 25).unwrap();
        assert_eq!(da, db, "same COUNT, same digests");
        assert_eq!(da.iter().collect::<HashSet<_>>().len(), 25, "distinct");
        let tags = layout_tags(a.path()).unwrap();
        assert_eq!(tags.len(), 25);
        assert_eq!(tags.first().map(String::as_str), Some("1"));
        assert_eq!(tags.last().map(String::as_str), Some("25"));
        // 25 manifests + 25 configs + the 2 shared layers.
        let blobs = std::fs::read_dir(a.path().join("blobs/sha256"))
            .unwrap()
            .count();
        assert_eq!(blobs, 52);
        // Regenerating with fewer images replaces the index.
        generate(a.path(), 3).unwrap();
        assert_eq!(layout_tags(a.path()).unwrap(), ["1", "2", "3"]);
    }

    #[test]
    fn pushes_every_tag() {
        let reg = Registry::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let digests = generate(dir.path(), 12).unwrap();
        let dest = format!("{}/bench/many", reg.addr);
        assert_eq!(push_all(dir.path(), &dest, 4).unwrap(), 12);
        for (i, d) in digests.iter().enumerate() {
            let resp = reg
                .get_manifest("bench/many", &(i + 1).to_string())
                .unwrap();
            assert_eq!(resp.status, 200, "tag {}", i + 1);
            assert_eq!(resp.header("docker-content-digest"), Some(d.as_str()));
        }
        assert!(push_all(dir.path(), "no-repo", 1).is_err());
    }
}
