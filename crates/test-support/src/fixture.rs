//! Fixture images: deterministic layers and images written as an OCI image layout, then pushed to
//! a real registry.
//!
//! Every byte is built here (tar, compression, config, manifest, index JSON), so tests know the exact
//! digests to expect. All entries have a fixed mtime and owner unless a test sets them.

use anyhow::Result;
use oci_model::Digest;
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

pub use crate::push::{push, push_as};
pub use crate::samples::{
    busybox_image, compression_image, multi_arch_specs, sample_docker_image, sample_image,
    sample_layers,
};

pub use oci_model::media_type::{
    DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR, DOCKER_LAYER_ZSTD, DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST_V2 as DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_LAYER_TAR,
    OCI_LAYER_ZSTD, OCI_MANIFEST,
};

/// The fixed mtime of every entry (2023-11-14T22:13:20Z) unless set otherwise.
pub const FIXED_MTIME: u64 = 1_700_000_000;
/// The fixed `created` time of fixture images.
pub const FIXED_CREATED: &str = "2023-11-14T22:13:20Z";

/// Owner, mtime and extended attributes of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    /// Written as PAX `SCHILY.xattr.<name>` records.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl Default for Meta {
    fn default() -> Meta {
        Meta {
            uid: 0,
            gid: 0,
            mtime: FIXED_MTIME,
            xattrs: Vec::new(),
        }
    }
}

/// One entry of a layer tar. Paths are archive paths; a leading `/` is dropped.
#[derive(Debug, Clone)]
pub enum Entry {
    File {
        path: String,
        data: Vec<u8>,
        mode: u32,
        meta: Meta,
    },
    Dir {
        path: String,
        mode: u32,
        meta: Meta,
    },
    Symlink {
        path: String,
        target: String,
        meta: Meta,
    },
    /// `target` is the archive path of an earlier entry.
    Hardlink {
        path: String,
        target: String,
        meta: Meta,
    },
    /// Deletes `path` from lower layers: writes `<parent>/.wh.<name>`.
    Whiteout {
        path: String,
    },
    /// Hides everything lower layers have under `dir`: writes `<dir>/.wh..wh..opq`.
    Opaque {
        dir: String,
    },
    CharDev {
        path: String,
        major: u32,
        minor: u32,
        mode: u32,
        meta: Meta,
    },
    Fifo {
        path: String,
        mode: u32,
        meta: Meta,
    },
    /// A header written as is (no path validation), for malicious-archive tests.
    Raw {
        header: Box<tar::Header>,
        data: Vec<u8>,
    },
}

fn clean(path: &str) -> String {
    path.trim_start_matches('/').to_string()
}

impl Entry {
    /// A regular file, mode 0644.
    pub fn file(path: &str, data: impl Into<Vec<u8>>) -> Entry {
        Entry::File {
            path: clean(path),
            data: data.into(),
            mode: 0o644,
            meta: Meta::default(),
        }
    }
    /// An executable file, mode 0755.
    pub fn exec(path: &str, data: impl Into<Vec<u8>>) -> Entry {
        Entry::File {
            path: clean(path),
            data: data.into(),
            mode: 0o755,
            meta: Meta::default(),
        }
    }
    /// A directory, mode 0755.
    pub fn dir(path: &str) -> Entry {
        Entry::Dir {
            path: clean(path),
            mode: 0o755,
            meta: Meta::default(),
        }
    }
    pub fn symlink(path: &str, target: &str) -> Entry {
        Entry::Symlink {
            path: clean(path),
            target: target.to_string(),
            meta: Meta::default(),
        }
    }
    pub fn hardlink(path: &str, target: &str) -> Entry {
        Entry::Hardlink {
            path: clean(path),
            target: clean(target),
            meta: Meta::default(),
        }
    }
    pub fn whiteout(path: &str) -> Entry {
        Entry::Whiteout { path: clean(path) }
    }
    pub fn opaque(dir: &str) -> Entry {
        Entry::Opaque { dir: clean(dir) }
    }
    pub fn char_dev(path: &str, major: u32, minor: u32) -> Entry {
        Entry::CharDev {
            path: clean(path),
            major,
            minor,
            mode: 0o666,
            meta: Meta::default(),
        }
    }
    pub fn fifo(path: &str) -> Entry {
        Entry::Fifo {
            path: clean(path),
            mode: 0o644,
            meta: Meta::default(),
        }
    }

