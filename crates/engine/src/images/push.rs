//! `push`: an image's exact bytes to a registry, with Docker's progress vocabulary.
//!
//! For each tag pushed: the image's stored manifest is read from the content store — the bytes a
//! pull received (for a multi-arch pull, the platform manifest), or the OCI manifest `commit` /
//! `import` wrote — and its blobs go to the registry before the manifest is `PUT` under the tag.
//! Digests never change (no re-compression), except with `--compression zstd`, below.
//!
//! Per layer, top layer first (Docker's order and its ids: the short *DiffID*): `Preparing`; then,
//! with at most `max_concurrent_uploads` running (Docker's default 5, the others `Waiting`):
//! 1. `HEAD` in the target repository: present → `Layer already exists`;
//! 2. a cross-repository mount from up to three repositories of the same registry known to hold
//!    the blob (the `blob_sources` table: where pulls fetched blobs and pushes sent them) →
//!    `Mounted from <repo>`; a refused mount forgets that source and its session carries the
//!    upload;
//! 3. otherwise the blob is streamed from the content store (`Pushing` with bytes on a terminal)
//!    → `Pushed`. A blob the store never downloaded (a layer that was already unpacked from
//!    another image under a different blob digest) is first fetched from a registry known to hold
//!    it.
//!
//! Then the config blob (no progress line, as Docker), the manifest, the line
//! `<tag>: digest: <digest> size: <bytes>`, and `<repo>@<digest>` recorded as a repo digest.
//!
//! **`--compression zstd`** re-encodes only the layers strata made itself (`commit`, `import`:
//! recorded as local blobs) from gzip to zstd, and pushes a new OCI manifest over them; the config
//! (DiffIDs are of the uncompressed tar) is unchanged. Layers pulled from a registry keep their
//! bytes, so their digests (and mounts, and "already exists") still hold. The zstd blob is kept in
//! the content store and reused by the next push.

use super::build::{Hashing, temp_file};
use super::fetch::fetch_blob;
use super::tasks::{LayerTasks, blocking};
use crate::progress::{ProgressEvent, ProgressSink};
use bytes::Bytes;
use oci_model::image_config::ImageConfig;
use oci_model::manifest::{self, Descriptor, Parsed};
use oci_model::media_type::{self as mt, Compression};
use oci_model::reference::Reference;
use oci_model::{Digest, Error, ErrorKind, Result, Sha256Writer};
use registry_client::resolve;
use registry_client::upload::UploadProgressSink;
use registry_client::{
    MountOutcome, RegistryClient, RegistryError, RegistryErrorKind, UploadOptions, UploadProgress,
    UploadSession,
};
use serde_json::Value;
use std::io::{BufReader, BufWriter, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::Store;
use store::leases::Lease;

/// Docker's default `max-concurrent-uploads`.
pub const DEFAULT_MAX_CONCURRENT_UPLOADS: usize = 5;
/// Mount attempts per blob (Docker tries up to 3 or 4 candidates by layer size).
const MAX_MOUNT_CANDIDATES: usize = 3;
/// zstd level of `--compression zstd` (zstd's default).
const ZSTD_LEVEL: i32 = 3;

#[derive(Clone, Debug)]
pub struct PushOptions {
    pub max_concurrent_uploads: usize,
    /// `Some(Compression::Zstd)`: re-encode the layers strata made (see the module notes).
    /// `None` or `Some(Compression::Gzip)`: push the stored bytes.
    pub compression: Option<Compression>,
    pub upload: UploadOptions,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            max_concurrent_uploads: DEFAULT_MAX_CONCURRENT_UPLOADS,
            compression: None,
            upload: UploadOptions::default(),
        }
    }
}

/// One tag pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    pub tag: String,
    /// The digest of the manifest pushed.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// Pushes `reference`: its tag, or with a name only every local tag of that repository (sorted),
