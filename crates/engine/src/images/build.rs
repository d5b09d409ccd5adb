//! Writing a new image locally (shared by `import` and `commit`): a layer from an uncompressed
//! tar stream, then the config, the OCI manifest and the metadata record.
//!
//! [`store_layer`] reads the tar once: every byte goes through sha256 (the DiffID) and a gzip
//! compressor whose output is hashed (the blob digest) and spooled to a file under
//! `<root>/tmp/`, which then becomes the content-store blob. The layer snapshot is unpacked
//! from the stored blob with the same extractor a pull uses (verifying the DiffID again).

use layers::unpack::{self, UnpackOptions};
use oci_model::image_config::ContainerConfig;
use oci_model::media_type::Compression;
use oci_model::reference::Reference;
use oci_model::{Digest, Error, ErrorKind, Result, Sha256Writer};
use serde_json::{Map, Value, json};
use std::io::{self, BufWriter, Read, Write};
use std::ops::Deref;
use store::Store;
use store::leases::Lease;
use store::metadata::{ImageRecord, LayerRecord, WhiteoutForm};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

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

/// A temporary file under `<root>/tmp/` (removed on drop; swept on the next start if killed).
pub(crate) fn temp_file(store: &Store, what: &str) -> Result<(fsutil::TempFile, std::fs::File)> {
    let dir = store.root().join("tmp");
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| sweep_temp_files(store.root(), |pid| !process_alive(pid)));
    fsutil::TempFile::create_in(&dir, what).map_err(|e| {
        Error::internal(
            format_args!("create a temporary file in {}", dir.display()),
            e,
        )
    })
}

/// Removes the spool files under `<root>/tmp/` whose owner (the pid in their
/// [`fsutil::unique_name`]) `gone` says is gone: what a killed import, commit or push left. Only
/// plain files: directories there are export views that may still be mounted. Best effort.
pub fn sweep_temp_files(root: &std::path::Path, gone: impl Fn(u32) -> bool) {
    let Ok(entries) = std::fs::read_dir(root.join("tmp")) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let owner = name
            .to_str()
            .and_then(|n| {
                n.split('-')
                    .find(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            })
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = owner
            && e.file_type().is_ok_and(|t| t.is_file())
            && gone(pid)
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Removes this process's own spool files: on SIGINT/SIGTERM, before exiting without unwinding.
pub fn remove_own_temp_files(root: &std::path::Path) {
    let me = std::process::id();
    sweep_temp_files(root, |pid| pid == me);
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new("/proc").join(pid.to_string()).exists()
}

/// A writer that hashes what passes through it.
pub(crate) struct Hashing<W> {
    pub(crate) inner: W,
    pub(crate) hash: Sha256Writer,
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

/// Streams the uncompressed tar `plain` into a gzip layer blob, then unpacks it as the
/// snapshot on top of `parent` (a ChainID) and records the layer. The blob and the layer are
/// added to `lease` before they are stored, so they survive a concurrent garbage collection
/// until the caller has recorded its image.
pub fn store_layer<R: Read, S: Deref<Target = Store>>(
    store: &Store,
    mut plain: R,
    parent: Option<&Digest>,
    lease: &Lease<S>,
) -> Result<NewLayer> {
    let (tmp, file) = temp_file(store, "layer")?;
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
        .map_err(|e| Error::internal("compressing layer", e))?;
    compressed
        .flush()
        .map_err(|e| Error::internal("writing layer", e))?;
    let blob_digest = compressed.hash.digest();
    let compressed_size = compressed.hash.len();
    drop(compressed);
    let chain = oci_model::image_config::chain_id(parent, &diff_id);
    lease.add(
        std::slice::from_ref(&blob_digest),
        std::slice::from_ref(&chain),
    )?;

    store
        .content
        .write_blob_from_file(&blob_digest, compressed_size, tmp.path())?;
    drop(tmp);
    // Made here: the layers `push --compression` may re-encode.
    store
        .db()
        .mark_blobs_local(std::slice::from_ref(&blob_digest))?;

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
        whiteout_form: WhiteoutForm::of(&opts),
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
        created_unix: oci_model::time::parse_rfc3339(&created).unwrap_or(0),
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
        added_unix: oci_model::time::now_unix(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use store::config::Config;

    #[test]
    fn stored_layer_is_leased_until_released() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("store"), Config::default()).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, "f", &b"hi"[..]).unwrap();
        let plain = b.into_inner().unwrap();
        let lease = Lease::new(&store, "test", &[], &[]).unwrap();
        let layer = store_layer(&store, plain.as_slice(), None, &lease).unwrap();
        assert_eq!(layer.diff_id, Digest::of(&plain));
        assert_eq!(layer.chain_id, layer.diff_id);
        assert_eq!(layer.size, 2);
        let db = store.db();
        assert!(db.leased("layer", &layer.chain_id.to_string()).unwrap());
        assert!(db.leased("blob", &layer.blob_digest.to_string()).unwrap());
        // The blob is the gzip of the tar, stored under its digest.
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(store.content.open_blob(&layer.blob_digest).unwrap())
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, plain);
        drop(lease);
        assert!(
            !store
                .db()
                .leased("layer", &layer.chain_id.to_string())
                .unwrap()
        );
        // A second layer on top gets the ChainID of the pair; the same bytes again are reused.
        let lease = Lease::new(&store, "test", &[], &[]).unwrap();
        let again = store_layer(&store, plain.as_slice(), Some(&layer.chain_id), &lease).unwrap();
        assert_eq!(
            again.chain_id,
            Digest::of(format!("{} {}", layer.chain_id, layer.diff_id).as_bytes())
        );
        assert_eq!(again.blob_digest, layer.blob_digest);
        drop(lease);
        // Nothing spooled is left behind.
        assert_eq!(
            std::fs::read_dir(store.root().join("tmp")).unwrap().count(),
            0
        );
    }
}