    /// A raw header whose name and link name bytes (at most 100 each) are stored verbatim, e.g.
    /// `../escape`, `/etc/passwd` or a symlink pointing outside the root.
    pub fn raw(
        kind: tar::EntryType,
        name: &[u8],
        link_name: &[u8],
        data: impl Into<Vec<u8>>,
    ) -> Entry {
        assert!(
            name.len() <= 100 && link_name.len() <= 100,
            "raw names are limited to 100 bytes"
        );
        let data = data.into();
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(FIXED_MTIME);
        header.set_size(data.len() as u64);
        let old = header.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name);
        old.linkname = [0; 100];
        old.linkname[..link_name.len()].copy_from_slice(link_name);
        header.set_cksum();
        Entry::Raw {
            header: Box::new(header),
            data,
        }
    }

    fn meta_mut(&mut self) -> Option<&mut Meta> {
        match self {
            Entry::File { meta, .. }
            | Entry::Dir { meta, .. }
            | Entry::Symlink { meta, .. }
            | Entry::Hardlink { meta, .. }
            | Entry::CharDev { meta, .. }
            | Entry::Fifo { meta, .. } => Some(meta),
            Entry::Whiteout { .. } | Entry::Opaque { .. } | Entry::Raw { .. } => None,
        }
    }

    /// Sets the owner (no effect on whiteouts, opaque markers and raw entries).
    pub fn owner(mut self, uid: u64, gid: u64) -> Entry {
        if let Some(m) = self.meta_mut() {
            m.uid = uid;
            m.gid = gid;
        }
        self
    }

    pub fn mtime(mut self, mtime: u64) -> Entry {
        if let Some(m) = self.meta_mut() {
            m.mtime = mtime;
        }
        self
    }

    /// Adds an extended attribute (PAX `SCHILY.xattr.<name>`).
    pub fn xattr(mut self, name: &str, value: impl Into<Vec<u8>>) -> Entry {
        if let Some(m) = self.meta_mut() {
            m.xattrs.push((name.to_string(), value.into()));
        }
        self
    }

    /// Sets the permission bits of files, directories, devices and FIFOs.
    pub fn mode(mut self, new_mode: u32) -> Entry {
        match &mut self {
            Entry::File { mode, .. }
            | Entry::Dir { mode, .. }
            | Entry::CharDev { mode, .. }
            | Entry::Fifo { mode, .. } => *mode = new_mode,
            _ => {}
        }
        self
    }
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comp {
    Gzip,
    Zstd,
    None,
}

#[derive(Debug, Clone)]
pub struct LayerSpec {
    pub entries: Vec<Entry>,
    pub comp: Comp,
}

impl LayerSpec {
    pub fn new(comp: Comp, entries: Vec<Entry>) -> LayerSpec {
        LayerSpec { entries, comp }
    }
}

/// A built layer: the uncompressed tar and the blob as pushed.
#[derive(Debug, Clone)]
pub struct BuiltLayer {
    pub tar: Vec<u8>,
    pub blob: Vec<u8>,
    pub digest: Digest,
    pub diff_id: Digest,
    pub media_type: &'static str,
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    // "<len> <key>=<value>\n" where len counts the whole record, its own digits included.
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

fn base_header(kind: tar::EntryType, mode: u32, meta: &Meta) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(meta.uid);
    h.set_gid(meta.gid);
    h.set_mtime(meta.mtime);
    h.set_size(0);
    h
}