/// as the Docker daemon does (the CLI applies `latest` unless `--all-tags`).
pub async fn push(
    store: &Arc<Store>,
    client: &RegistryClient,
    reference: &Reference,
    opts: &PushOptions,
    progress: &ProgressSink,
) -> Result<Vec<PushOutcome>> {
    let name = reference.name();
    progress(ProgressEvent::status(format!(
        "The push refers to repository [{name}]"
    )));
    let tags: Vec<(String, String)> = store
        .db()
        .all_tags()?
        .into_iter()
        .filter(|(repo, _, _)| *repo == name)
        .map(|(_, tag, id)| (tag, id))
        .collect();
    let has_digests = store
        .db()
        .all_repo_digests()?
        .iter()
        .any(|(repo, _, _)| *repo == name);
    if tags.is_empty() && !has_digests {
        return Err(Error::not_found(format!(
            "An image does not exist locally with the tag: {}",
            reference.familiar_name()
        )));
    }
    // Docker reaches the registry before it looks at the tag (a refused connection wins).
    client.ping(reference.domain()).await.map_err(push_error)?;
    if reference.digest().is_some() {
        return Err(Error::invalid("cannot push a digest reference"));
    }
    let todo: Vec<(String, String)> = match reference.tag() {
        Some(tag) => match tags.iter().find(|(t, _)| t == tag) {
            Some(found) => vec![found.clone()],
            None => {
                return Err(Error::not_found(format!(
                    "tag does not exist: {}",
                    reference.familiar_string()
                )));
            }
        },
        None => {
            if tags.is_empty() {
                return Err(Error::not_found(format!(
                    "no tags to push for {}",
                    reference.familiar_name()
                )));
            }
            tags
        }
    };
    let mut outcomes = Vec::new();
    for (tag, image_id) in todo {
        outcomes.push(push_tag(store, client, reference, &tag, &image_id, opts, progress).await?);
    }
    Ok(outcomes)
}

/// What a stored image's manifest says, read from the content store.
struct StoredImage {
    manifest_media_type: String,
    manifest_bytes: Vec<u8>,
    manifest: oci_model::manifest::ImageManifest,
    config_bytes: Vec<u8>,
    diff_ids: Vec<Digest>,
}

/// The manifest to push for image `image_id` as repository `name`: one this repository already
/// had for the image (a repo digest of `name` naming a stored image manifest of this config), so
/// that pushing back what was pulled keeps its digest even when the same image was first pulled
/// from elsewhere with other layer blobs; otherwise the image's own manifest.
fn stored_image(store: &Store, image_id: &str, name: &str) -> Result<StoredImage> {
    let image = store
        .db()
        .image(image_id)?
        .ok_or_else(|| Error::not_found(format!("No such image: {image_id}")))?;
    let own = store
        .db()
        .repo_digests_for(image_id)?
        .into_iter()
        .filter(|(repo, _)| repo == name)
        .find_map(|(_, d)| {
            let bytes = store.content.read(&d).ok()?;
            match manifest::parse(None, &bytes).ok()? {
                (Parsed::Manifest(m), mt) if m.config.digest.to_string() == image_id => {
                    Some((d, mt, bytes))
                }
                _ => None,
            }
        });
    let (manifest_digest, media_type_hint, manifest_bytes) = match own {
        Some(found) => found,
        None => {
            let d = Digest::parse(&image.manifest_digest)?;
            let bytes = store.content.read(&d).map_err(|e| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("image {image_id}: its manifest {d} is not in the store: {e}"),
                )
            })?;
            (d, image.manifest_media_type.clone(), bytes)
        }
    };
    let (parsed, media_type) = manifest::parse(Some(&media_type_hint), &manifest_bytes)?;
    let Parsed::Manifest(manifest) = parsed else {
        return Err(Error::unsupported(format!(
            "image {image_id}: {manifest_digest} is not an image manifest"
        )));
    };
    let config_bytes = store.content.read(&manifest.config.digest)?;
    let config = ImageConfig::parse(&config_bytes)?;
    let diff_ids = config.rootfs.diff_ids.clone();
    if diff_ids.len() != manifest.layers.len() {
        return Err(Error::corrupt(format!(
            "image {manifest_digest} has {} layers but its config lists {} diff ids",
            manifest.layers.len(),
            diff_ids.len()
        )));
    }
    Ok(StoredImage {
        manifest_media_type: media_type,
        manifest_bytes,
        manifest,
        config_bytes,
        diff_ids,
    })
}

