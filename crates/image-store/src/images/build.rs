//! Writing a new image locally (shared by `import` and `commit`): a layer from an uncompressed
//! tar stream, then the config, the OCI manifest and the metadata record.
//!
//! [`store_layer`] reads the tar once: every byte goes through sha256 (the DiffID) and a gzip
//! compressor whose output is hashed (the blob digest) and spooled to a file under
//! `<root>/tmp/`, which then becomes the content-store blob. The layer snapshot is unpacked
//! from the stored blob with the same extractor a pull uses (verifying the DiffID again).

use crate::metadata::{ImageRecord, LayerRecord};
use crate::store::Store;
use crate::unpack::{self, UnpackOptions};
use oci_model::image_config::ContainerConfig;
use oci_model::media_type::Compression;
use oci_model::reference::Reference;
use oci_model::{Digest, Error, ErrorKind, Result, Sha256Writer};
use serde_json::{Map, Value, json};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn io_err(context: impl std::fmt::Display, e: io::Error) -> Error {
    Error::new(ErrorKind::Internal, format!("{context}: {e}"))
}

/// A layer in the content store and unpacked as a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLayer {
    pub blob_digest: Digest,
    pub diff_id: Digest,
    pub chain_id: Digest,
    pub media_type: String,
    pub compressed_size: u64,
    /// Unpacked content bytes (Docker's layer size).
    pub size: u64,
}

/// A file under `<root>/tmp/` removed when dropped.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn create(root: &Path, what: &str) -> Result<(TempFile, File)> {
        let dir = root.join("tmp");
        fs::create_dir_all(&dir)
            .map_err(|e| io_err(format_args!("create {}", dir.display()), e))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = dir.join(format!("{what}-{}-{nanos}", std::process::id()));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_err(format_args!("create {}", path.display()), e))?;
        Ok((TempFile { path }, file))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256Writer,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The ChainID of a layer with DiffID `diff_id` on top of `parent`.
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
    }
}

/// Streams the uncompressed tar `plain` into a gzip layer blob, then unpacks it as the
/// snapshot on top of `parent` (a ChainID) and records the layer.
pub fn store_layer<R: Read>(
    store: &Store,
    mut plain: R,
    parent: Option<&Digest>,
) -> Result<NewLayer> {
    let (tmp, file) = TempFile::create(store.root(), "layer")?;
    let compressed = Hashing {
        inner: BufWriter::with_capacity(256 * 1024, file),
        hash: Sha256Writer::new(),
    };
    let gz = flate2::write::GzEncoder::new(compressed, flate2::Compression::default());
    let mut outer = Hashing {
        inner: gz,
        hash: Sha256Writer::new(),
    };
    io::copy(&mut plain, &mut outer).map_err(|e| match e.downcast::<Error>() {
        Ok(inner) => inner,
        Err(e) => Error::invalid(format!("reading layer tar: {e}")),
    })?;
    let diff_id = outer.hash.digest();
    let mut compressed = outer
        .inner
        .finish()
        .map_err(|e| io_err("compressing layer", e))?;
    compressed.flush().map_err(|e| io_err("writing layer", e))?;
    let blob_digest = compressed.hash.digest();
    let compressed_size = compressed.hash.len();
    drop(compressed);

    match store.content.ingest(&blob_digest, Some(compressed_size))? {
        crate::content::IngestStart::Present => {}
        crate::content::IngestStart::Writer(mut w) => {
            w.reset()?;
            let mut f = File::open(&tmp.path)
                .map_err(|e| io_err(format_args!("open {}", tmp.path.display()), e))?;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = f
                    .read(&mut buf)
                    .map_err(|e| io_err("reading spooled layer", e))?;
                if n == 0 {
                    break;
                }
                w.write_all(&buf[..n])?;
            }
            w.commit()?;
        }
    }
    drop(tmp);

    let chain = chain_id(parent, &diff_id);
    let _lock = store.lock_layer(&chain)?;
    if let Some(l) = store.db().layer(&chain)?
        && store.snapshots.exists(&chain)
    {
        return Ok(NewLayer {
            blob_digest,
            diff_id,
            chain_id: chain,
            media_type: OCI_LAYER_GZIP.into(),
            compressed_size,
            size: l.size,
        });
    }
    let prepared = store.snapshots.prepare()?;
    let opts = UnpackOptions::for_current_user();
    let blob = store.content.open_blob(&blob_digest)?;
    let stats = unpack::apply_layer(blob, Compression::Gzip, prepared.path(), &opts)?;
    if stats.diff_id != diff_id {
        return Err(Error::corrupt(format!(
            "layer {blob_digest}: unpacked diff id {} does not match {diff_id}",
            stats.diff_id
        )));
    }
    store.snapshots.commit(prepared, &chain)?;
    store.db().insert_layer(&LayerRecord {
        chain_id: chain.clone(),
        diff_id: diff_id.clone(),
        parent: parent.cloned(),
        blob_digest: blob_digest.clone(),
        media_type: OCI_LAYER_GZIP.into(),
        compressed_size,
        size: stats.content_size,
        whiteout_form: if opts.overlay_whiteouts {
            "overlay".into()
        } else {
            "aufs".into()
        },
    })?;
    Ok(NewLayer {
        blob_digest,
        diff_id,
        chain_id: chain,
        media_type: OCI_LAYER_GZIP.into(),
        compressed_size,
        size: stats.content_size,
    })
}