/// Writes the entries as an uncompressed tar (GNU format, PAX records for xattrs).
pub fn layer_tar(entries: &[Entry]) -> Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for entry in entries {
        if let Entry::Raw { header, data } = entry {
            b.append(header, data.as_slice())?;
            continue;
        }
        let plain_meta = Meta::default();
        let mut e = entry.clone();
        let meta = e.meta_mut().cloned().unwrap_or(plain_meta);
        if !meta.xattrs.is_empty() {
            let mut records = Vec::new();
            for (k, v) in &meta.xattrs {
                records.extend(pax_record(&format!("SCHILY.xattr.{k}"), v));
            }
            let mut h = base_header(tar::EntryType::XHeader, 0o644, &Meta::default());
            h.set_size(records.len() as u64);
            b.append_data(&mut h, "PaxHeaders/xattrs", records.as_slice())?;
        }
        match entry {
            Entry::File {
                path, data, mode, ..
            } => {
                let mut h = base_header(tar::EntryType::Regular, *mode, &meta);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, data.as_slice())?;
            }
            Entry::Dir { path, mode, .. } => {
                let mut h = base_header(tar::EntryType::Directory, *mode, &meta);
                b.append_data(&mut h, format!("{}/", path.trim_end_matches('/')), &[][..])?;
            }
            Entry::Symlink { path, target, .. } => {
                let mut h = base_header(tar::EntryType::Symlink, 0o777, &meta);
                b.append_link(&mut h, path, target)?;
            }
            Entry::Hardlink { path, target, .. } => {
                let mut h = base_header(tar::EntryType::Link, 0o644, &meta);
                b.append_link(&mut h, path, target)?;
            }
            Entry::Whiteout { path } => {
                let (parent, name) = match path.trim_end_matches('/').rsplit_once('/') {
                    Some((p, n)) => (format!("{p}/"), n.to_string()),
                    None => (String::new(), path.trim_end_matches('/').to_string()),
                };
                let mut h = base_header(tar::EntryType::Regular, 0o644, &meta);
                b.append_data(&mut h, format!("{parent}.wh.{name}"), &[][..])?;
            }
            Entry::Opaque { dir } => {
                let mut h = base_header(tar::EntryType::Regular, 0o644, &meta);
                let dir = dir.trim_end_matches('/');
                let p = if dir.is_empty() {
                    ".wh..wh..opq".to_string()
                } else {
                    format!("{dir}/.wh..wh..opq")
                };
                b.append_data(&mut h, p, &[][..])?;
            }
            Entry::CharDev {
                path,
                major,
                minor,
                mode,
                ..
            } => {
                let mut h = base_header(tar::EntryType::Char, *mode, &meta);
                h.set_device_major(*major)?;
                h.set_device_minor(*minor)?;
                b.append_data(&mut h, path, &[][..])?;
            }
            Entry::Fifo { path, mode, .. } => {
                let mut h = base_header(tar::EntryType::Fifo, *mode, &meta);
                b.append_data(&mut h, path, &[][..])?;
            }
            Entry::Raw { .. } => unreachable!("handled above"),
        }
    }
    Ok(b.into_inner()?)
}

/// Compresses `data` deterministically (gzip header mtime 0, zstd level 3).
pub fn compress(data: &[u8], comp: Comp) -> Result<Vec<u8>> {
    Ok(match comp {
        Comp::None => data.to_vec(),
        Comp::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data)?;
            enc.finish()?
        }
        Comp::Zstd => zstd::encode_all(data, 3)?,
    })
}

/// Builds one layer; `docker` selects Docker media types instead of OCI ones.
pub fn build_layer(spec: &LayerSpec, docker: bool) -> Result<BuiltLayer> {
    let tar = layer_tar(&spec.entries)?;
    let blob = compress(&tar, spec.comp)?;
    let media_type = match (spec.comp, docker) {
        (Comp::Gzip, false) => OCI_LAYER_GZIP,
        (Comp::Zstd, false) => OCI_LAYER_ZSTD,
        (Comp::None, false) => OCI_LAYER_TAR,
        (Comp::Gzip, true) => DOCKER_LAYER_GZIP,
        (Comp::Zstd, true) => DOCKER_LAYER_ZSTD,
        (Comp::None, true) => DOCKER_LAYER_TAR,
    };
    Ok(BuiltLayer {
        diff_id: Digest::of(&tar),
        digest: Digest::of(&blob),
        tar,
        blob,
        media_type,
    })
}

