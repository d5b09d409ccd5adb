//! `bench-image DIR TAG`: writes the benchmark image of `bench/pull.sh` into the OCI image layout
//! DIR under TAG and prints its manifest digest.
//!
//! One linux/amd64 image of four gzip layers, about 100 MB compressed, byte-for-byte deterministic
//! (a seeded xorshift generator, fixed mtimes, gzip header mtime 0):
//! 1. 6,000 small files (1–8 KB) in nested directories, mostly text-like (compressible) data with
//!    some binary-like files — the "thousands of small files" case;
//! 2. and 3. about 42 MB each of incompressible data split in a few files — the bandwidth case;
//! 4. a few small configuration files.
//!
//! Layers are built one at a time in memory (entries, tar, blob) and dropped once written, so the
//! peak is about three copies of the biggest layer (~130 MB).

use anyhow::{Context, Result, bail};
use oci_model::Digest;
use serde_json::{Value, json};
use std::path::Path;
use test_support::fixture::{
    FIXED_CREATED, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, REF_NAME, build_layer,
};
use test_support::{Comp, Entry, LayerSpec, OciLayout};

/// xorshift64* — small, fast, deterministic; good enough for filler data.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        // A zero state would stay zero forever.
        XorShift(seed.max(1))
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next_u64().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.fill(&mut v);
        v
    }
}

/// The shape of the image; [`Plan::FULL`] is what the benchmark pushes.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Files in layer 1.
    small_files: usize,
    /// Size range of layer-1 files, bytes.
    small_min: usize,
    small_max: usize,
    /// One in `binary_every` small files holds random bytes instead of text.
    binary_every: usize,
    /// Bytes of incompressible data in each of layers 2 and 3.
    big_bytes: usize,
    /// Files each big layer is split into.
    big_files: usize,
}

impl Plan {
    const FULL: Plan = Plan {
        small_files: 6_000,
        small_min: 1024,
        small_max: 8 * 1024,
        binary_every: 4,
        big_bytes: 42 * 1024 * 1024,
        big_files: 5,
    };
}

const SEED: u64 = 0x5EED_0F57_4A7A;

/// Text-like filler: lines of words drawn from a fixed vocabulary (compresses ~3–4×), with the odd
/// number or hex id so it is not trivially repetitive.
fn text(rng: &mut XorShift, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "layer",
        "image",
        "registry",
        "manifest",
        "digest",
        "config",
        "strata",
        "overlay",
        "snapshot",
        "content",
        "store",
        "pull",
        "push",
        "tag",
        "index",
        "platform",
        "linux",
        "amd64",
        "arm64",
        "blob",
        "chain",
        "diff",
        "gzip",
        "zstd",
        "tar",
        "whiteout",
        "opaque",
        "root",
        "user",
        "group",
        "mode",
        "mtime",
        "size",
        "bytes",
        "stream",
        "verify",
        "commit",
        "ingest",
        "lease",
        "prune",
        "the",
        "a",
        "of",
        "to",
        "and",
        "in",
        "is",
        "for",
        "with",
        "from",
        "on",
        "by",
        "each",
        "every",
        "once",
        "never",
        "shared",
        "read",
        "write",
        "file",
        "directory",
        "symlink",
        "hardlink",
        "device",
        "fifo",
        "path",
        "name",
        "value",
        "key",
        "error",
        "warning",
        "info",
        "debug",
        "trace",
        "request",
        "response",
        "status",
        "header",
    ];
    let mut out = Vec::with_capacity(len + 64);
    let mut col = 0;
    while out.len() < len {
        let r = rng.next_u64();
        let before = out.len();
        match r % 16 {
            0 => out.extend_from_slice(format!("{}", (r >> 8) % 100_000).as_bytes()),
            1 => out.extend_from_slice(format!("{:08x}", (r >> 16) as u32).as_bytes()),
            _ => out.extend_from_slice(WORDS[((r >> 8) % WORDS.len() as u64) as usize].as_bytes()),
        }
        col += out.len() - before;
        if col > 60 + (r >> 40) as usize % 20 {
            out.push(b'\n');
            col = 0;
        } else {
            out.push(b' ');
            col += 1;
        }
    }
    out.truncate(len);
    out
}