async fn push_tag(
    store: &Arc<Store>,
    client: &RegistryClient,
    reference: &Reference,
    tag: &str,
    image_id: &str,
    opts: &PushOptions,
    progress: &ProgressSink,
) -> Result<PushOutcome> {
    let img = {
        let (store, id, name) = (store.clone(), image_id.to_string(), reference.name());
        blocking(move || stored_image(&store, &id, &name)).await?
    };
    // Everything read here stays until the manifest is pushed (a concurrent rmi/prune waits).
    let lease = {
        let store2 = store.clone();
        let mut blobs = vec![
            Digest::of(&img.manifest_bytes),
            img.manifest.config.digest.clone(),
        ];
        blobs.extend(img.manifest.layers.iter().map(|l| l.digest.clone()));
        Arc::new(blocking(move || Lease::new(store2, "push", &blobs, &[])).await?)
    };
    let zstd = opts.compression == Some(Compression::Zstd);

    // Top layer first, as Docker lists them.
    let order: Vec<usize> = (0..img.manifest.layers.len()).rev().collect();
    for &i in &order {
        progress(ProgressEvent::with_id(img.diff_ids[i].short(), "Preparing"));
    }
    let max = opts.max_concurrent_uploads.max(1);
    let mut tasks = LayerTasks::new(max, "push cancelled");
    let mut started: Vec<(Digest, usize)> = Vec::new();
    for &i in &order {
        let diff_id = &img.diff_ids[i];
        // One transfer per layer content; a repeated layer takes the first one's result.
        if started.iter().any(|(d, _)| d == diff_id) {
            continue;
        }
        started.push((diff_id.clone(), i));
        if started.len() > max {
            progress(ProgressEvent::with_id(diff_id.short(), "Waiting"));
        }
        let desc = img.manifest.layers[i].clone();
        let convert = zstd
            && Compression::from_layer_media_type(&desc.media_type) == Some(Compression::Gzip)
            && store.db().blob_is_local(&desc.digest)?;
        let job = LayerPush {
            store: store.clone(),
            client: client.clone(),
            domain: reference.domain().to_string(),
            repo: reference.path().to_string(),
            id: diff_id.short().to_string(),
            desc,
            convert,
            upload: opts.upload.clone(),
            lease: lease.clone(),
            progress: progress.clone(),
        };
        tasks.spawn(async move { job.run().await.map(|d| (i, d)) });
    }
    let mut pushed: Vec<Option<Descriptor>> = vec![None; img.manifest.layers.len()];
    for (i, d) in tasks.join().await? {
        pushed[i] = Some(d);
    }
    // Repeated layers take the descriptor of the transfer that ran.
    let layers: Vec<Descriptor> = (0..img.manifest.layers.len())
        .map(|i| {
            let first = started
                .iter()
                .find(|(d, _)| *d == img.diff_ids[i])
                .map(|(_, j)| *j)
                .unwrap_or(i);
            pushed[first]
                .clone()
                .unwrap_or_else(|| img.manifest.layers[i].clone())
        })
        .collect();

    let domain = reference.domain();
    let repo = reference.path();
    // The config: Docker checks it with HEAD and uploads it when missing; no progress line.
    let config_digest = img.manifest.config.digest.clone();
    let has_config = client
        .head_blob(domain, repo, &config_digest)
        .await
        .map_err(push_error)?
        .is_some();
    if !has_config {
        client
            .upload_blob_bytes(
                domain,
                repo,
                &config_digest,
                Bytes::from(img.config_bytes.clone()),
                None,
            )
            .await
            .map_err(push_error)?;
    }

    // The manifest: the stored bytes, or a new one over converted layers.
    let (media_type, manifest_bytes) = if layers == img.manifest.layers {
        (img.manifest_media_type.clone(), img.manifest_bytes.clone())
    } else {
        let bytes = rewrite_manifest(&img.manifest_bytes, &layers)?;
        let d = Digest::of(&bytes);
        lease.add(std::slice::from_ref(&d), &[])?;
        store.content.write_blob(&d, &bytes)?;
        (mt::OCI_MANIFEST.to_string(), bytes)
    };
    let size = manifest_bytes.len() as u64;
    let digest = client
        .put_manifest(domain, repo, tag, &media_type, Bytes::from(manifest_bytes))
        .await
        .map_err(push_error)?;
    {
        let db = store.db();
        let mut held = vec![digest.clone(), config_digest];
        held.extend(layers.iter().map(|l| l.digest.clone()));
        db.record_blob_sources(domain, repo, &held)?;
        db.add_repo_digest(&reference.name(), &digest, image_id)?;
    }
    drop(lease);
    progress(ProgressEvent::status(format!(
        "{tag}: digest: {digest} size: {size}"
    )));
    Ok(PushOutcome {
        tag: tag.to_string(),
        digest,
        size,
    })
}