/// What an image looks like.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub layers: Vec<LayerSpec>,
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub labels: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub created: String,
    /// Docker v2 schema 2 manifest and Docker config/layer media types instead of OCI ones.
    pub docker_media_types: bool,
    /// The config's `history`, written as given (an empty list omits the key); `None` writes one
    /// `test-support layer N` entry per layer.
    pub history: Option<Vec<Value>>,
}

impl Default for ImageSpec {
    fn default() -> ImageSpec {
        ImageSpec {
            layers: Vec::new(),
            os: "linux".into(),
            arch: "amd64".into(),
            variant: None,
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            cmd: None,
            entrypoint: None,
            labels: Vec::new(),
            working_dir: None,
            user: None,
            created: FIXED_CREATED.into(),
            docker_media_types: false,
            history: None,
        }
    }
}

impl ImageSpec {
    /// `os/arch[/variant]`
    pub fn platform(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.arch),
            None => format!("{}/{}", self.os, self.arch),
        }
    }

    /// The platform object of index entries.
    fn platform_json(&self) -> Value {
        let mut p = Map::new();
        p.insert("architecture".into(), json!(self.arch));
        p.insert("os".into(), json!(self.os));
        if let Some(v) = &self.variant {
            p.insert("variant".into(), json!(v));
        }
        Value::Object(p)
    }
}

/// An image as written: every digest and the exact manifest/config bytes.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub manifest_digest: Digest,
    pub manifest_bytes: Vec<u8>,
    pub manifest_media_type: &'static str,
    pub config_digest: Digest,
    pub config_bytes: Vec<u8>,
    pub layer_digests: Vec<Digest>,
    pub layer_sizes: Vec<u64>,
    pub layer_media_types: Vec<&'static str>,
    pub diff_ids: Vec<Digest>,
    /// `os/arch[/variant]`
    pub platform: String,
}

/// An index (OCI image index or Docker manifest list) and its images.
#[derive(Debug, Clone)]
pub struct BuiltIndex {
    pub digest: Digest,
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
    pub images: Vec<BuiltImage>,
}

fn descriptor(media_type: &str, digest: &Digest, size: usize) -> Value {
    json!({"mediaType": media_type, "digest": digest.to_string(), "size": size})
}

/// An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/`).
pub struct OciLayout {
    dir: PathBuf,
    refs: Vec<Value>,
}

/// The annotation that names an entry of `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

