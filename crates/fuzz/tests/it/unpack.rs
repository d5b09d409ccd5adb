//! The tar applier under hostile layers: whatever the entries say (`..`, absolute paths,
//! symlinks and hard links pointing out, whiteouts of anything, devices, links over
//! directories), nothing outside the layer root is created, changed or removed.

use crate::config;
use layers::unpack::{UnpackOptions, apply_layer};
use oci_model::media_type::Compression;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone)]
enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Hardlink(String),
    CharDev,
    Fifo,
}

fn name() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        Just("a"),
        Just("b"),
        Just("c"),
        Just(".."),
        Just("."),
        Just(""),
        Just(".wh.a"),
        Just(".wh..wh..opq"),
        Just(".wh.."),
        Just("sentinel"),
        Just("outside"),
        Just("dest"),
    ];
    (
        prop::sample::select(vec!["", "/", "./", "../"]),
        prop::collection::vec(part, 1..5),
    )
        .prop_map(|(prefix, parts)| format!("{prefix}{}", parts.join("/")))
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        name(),
        Just("/".to_string()),
        Just("../../sentinel".to_string()),
        Just("/../outside".to_string()),
    ]
}

fn entry() -> impl Strategy<Value = (String, Kind)> {
    let kind = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..32).prop_map(Kind::File),
        Just(Kind::Dir),
        target().prop_map(Kind::Symlink),
        target().prop_map(Kind::Hardlink),
        Just(Kind::CharDev),
        Just(Kind::Fifo),
    ];
    (name(), kind)
}

/// A tar whose header fields are set byte by byte, so names the `tar` crate's builder would
/// refuse (`..`, absolute) reach the applier as a hostile layer would carry them.
fn hostile_tar(entries: &[(String, Kind)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind) in entries {
        let mut h = tar::Header::new_ustar();
        let (data, typ, link): (&[u8], tar::EntryType, &str) = match kind {
            Kind::File(d) => (d, tar::EntryType::Regular, ""),
            Kind::Dir => (&[], tar::EntryType::Directory, ""),
            Kind::Symlink(t) => (&[], tar::EntryType::Symlink, t),
            Kind::Hardlink(t) => (&[], tar::EntryType::Link, t),
            Kind::CharDev => (&[], tar::EntryType::Char, ""),
            Kind::Fifo => (&[], tar::EntryType::Fifo, ""),
        };
        {
            let raw = h.as_old_mut();
            let n = name.len().min(99);
            raw.name[..n].copy_from_slice(&name.as_bytes()[..n]);
            let l = link.len().min(99);
            raw.linkname[..l].copy_from_slice(&link.as_bytes()[..l]);
        }
        h.set_entry_type(typ);
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        if matches!(kind, Kind::CharDev) {
            let _ = h.set_device_major(1);
            let _ = h.set_device_minor(3);
        }
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// Every path under `dir` that is not under `skip`, with a fingerprint of what it is.
fn snapshot(dir: &Path, skip: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.starts_with(skip) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let what = if meta.is_dir() {
                todo.push(p.clone());
                "dir".to_string()
            } else if meta.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&p).unwrap())
            } else {
                format!("file {:?}", std::fs::read(&p).ok())
            };
            out.insert(p.display().to_string(), what);
        }
    }
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn hostile_layers_stay_inside_their_root(
        entries in prop::collection::vec(entry(), 1..10),
        gzip in any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let outer = tmp.path().join("outer");
        let dest = outer.join("dest");
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::create_dir_all(outer.join("outside")).unwrap();
        std::fs::write(outer.join("sentinel"), b"keep").unwrap();
        std::fs::write(outer.join("outside/file"), b"keep").unwrap();
        let before = snapshot(tmp.path(), &dest);

        let tar = hostile_tar(&entries);
        let (bytes, compression) = if gzip {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&tar).unwrap();
            (gz.finish().unwrap(), Compression::Gzip)
        } else {
            (tar, Compression::None)
        };
        // Refusing the layer is fine (a file system error on a path the layer itself made
        // impossible counts as one); what matters is where the applier wrote.
        let _ = apply_layer(bytes.as_slice(), compression, &dest, &UnpackOptions::for_current_user());
        prop_assert_eq!(snapshot(tmp.path(), &dest), before, "{:?}", entries);
    }

    #[test]
    fn garbage_streams_are_refused_cleanly(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        compression in prop::sample::select(vec![Compression::None, Compression::Gzip, Compression::Zstd]),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        let _ = apply_layer(bytes.as_slice(), compression, &dest, &UnpackOptions::for_current_user());
    }
}