/// The stored manifest with its layer descriptors replaced (same order), as an OCI manifest:
/// a Docker schema 2 manifest cannot carry zstd layers, so its types become OCI's.
fn rewrite_manifest(bytes: &[u8], layers: &[Descriptor]) -> Result<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::corrupt(format!("stored manifest is not JSON: {e}")))?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| Error::corrupt("stored manifest is not a JSON object"))?;
    obj.insert("mediaType".into(), Value::from(mt::OCI_MANIFEST));
    if let Some(cfg) = obj.get_mut("config").and_then(Value::as_object_mut)
        && cfg.get("mediaType").and_then(Value::as_str) == Some(mt::DOCKER_CONFIG)
    {
        cfg.insert("mediaType".into(), Value::from(mt::OCI_CONFIG));
    }
    let entries = obj
        .get_mut("layers")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| Error::corrupt("stored manifest has no layers"))?;
    if entries.len() != layers.len() {
        return Err(Error::corrupt("stored manifest's layers changed"));
    }
    for (entry, desc) in entries.iter_mut().zip(layers) {
        let Some(e) = entry.as_object_mut() else {
            return Err(Error::corrupt("stored manifest has a malformed layer"));
        };
        e.insert(
            "mediaType".into(),
            Value::from(oci_layer_type(&desc.media_type)),
        );
        e.insert("digest".into(), Value::from(desc.digest.to_string()));
        e.insert("size".into(), Value::from(desc.size));
    }
    serde_json::to_vec(&v)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("serializing manifest: {e}")))
}

/// A layer media type as OCI names it.
fn oci_layer_type(t: &str) -> &str {
    match t {
        mt::DOCKER_LAYER_GZIP => mt::OCI_LAYER_GZIP,
        mt::DOCKER_LAYER_TAR => mt::OCI_LAYER_TAR,
        mt::DOCKER_LAYER_ZSTD => mt::OCI_LAYER_ZSTD,
        mt::DOCKER_FOREIGN_LAYER_GZIP => mt::OCI_LAYER_NONDIST_GZIP,
        mt::DOCKER_FOREIGN_LAYER_TAR => mt::OCI_LAYER_NONDIST_TAR,
        other => other,
    }
}

/// Docker's words for a push that fails at the registry: `no basic auth credentials`, the
/// registry's `<code words>: <message>` (`denied: requested access to the resource is denied`),
/// or the transport's own message.
pub fn push_error(e: RegistryError) -> Error {
    match e.kind {
        RegistryErrorKind::NoCredentials => {
            Error::new(ErrorKind::Unauthorized, "no basic auth credentials")
        }
        RegistryErrorKind::Http => Error::new(e.error_kind(), e.docker_suffix()),
        _ => resolve::registry_error(e),
    }
}

struct LayerPush {
    store: Arc<Store>,
    client: RegistryClient,
    domain: String,
    repo: String,
    /// Short DiffID: the progress id.
    id: String,
    desc: Descriptor,
    convert: bool,
    upload: UploadOptions,
    lease: Arc<Lease>,
    progress: ProgressSink,
}

impl LayerPush {
    fn status(&self, s: impl Into<String>) {
        (self.progress)(ProgressEvent::with_id(self.id.clone(), s));
    }