impl OciLayout {
    /// Creates (or reopens) a layout in `dir`.
    pub fn new(dir: &Path) -> Result<OciLayout> {
        std::fs::create_dir_all(dir.join("blobs/sha256"))?;
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let index_path = dir.join("index.json");
        let refs = if index_path.exists() {
            let v: Value = serde_json::from_slice(&std::fs::read(&index_path)?)?;
            v["manifests"].as_array().cloned().unwrap_or_default()
        } else {
            Vec::new()
        };
        let layout = OciLayout {
            dir: dir.to_path_buf(),
            refs,
        };
        layout.write_index()?;
        Ok(layout)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of a blob inside the layout.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.hex())
    }

    /// Stores a blob and returns its digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let d = Digest::of(bytes);
        std::fs::write(self.blob_path(&d), bytes)?;
        Ok(d)
    }

    fn write_index(&self) -> Result<()> {
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.refs});
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec_pretty(&index)?,
        )?;
        Ok(())
    }

    fn set_ref(&mut self, tag: &str, media_type: &str, digest: &Digest, size: usize) -> Result<()> {
        self.refs.retain(|r| r["annotations"][REF_NAME] != tag);
        let mut d = descriptor(media_type, digest, size);
        d["annotations"] = json!({ REF_NAME: tag });
        self.refs.push(d);
        self.write_index()
    }

    /// Writes an image's blobs without naming it in `index.json`. `force_docker` overrides the
    /// spec's media type choice.
    pub fn write_image(&self, spec: &ImageSpec, force_docker: bool) -> Result<BuiltImage> {
        let docker = spec.docker_media_types || force_docker;
        let mut layers = Vec::new();
        for l in &spec.layers {
            let built = build_layer(l, docker)?;
            self.write_blob(&built.blob)?;
            layers.push(built);
        }
        let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();

        let mut cfg = Map::new();
        if let Some(u) = &spec.user {
            cfg.insert("User".into(), json!(u));
        }
        cfg.insert("Env".into(), json!(spec.env));
        if let Some(e) = &spec.entrypoint {
            cfg.insert("Entrypoint".into(), json!(e));
        }
        if let Some(c) = &spec.cmd {
            cfg.insert("Cmd".into(), json!(c));
        }
        if let Some(w) = &spec.working_dir {
            cfg.insert("WorkingDir".into(), json!(w));
        }
        if !spec.labels.is_empty() {
            let labels: Map<String, Value> = spec
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            cfg.insert("Labels".into(), Value::Object(labels));
        }
        let mut config = Map::new();
        config.insert("architecture".into(), json!(spec.arch));
        if let Some(v) = &spec.variant {
            config.insert("variant".into(), json!(v));
        }
        config.insert("os".into(), json!(spec.os));
        config.insert("created".into(), json!(spec.created));
        config.insert("config".into(), Value::Object(cfg));
        config.insert(
            "rootfs".into(),
            json!({"type": "layers", "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()}),
        );
        let history: Vec<Value> = match &spec.history {
            Some(h) => h.clone(),
            None => (0..layers.len())
                .map(|i| json!({"created": spec.created, "created_by": format!("test-support layer {}", i + 1)}))
                .collect(),
        };
        if spec.history.as_ref().is_none_or(|h| !h.is_empty()) {
            config.insert("history".into(), Value::Array(history));
        }
        let config_bytes = serde_json::to_vec(&Value::Object(config))?;
        let config_digest = self.write_blob(&config_bytes)?;

        let (manifest_mt, config_mt) = if docker {
            (DOCKER_MANIFEST, DOCKER_CONFIG)
        } else {
            (OCI_MANIFEST, OCI_CONFIG)
        };
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": manifest_mt,
            "config": descriptor(config_mt, &config_digest, config_bytes.len()),
            "layers": layers.iter().map(|l| descriptor(l.media_type, &l.digest, l.blob.len())).collect::<Vec<_>>(),
        });
        let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
        let manifest_digest = self.write_blob(&manifest_bytes)?;
        Ok(BuiltImage {
            manifest_digest,
            manifest_bytes,
            manifest_media_type: manifest_mt,
            config_digest,
            config_bytes,
            layer_digests: layers.iter().map(|l| l.digest.clone()).collect(),
            layer_sizes: layers.iter().map(|l| l.blob.len() as u64).collect(),
            layer_media_types: layers.iter().map(|l| l.media_type).collect(),
            diff_ids,
            platform: spec.platform(),
        })
    }

    /// Writes an image and names it `tag` in `index.json`.
    pub fn add_image(&mut self, spec: &ImageSpec, tag: &str) -> Result<BuiltImage> {
        let img = self.write_image(spec, false)?;
        self.set_ref(
            tag,
            img.manifest_media_type,
            &img.manifest_digest,
            img.manifest_bytes.len(),
        )?;
        Ok(img)
    }

    /// Writes the images and an index over them named `tag`. With `docker_list` the index is a
    /// Docker manifest list and every image is built with Docker media types.
    pub fn add_index(
        &mut self,
        specs: &[ImageSpec],
        tag: &str,
        docker_list: bool,
    ) -> Result<BuiltIndex> {
        let mut images = Vec::new();
        let mut entries = Vec::new();
        for spec in specs {
            let img = self.write_image(spec, docker_list)?;
            let mut d = descriptor(
                img.manifest_media_type,
                &img.manifest_digest,
                img.manifest_bytes.len(),
            );
            d["platform"] = spec.platform_json();
            entries.push(d);
            images.push(img);
        }
        let media_type = if docker_list {
            DOCKER_MANIFEST_LIST
        } else {
            OCI_INDEX
        };
        let index = json!({"schemaVersion": 2, "mediaType": media_type, "manifests": entries});
        let bytes = serde_json::to_vec_pretty(&index)?;
        let digest = self.write_blob(&bytes)?;
        self.set_ref(tag, media_type, &digest, bytes.len())?;
        Ok(BuiltIndex {
            digest,
            bytes,
            media_type,
            images,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// (path, type, link name, uid, size, data, xattrs) of every entry, as a tar reader sees them.
    #[allow(clippy::type_complexity)]
    fn read_tar(
        data: &[u8],
    ) -> Vec<(
        String,
        tar::EntryType,
        Option<String>,
        u64,
        Vec<u8>,
        Vec<(String, Vec<u8>)>,
    )> {
        let mut ar = tar::Archive::new(data);
        let mut out = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let kind = e.header().entry_type();
            let link = e
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned());
            let uid = e.header().uid().unwrap();
            let mut xattrs = Vec::new();
            if let Some(exts) = e.pax_extensions().unwrap() {
                for ext in exts {
                    let ext = ext.unwrap();
                    xattrs.push((ext.key().unwrap().to_string(), ext.value_bytes().to_vec()));
                }
            }
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            out.push((path, kind, link, uid, body, xattrs));
        }
        out
    }

    #[test]
    fn layer_tar_has_every_entry_kind() {
        let tar = layer_tar(&[
            Entry::dir("/etc"),
            Entry::file("/etc/a", "hello")
                .owner(1000, 100)
                .xattr("user.k", b"v\0x".to_vec()),
            Entry::symlink("etc/l", "/etc/a"),
            Entry::hardlink("etc/h", "/etc/a"),
            Entry::whiteout("etc/gone"),
            Entry::whiteout("top"),
            Entry::opaque("etc"),
            Entry::char_dev("dev/null", 1, 3),
            Entry::fifo("run/p"),
            Entry::file(&format!("long/{}", "n".repeat(150)), "x"),
            Entry::raw(tar::EntryType::Regular, b"../escape", b"", "evil"),
            Entry::raw(tar::EntryType::Symlink, b"up", b"../../..", ""),
        ])
        .unwrap();
        let entries = read_tar(&tar);
        let summary: Vec<(&str, tar::EntryType, Option<&str>)> = entries
            .iter()
            .map(|(p, k, l, ..)| (p.as_str(), *k, l.as_deref()))
            .collect();
        let long = format!("long/{}", "n".repeat(150));
        assert_eq!(
            summary,
            vec![
                ("etc/", tar::EntryType::Directory, None),
                ("etc/a", tar::EntryType::Regular, None),
                ("etc/l", tar::EntryType::Symlink, Some("/etc/a")),
                ("etc/h", tar::EntryType::Link, Some("etc/a")),
                ("etc/.wh.gone", tar::EntryType::Regular, None),
                (".wh.top", tar::EntryType::Regular, None),
                ("etc/.wh..wh..opq", tar::EntryType::Regular, None),
                ("dev/null", tar::EntryType::Char, None),
                ("run/p", tar::EntryType::Fifo, None),
                (long.as_str(), tar::EntryType::Regular, None),
                ("../escape", tar::EntryType::Regular, None),
                ("up", tar::EntryType::Symlink, Some("../../..")),
            ]
        );
        let a = &entries[1];
        assert_eq!((a.3, a.4.as_slice()), (1000, &b"hello"[..]));
        assert_eq!(
            a.5,
            vec![("SCHILY.xattr.user.k".to_string(), b"v\0x".to_vec())]
        );
        assert_eq!(entries[10].4, b"evil");
        let mut ar = tar::Archive::new(tar.as_slice());
        for e in ar.entries().unwrap() {
            assert_eq!(e.unwrap().header().mtime().unwrap(), FIXED_MTIME);
        }
    }

    #[test]
    fn layers_are_deterministic_and_decompress_to_their_diff_id() {
        let entries = vec![Entry::file("f", vec![7u8; 10_000])];
        for comp in [Comp::Gzip, Comp::Zstd, Comp::None] {
            let spec = LayerSpec::new(comp, entries.clone());
            let a = build_layer(&spec, false).unwrap();
            let b = build_layer(&spec, false).unwrap();
            assert_eq!(a.digest, b.digest, "{comp:?} not deterministic");
            assert_eq!(a.digest, Digest::of(&a.blob));
            let plain = match comp {
                Comp::Gzip => {
                    let mut out = Vec::new();
                    flate2::read::GzDecoder::new(a.blob.as_slice())
                        .read_to_end(&mut out)
                        .unwrap();
                    out
                }
                Comp::Zstd => zstd::decode_all(a.blob.as_slice()).unwrap(),
                Comp::None => a.blob.clone(),
            };
            assert_eq!(Digest::of(&plain), a.diff_id);
            assert_eq!(plain, a.tar);
        }
        assert_eq!(
            build_layer(&LayerSpec::new(Comp::Zstd, entries.clone()), false)
                .unwrap()
                .media_type,
            OCI_LAYER_ZSTD
        );
        assert_eq!(
            build_layer(&LayerSpec::new(Comp::Gzip, entries), true)
                .unwrap()
                .media_type,
            DOCKER_LAYER_GZIP
        );
    }

    #[test]
    fn pax_records_count_their_own_length() {
        for (k, v) in [
            ("a", &b"b"[..]),
            ("SCHILY.xattr.user.x", &[0u8; 95][..]),
            ("k", &[1u8; 994][..]),
        ] {
            let rec = pax_record(k, v);
            let len: usize =
                std::str::from_utf8(&rec[..rec.iter().position(|&c| c == b' ').unwrap()])
                    .unwrap()
                    .parse()
                    .unwrap();
            assert_eq!(len, rec.len());
        }
    }

    #[test]
    fn layout_holds_consistent_image_and_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut layout = OciLayout::new(dir.path()).unwrap();
        let spec = crate::samples::sample_image();
        let img = layout.add_image(&spec, "one").unwrap();
        let again = OciLayout::new(tempfile::tempdir().unwrap().path())
            .unwrap()
            .write_image(&spec, false)
            .unwrap();
        assert_eq!(
            img.manifest_digest, again.manifest_digest,
            "image build not deterministic"
        );

        let config: Value = serde_json::from_slice(&img.config_bytes).unwrap();
        let diff_ids: Vec<String> = img.diff_ids.iter().map(|d| d.to_string()).collect();
        assert_eq!(config["rootfs"]["diff_ids"], json!(diff_ids));
        assert_eq!(config["architecture"], "amd64");
        assert_eq!(config["config"]["Labels"]["org.example.fixture"], "sample");
        let manifest: Value = serde_json::from_slice(&img.manifest_bytes).unwrap();
        assert_eq!(manifest["mediaType"], OCI_MANIFEST);
        assert_eq!(manifest["config"]["digest"], img.config_digest.to_string());
        assert_eq!(manifest["config"]["size"], img.config_bytes.len());
        for (i, l) in manifest["layers"].as_array().unwrap().iter().enumerate() {
            assert_eq!(l["digest"], img.layer_digests[i].to_string());
            assert_eq!(l["size"], img.layer_sizes[i]);
            let blob = std::fs::read(layout.blob_path(&img.layer_digests[i])).unwrap();
            assert_eq!(Digest::of(&blob), img.layer_digests[i]);
        }

        let idx = layout
            .add_index(&crate::samples::multi_arch_specs(), "multi", true)
            .unwrap();
        let list: Value = serde_json::from_slice(&idx.bytes).unwrap();
        assert_eq!(list["mediaType"], DOCKER_MANIFEST_LIST);
        assert_eq!(
            list["manifests"][1]["platform"],
            json!({"architecture": "arm64", "os": "linux", "variant": "v8"})
        );
        assert_eq!(list["manifests"][2]["mediaType"], DOCKER_MANIFEST);
        let arm_cfg: Value = serde_json::from_slice(&idx.images[2].config_bytes).unwrap();
        assert_eq!(
            (
                arm_cfg["architecture"].as_str(),
                arm_cfg["variant"].as_str()
            ),
            (Some("arm"), Some("v7"))
        );

        // Re-adding a tag replaces it; index.json names both tags.
        layout.add_image(&spec, "one").unwrap();
        let reopened = OciLayout::new(dir.path()).unwrap();
        let names: Vec<&str> = reopened
            .refs
            .iter()
            .map(|r| r["annotations"][REF_NAME].as_str().unwrap())
            .collect();
        assert_eq!(names, ["multi", "one"]);
    }
}