/// The runtime config as Docker writes it (`container.Config`, fields in Go's order,
/// `omitempty` where Docker has it).
pub fn docker_runtime_config(c: &ContainerConfig) -> Value {
    let mut o = Map::new();
    let s = |v: &Option<String>| json!(v.clone().unwrap_or_default());
    let b = |k: &str| c.extra.get(k).and_then(Value::as_bool).unwrap_or(false);
    o.insert("Hostname".into(), json!(""));
    o.insert("Domainname".into(), json!(""));
    o.insert("User".into(), s(&c.user));
    o.insert("AttachStdin".into(), json!(false));
    o.insert("AttachStdout".into(), json!(false));
    o.insert("AttachStderr".into(), json!(false));
    if let Some(p) = c.exposed_ports.as_ref().filter(|p| !p.is_empty()) {
        o.insert("ExposedPorts".into(), json!(p));
    }
    o.insert("Tty".into(), json!(b("Tty")));
    o.insert("OpenStdin".into(), json!(b("OpenStdin")));
    o.insert("StdinOnce".into(), json!(b("StdinOnce")));
    o.insert("Env".into(), json!(c.env));
    o.insert("Cmd".into(), json!(c.cmd));
    if let Some(h) = &c.healthcheck {
        o.insert("Healthcheck".into(), h.clone());
    }
    if c.args_escaped == Some(true) {
        o.insert("ArgsEscaped".into(), json!(true));
    }
    o.insert("Image".into(), json!(""));
    o.insert("Volumes".into(), json!(c.volumes));
    o.insert("WorkingDir".into(), s(&c.working_dir));
    o.insert("Entrypoint".into(), json!(c.entrypoint));
    o.insert("OnBuild".into(), json!(c.on_build));
    o.insert("Labels".into(), json!(c.labels));
    if let Some(sig) = c.stop_signal.as_ref().filter(|s| !s.is_empty()) {
        o.insert("StopSignal".into(), json!(sig));
    }
    if let Some(sh) = c.shell.as_ref().filter(|s| !s.is_empty()) {
        o.insert("Shell".into(), json!(sh));
    }
    Value::Object(o)
}

/// Now, as Docker writes `created` (RFC 3339, nanoseconds, UTC).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// Writes the config (`config` serialized once; its digest is the image ID) and an OCI manifest
/// over `layers` (the image's full layer list, bottom first) into the content store, and records
/// the image, tagged `name` when given. Returns the image ID.
pub fn write_image(
    store: &Store,
    config: &Value,
    layers: &[NewLayer],
    name: Option<&Reference>,
) -> Result<String> {
    let config_bytes = serde_json::to_vec(config)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("serializing config: {e}")))?;
    let config_digest = Digest::of(&config_bytes);
    store.content.write_blob(&config_digest, &config_bytes)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest.to_string(), "size": config_bytes.len()},
        "layers": layers.iter().map(|l| json!({
            "mediaType": l.media_type,
            "digest": l.blob_digest.to_string(),
            "size": l.compressed_size,
        })).collect::<Vec<_>>(),
    });
    let manifest_bytes = serde_json::to_vec(&manifest)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("serializing manifest: {e}")))?;
    let manifest_digest = Digest::of(&manifest_bytes);
    store
        .content
        .write_blob(&manifest_digest, &manifest_bytes)?;

    let parsed = oci_model::image_config::ImageConfig::parse(&config_bytes)?;
    let created = parsed.created.clone().unwrap_or_default();
    let record = ImageRecord {
        id: config_digest.to_string(),
        manifest_digest: manifest_digest.to_string(),
        manifest_media_type: OCI_MANIFEST.into(),
        config_size: config_bytes.len() as u64,
        created_unix: created
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_second())
            .unwrap_or(0),
        created,
        architecture: parsed.architecture.clone(),
        os: parsed.os.clone(),
        variant: parsed.variant.clone(),
        labels: parsed
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default(),
        size: layers.iter().map(|l| l.size).sum(),
        added_unix: jiff::Timestamp::now().as_second(),
        last_tag_time: None,
        layers: layers.iter().map(|l| l.chain_id.clone()).collect(),
    };
    let (repo, tag) = match name {
        Some(r) => (r.name(), Some(r.tag().unwrap_or("latest").to_string())),
        None => (String::new(), None),
    };
    store
        .db()
        .commit_pull(&record, &repo, tag.as_deref(), None)?;
    Ok(record.id)
}

/// The layers of a recorded image as [`NewLayer`]s (for building on top of it).
pub fn image_layers(store: &Store, image_id: &str) -> Result<Vec<NewLayer>> {
    let db = store.db();
    let image = db
        .image(image_id)?
        .ok_or_else(|| Error::not_found(format!("No such image: {image_id}")))?;
    image
        .layers
        .iter()
        .map(|c| {
            let l = db
                .layer(c)?
                .ok_or_else(|| Error::not_found(format!("layer {c} of {image_id} not recorded")))?;
            Ok(NewLayer {
                blob_digest: l.blob_digest,
                diff_id: l.diff_id,
                chain_id: l.chain_id,
                media_type: l.media_type,
                compressed_size: l.compressed_size,
                size: l.size,
            })
        })
        .collect()
}