/// Layer 1: `small_files` files in `usr/share/bench/<a>/<b>/`, 1–8 KB each.
fn small_files_layer(plan: &Plan, rng: &mut XorShift) -> LayerSpec {
    let mut entries = vec![
        Entry::dir("usr"),
        Entry::dir("usr/share"),
        Entry::dir("usr/share/bench"),
    ];
    const TOP: usize = 12;
    const SUB: usize = 10;
    let per_dir = plan.small_files.div_ceil(TOP * SUB);
    let mut made = 0;
    'outer: for a in 0..TOP {
        entries.push(Entry::dir(&format!("usr/share/bench/m{a:02}")));
        for b in 0..SUB {
            let dir = format!("usr/share/bench/m{a:02}/s{b:02}");
            entries.push(Entry::dir(&dir));
            for _ in 0..per_dir {
                if made == plan.small_files {
                    break 'outer;
                }
                let len = rng.range(plan.small_min, plan.small_max);
                let entry = if made % plan.binary_every == plan.binary_every - 1 {
                    Entry::file(&format!("{dir}/blob-{made:05}.bin"), rng.bytes(len))
                } else {
                    Entry::file(&format!("{dir}/doc-{made:05}.txt"), text(rng, len))
                };
                entries.push(entry);
                made += 1;
            }
        }
    }
    LayerSpec::new(Comp::Gzip, entries)
}

/// Layers 2 and 3: `big_bytes` of random data in `big_files` files under `opt/<name>/`.
fn big_layer(plan: &Plan, rng: &mut XorShift, name: &str) -> LayerSpec {
    let mut entries = vec![Entry::dir("opt"), Entry::dir(&format!("opt/{name}"))];
    let part = plan.big_bytes / plan.big_files;
    for i in 0..plan.big_files {
        let len = if i + 1 == plan.big_files {
            plan.big_bytes - part * (plan.big_files - 1)
        } else {
            part
        };
        entries.push(Entry::file(
            &format!("opt/{name}/part-{i}.bin"),
            rng.bytes(len),
        ));
    }
    LayerSpec::new(Comp::Gzip, entries)
}