    /// Sends one layer; returns the descriptor that goes into the manifest.
    async fn run(self) -> Result<Descriptor> {
        let mut desc = self.desc.clone();
        if desc.urls.as_ref().is_some_and(|u| !u.is_empty())
            && matches!(
                desc.media_type.as_str(),
                mt::DOCKER_FOREIGN_LAYER_GZIP
                    | mt::DOCKER_FOREIGN_LAYER_TAR
                    | mt::OCI_LAYER_NONDIST_GZIP
                    | mt::OCI_LAYER_NONDIST_TAR
                    | mt::OCI_LAYER_NONDIST_ZSTD
            )
        {
            self.status("Skipped foreign layer");
            return Ok(desc);
        }
        if self.convert {
            let (store, lease, src) = (self.store.clone(), self.lease.clone(), desc.clone());
            desc = blocking(move || to_zstd(&store, &lease, &src)).await?;
        }
        let (domain, repo) = (self.domain.as_str(), self.repo.as_str());
        if self
            .client
            .head_blob(domain, repo, &desc.digest)
            .await
            .map_err(push_error)?
            .is_some()
        {
            self.status("Layer already exists");
            return Ok(desc);
        }
        // Another repository of this registry known to hold the blob.
        let candidates: Vec<String> = self
            .store
            .db()
            .blob_sources(&desc.digest)?
            .into_iter()
            .filter(|(reg, r)| reg == domain && r != repo)
            .map(|(_, r)| r)
            .take(MAX_MOUNT_CANDIDATES)
            .collect();
        let mut session: Option<UploadSession> = None;
        for from in candidates {
            match self
                .client
                .mount_blob(domain, repo, &desc.digest, &from)
                .await
            {
                Ok(MountOutcome::Mounted) => {
                    self.status(format!("Mounted from {from}"));
                    return Ok(desc);
                }
                Ok(MountOutcome::NotMounted(s)) => {
                    self.store
                        .db()
                        .forget_blob_source(&desc.digest, domain, &from)?;
                    if let Some(old) = session.replace(s) {
                        let _ = self.client.cancel_upload(domain, repo, &old).await;
                    }
                }
                // No access to that repository, or a registry without mounts: upload instead.
                Err(_) => {}
            }
        }
        self.ensure_local(&desc).await?;
        let path = self.store.content.blob_path(&desc.digest);
        (self.progress)(ProgressEvent::bytes(
            self.id.clone(),
            "Pushing",
            0,
            Some(desc.size),
        ));
        self.client
            .upload_blob_file(
                domain,
                repo,
                &desc.digest,
                desc.size,
                &path,
                &self.upload,
                session,
                Some(self.progress_sink(desc.size)),
            )
            .await
            .map_err(push_error)?;
        self.status("Pushed");
        Ok(desc)
    }

    /// Maps upload progress to `Pushing` byte events (at most every 100 ms, and the last one)
    /// and retries to Docker's `Retrying in N seconds`.
    fn progress_sink(&self, total: u64) -> UploadProgressSink {
        let progress = self.progress.clone();
        let id = self.id.clone();
        let last = Mutex::new(Instant::now() - Duration::from_secs(1));
        Arc::new(move |p| match p {
            UploadProgress::Sent(n) => {
                let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                if n >= total || last.elapsed() >= Duration::from_millis(100) {
                    *last = Instant::now();
                    progress(ProgressEvent::bytes(id.clone(), "Pushing", n, Some(total)));
                }
            }
            UploadProgress::Retrying { delay, .. } => {
                let secs = delay.as_secs_f64().ceil().max(1.0) as u64;
                let unit = if secs == 1 { "second" } else { "seconds" };
                progress(ProgressEvent::with_id(
                    id.clone(),
                    format!("Retrying in {secs} {unit}"),
                ));
            }
        })
    }

    /// Makes sure the blob is in the content store, fetching it from a registry repository
    /// known to hold it (this registry's first) when it is not.
    async fn ensure_local(&self, desc: &Descriptor) -> Result<()> {
        if self.store.content.contains(&desc.digest) {
            return Ok(());
        }
        let mut sources = self.store.db().blob_sources(&desc.digest)?;
        sources.sort_by_key(|(reg, _)| *reg != self.domain);
        let mut last_err = None;
        for (reg, repo) in sources {
            match fetch_blob(&self.store, &self.client, &reg, &repo, desc).await {
                Ok(()) => return Ok(()),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| {
            Error::not_found(format!(
                "blob {} is not in the local store and no registry is known to hold it",
                desc.digest
            ))
        }))
    }
}

/// Re-encodes a gzip layer blob as zstd into the content store (or finds the earlier
/// conversion); returns the new descriptor. Blocking.
fn to_zstd(store: &Store, lease: &Lease, src: &Descriptor) -> Result<Descriptor> {
    let target = if src.media_type == mt::OCI_LAYER_NONDIST_GZIP
        || src.media_type == mt::DOCKER_FOREIGN_LAYER_GZIP
    {
        mt::OCI_LAYER_NONDIST_ZSTD
    } else {
        mt::OCI_LAYER_ZSTD
    };
    let known = store.db().blob_conversion(&src.digest, target)?;
    if let Some((d, size)) = known {
        lease.add(std::slice::from_ref(&d), &[])?;
        if store.content.contains(&d) {
            return Ok(converted(src, target, d, size));
        }
    }
    let io = |what: &str, e: std::io::Error| {
        Error::new(
            ErrorKind::Internal,
            format!("re-encoding layer {} as zstd: {what}: {e}", src.digest),
        )
    };
    let input = store.content.open_blob(&src.digest)?;
    let (tmp, file) = temp_file(store, "zstd")?;
    let out = Hashing {
        inner: BufWriter::with_capacity(256 << 10, file),
        hash: Sha256Writer::new(),
    };
    let mut enc =
        zstd::stream::write::Encoder::new(out, ZSTD_LEVEL).map_err(|e| io("encoder", e))?;
    let mut gz = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(256 << 10, input));
    std::io::copy(&mut gz, &mut enc).map_err(|e| io("copy", e))?;
    let mut out = enc.finish().map_err(|e| io("finish", e))?;
    out.flush().map_err(|e| io("flush", e))?;
    let digest = out.hash.digest();
    let size = out.hash.len();
    drop(out);
    lease.add(std::slice::from_ref(&digest), &[])?;
    store
        .content
        .write_blob_from_file(&digest, size, tmp.path())?;
    drop(tmp);
    store
        .db()
        .record_blob_conversion(&src.digest, target, &digest, size)?;
    store.db().mark_blobs_local(std::slice::from_ref(&digest))?;
    Ok(converted(src, target, digest, size))
}

fn converted(src: &Descriptor, media_type: &str, digest: Digest, size: u64) -> Descriptor {
    let mut d = src.clone();
    d.media_type = media_type.to_string();
    d.digest = digest;
    d.size = size;
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_rewrite_makes_oci() {
        let l0 = Digest::of(b"a");
        let l1 = Digest::of(b"b");
        let c = Digest::of(b"c");
        let docker = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","size":1,"digest":"{c}"}},"layers":[{{"mediaType":"{}","size":1,"digest":"{l0}"}},{{"mediaType":"{}","size":1,"digest":"{l1}"}}]}}"#,
            mt::DOCKER_MANIFEST_V2,
            mt::DOCKER_CONFIG,
            mt::DOCKER_LAYER_GZIP,
            mt::DOCKER_LAYER_GZIP
        );
        let z = Digest::of(b"z");
        let layers = vec![
            Descriptor::new(mt::DOCKER_LAYER_GZIP, l0.clone(), 1),
            Descriptor::new(mt::OCI_LAYER_ZSTD, z.clone(), 7),
        ];
        let out = rewrite_manifest(docker.as_bytes(), &layers).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["mediaType"], mt::OCI_MANIFEST);
        assert_eq!(v["config"]["mediaType"], mt::OCI_CONFIG);
        assert_eq!(v["config"]["digest"], c.to_string());
        assert_eq!(v["layers"][0]["mediaType"], mt::OCI_LAYER_GZIP);
        assert_eq!(v["layers"][0]["digest"], l0.to_string());
        assert_eq!(v["layers"][1]["mediaType"], mt::OCI_LAYER_ZSTD);
        assert_eq!(v["layers"][1]["digest"], z.to_string());
        assert_eq!(v["layers"][1]["size"], 7);
        // Key order is kept (schemaVersion first).
        assert!(
            String::from_utf8(out)
                .unwrap()
                .starts_with("{\"schemaVersion\":2,")
        );
    }
}