/// Layer 4: a few small configuration files.
fn config_layer() -> LayerSpec {
    LayerSpec::new(
        Comp::Gzip,
        vec![
            Entry::dir("etc"),
            Entry::file("etc/hostname", "bench\n"),
            Entry::file(
                "etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
            ),
            Entry::file("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
            Entry::dir("etc/bench"),
            Entry::file(
                "etc/bench/app.conf",
                "[server]\nlisten = 127.0.0.1:8080\nworkers = 4\n\n[store]\npath = /var/lib/bench\n",
            ),
            Entry::file("etc/bench/env", "MODE=bench\nLOG=info\n"),
        ],
    )
}

/// One written layer, as the config and manifest need it.
struct Written {
    digest: Digest,
    diff_id: Digest,
    size: usize,
    media_type: &'static str,
    files: usize,
    tar_size: usize,
}

fn write_layer(layout: &OciLayout, spec: LayerSpec) -> Result<Written> {
    let files = spec
        .entries
        .iter()
        .filter(|e| matches!(e, Entry::File { .. }))
        .count();
    let built = build_layer(&spec, false)?;
    drop(spec);
    layout.write_blob(&built.blob)?;
    Ok(Written {
        digest: built.digest,
        diff_id: built.diff_id,
        size: built.blob.len(),
        media_type: built.media_type,
        files,
        tar_size: built.tar.len(),
    })
}

fn descriptor(media_type: &str, digest: &Digest, size: usize) -> Value {
    json!({"mediaType": media_type, "digest": digest.to_string(), "size": size})
}

/// Writes the image into `dir` (an OCI layout, created or extended), names it `tag` in
/// `index.json` and returns the manifest digest and the layers.
fn build(dir: &Path, tag: &str, plan: &Plan) -> Result<(Digest, Vec<Written>)> {
    let layout = OciLayout::new(dir)?;
    let mut rng = XorShift::new(SEED);
    // One layer at a time: each spec is dropped before the next is generated.
    let layers = vec![
        write_layer(&layout, small_files_layer(plan, &mut rng))?,
        write_layer(&layout, big_layer(plan, &mut rng, "data-a"))?,
        write_layer(&layout, big_layer(plan, &mut rng, "data-b"))?,
        write_layer(&layout, config_layer())?,
    ];

    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "created": FIXED_CREATED,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh"],
            "WorkingDir": "/",
            "Labels": {"org.example.bench": "pull"},
        },
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.diff_id.to_string()).collect::<Vec<_>>(),
        },
        "history": (1..=layers.len())
            .map(|i| json!({"created": FIXED_CREATED, "created_by": format!("bench-image layer {i}")}))
            .collect::<Vec<_>>(),
    });
    let config_bytes = serde_json::to_vec(&config)?;
    let config_digest = layout.write_blob(&config_bytes)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, &config_digest, config_bytes.len()),
        "layers": layers.iter().map(|l| descriptor(l.media_type, &l.digest, l.size)).collect::<Vec<_>>(),
    });
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    let manifest_digest = layout.write_blob(&manifest_bytes)?;

    // Name it in index.json, replacing an earlier entry of the same tag.
    let index_path = dir.join("index.json");
    let index: Value = serde_json::from_slice(&std::fs::read(&index_path)?)?;
    let mut refs = index["manifests"].as_array().cloned().unwrap_or_default();
    refs.retain(|r| r["annotations"][REF_NAME] != tag);
    let mut entry = descriptor(OCI_MANIFEST, &manifest_digest, manifest_bytes.len());
    entry["annotations"] = json!({ REF_NAME: tag });
    refs.push(entry);
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": refs});
    std::fs::write(&index_path, serde_json::to_vec_pretty(&index)?)?;
    Ok((manifest_digest, layers))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, tag] = args.as_slice() else {
        bail!("usage: bench-image DIR TAG");
    };
    let (digest, layers) = build(Path::new(dir), tag, &Plan::FULL)
        .with_context(|| format!("writing the bench image to {dir}"))?;
    let total: usize = layers.iter().map(|l| l.size).sum();
    for (i, l) in layers.iter().enumerate() {
        eprintln!(
            "layer {}: {} files, {:.1} MB tar, {:.1} MB gzip, {}",
            i + 1,
            l.files,
            l.tar_size as f64 / 1e6,
            l.size as f64 / 1e6,
            l.digest
        );
    }
    eprintln!("total compressed: {:.1} MB", total as f64 / 1e6);
    println!("{digest}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Plan = Plan {
        small_files: 250,
        small_min: 1024,
        small_max: 8 * 1024,
        binary_every: 4,
        big_bytes: 300_000,
        big_files: 3,
    };

    #[test]
    fn xorshift_is_deterministic_and_fills_odd_lengths() {
        let a = XorShift::new(7).bytes(1001);
        let b = XorShift::new(7).bytes(1001);
        assert_eq!(a, b);
        assert_ne!(a, XorShift::new(8).bytes(1001));
        assert!(a.iter().any(|&x| x != 0));
        let mut r = XorShift::new(0);
        assert_ne!(r.next_u64(), 0, "seed 0 must not stall");
        for _ in 0..1000 {
            let v = r.range(3, 5);
            assert!((3..=5).contains(&v));
        }
    }

    #[test]
    fn text_is_compressible_and_exact_length() {
        let mut rng = XorShift::new(1);
        let t = text(&mut rng, 8192);
        assert_eq!(t.len(), 8192);
        assert!(t.is_ascii());
        let gz = test_support::fixture::compress(&t, Comp::Gzip).unwrap();
        assert!(gz.len() * 2 < t.len(), "text compressed to {}", gz.len());
    }

    #[test]
    fn small_layer_has_the_planned_files_in_range() {
        let spec = small_files_layer(&Plan::FULL, &mut XorShift::new(SEED));
        let sizes: Vec<usize> = spec
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::File { data, .. } => Some(data.len()),
                _ => None,
            })
            .collect();
        assert_eq!(sizes.len(), 6_000);
        assert!(sizes.iter().all(|s| (1024..=8192).contains(s)));
        let dirs = spec
            .entries
            .iter()
            .filter(|e| matches!(e, Entry::Dir { .. }))
            .count();
        assert!(dirs > 100, "{dirs} directories");
    }

    #[test]
    fn image_is_deterministic_with_four_gzip_layers() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let (da, la) = build(a.path(), "x", &SMALL).unwrap();
        let (db, _) = build(b.path(), "x", &SMALL).unwrap();
        assert_eq!(da, db);
        assert_eq!(la.len(), 4);
        assert_eq!(
            la.iter().map(|l| l.files).collect::<Vec<_>>(),
            [250, 3, 3, 5]
        );
        // Random data does not compress; the two big layers differ.
        assert!(la[1].size > 300_000 && la[2].size > 300_000);
        assert_ne!(la[1].digest, la[2].digest);
        // Rebuilding under the same tag replaces the index entry; another tag adds one.
        build(a.path(), "x", &SMALL).unwrap();
        build(a.path(), "y", &SMALL).unwrap();
        let index: Value =
            serde_json::from_slice(&std::fs::read(a.path().join("index.json")).unwrap()).unwrap();
        let tags: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["annotations"][REF_NAME].as_str().unwrap())
            .collect();
        assert_eq!(tags, ["x", "y"]);
        for l in &la {
            let blob = std::fs::read(a.path().join("blobs/sha256").join(l.digest.hex())).unwrap();
            assert_eq!(Digest::of(&blob), l.digest);
        }
    }
}
