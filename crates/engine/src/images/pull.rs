//! `pull`: resolve, fetch every missing layer in parallel while it streams through
//! sha256 → decompress → tar apply → diff-id, commit the layers as snapshots, then record the image.
//!
//! Per layer there is one pass over the bytes: the fetch stage ([`super::fetch`]) streams it
//! into the content store and the unpacker at once. Here: resolve the reference, lease what the
//! image needs, run the missing layers (a few at a time), then record the image.

use super::fetch::LayerJob;
use super::tasks::{LayerTasks, blocking};
use crate::progress::{ProgressEvent, ProgressSink};
use oci_model::image_config::{ImageConfig, chain_ids};
use oci_model::media_type::Compression;
use oci_model::platform::Platform;
use oci_model::reference::Reference;
use oci_model::{Digest, Error, ErrorKind, Result};
use registry_client::RegistryClient;
use registry_client::resolve::{self, Resolved};
use std::sync::Arc;
use store::Store;
use store::leases::Lease;
use store::metadata::ImageRecord;

/// Largest config blob accepted (Docker's limit is 8 MiB as well).
const MAX_CONFIG_SIZE: u64 = 8 << 20;

#[derive(Clone)]
pub struct PullOptions {
    pub platform: Option<Platform>,
    pub max_concurrent_downloads: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullStatus {
    Downloaded,
    UpToDate,
}

#[derive(Debug, Clone)]
pub struct PullOutcome {
    /// The reference as pulled (with the default tag applied), canonical form.
    pub reference: Reference,
    pub image_id: String,
    pub root_digest: Digest,
    pub status: PullStatus,
}

/// Emits the final `Digest:` and `Status:` lines for one reference.
pub fn report_status(progress: &ProgressSink, familiar: &str, downloaded: bool) {
    if downloaded {
        progress(ProgressEvent::status(format!(
            "Status: Downloaded newer image for {familiar}"
        )));
    } else {
        progress(ProgressEvent::status(format!(
            "Status: Image is up to date for {familiar}"
        )));
    }
}

/// Pulls one reference (tag or digest; the caller applies the default tag).
pub async fn pull(
    store: &Arc<Store>,
    client: &RegistryClient,
    reference: &Reference,
    opts: &PullOptions,
    progress: &ProgressSink,
) -> Result<PullOutcome> {
    sweep_leftovers(store);
    let outcome = pull_one(store, client, reference, opts, progress).await?;
    progress(ProgressEvent::status(format!(
        "Digest: {}",
        outcome.root_digest
    )));
    report_status(
        progress,
        &reference.familiar_string(),
        outcome.status == PullStatus::Downloaded,
    );
    Ok(outcome)
}

/// `pull -a`: every tag of the repository, one after the other (layers of each in parallel).
pub async fn pull_all_tags(
    store: &Arc<Store>,
    client: &RegistryClient,
    name: &Reference,
    opts: &PullOptions,
    progress: &ProgressSink,
) -> Result<Vec<PullOutcome>> {
    sweep_leftovers(store);
    let mut tags = client
        .list_tags(name.domain(), name.path())
        .await
        .map_err(|e| resolve::manifest_error(name, e))?;
    tags.sort();
    let mut outcomes = Vec::new();
    let mut any_new = false;
    for tag in tags {
        let r = name.with_tag(&tag)?;
        let o = pull_one(store, client, &r, opts, progress).await?;
        progress(ProgressEvent::status(format!("Digest: {}", o.root_digest)));
        any_new |= o.status == PullStatus::Downloaded;
        outcomes.push(o);
    }
    report_status(progress, &name.familiar_name(), any_new);
    Ok(outcomes)
}

/// Removes what killed pulls left behind and nobody holds: unpack directories, and ingests old
/// enough that no one will resume them (younger ones are resumed by the next pull of that blob).
/// Best effort: a failure here never fails the pull.
fn sweep_leftovers(store: &Store) {
    let _ = store.snapshots.cleanup_tmp();
    let _ = store.content.cleanup_stale_ingests();
}

/// One reference: resolve → lease → store the manifests → fetch the config → fetch the missing
/// layers → record the image.
async fn pull_one(
    store: &Arc<Store>,
    client: &RegistryClient,
    reference: &Reference,
    opts: &PullOptions,
    progress: &ProgressSink,
) -> Result<PullOutcome> {
    let header_id = match (reference.digest(), reference.tag()) {
        (Some(_), _) => reference.to_string(),
        (None, Some(tag)) => tag.to_string(),
        (None, None) => return Err(Error::invalid("reference has neither tag nor digest")),
    };
    let wanted = opts
        .platform
        .clone()
        .unwrap_or_else(oci_model::platform::host);
    let resolved = resolve::resolve(client, reference, &wanted).await?;
    // Like Docker, only once the registry has answered with a manifest.
    progress(ProgressEvent::with_id(
        header_id,
        format!("Pulling from {}", reference.path()),
    ));

    // Everything this pull looks at or writes is leased until the image record is committed,
    // so a concurrent `rmi` / prune in another process never deletes it under our feet (see
    // `gc`): taken before the first presence check, held to the end of this function.
    let lease = {
        let store = store.clone();
        let manifest = &resolved.manifest;
        let mut blobs = vec![
            resolved.root_digest.clone(),
            resolved.manifest_digest.clone(),
            manifest.config.digest.clone(),
        ];
        blobs.extend(manifest.layers.iter().map(|l| l.digest.clone()));
        blocking(move || Lease::new(store, "pull", &blobs, &[])).await?
    };
    store_manifests(store, reference, &resolved)?;
    let (config_bytes, config) = fetch_config(store, client, reference, &resolved).await?;
    let chains = chain_ids(&config.rootfs.diff_ids);
    lease.add(&[], &chains)?;

    let layers = &resolved.manifest.layers;
    let jobs = missing_layers(store, &resolved, &chains, progress)?;
    let downloaded_layers = !jobs.is_empty();
    let mut tasks = LayerTasks::new(opts.max_concurrent_downloads, "pull cancelled");
    for (n, &i) in jobs.iter().enumerate() {
        let desc = layers[i].clone();
        if n >= opts.max_concurrent_downloads.max(1) {
            progress(ProgressEvent::with_id(desc.digest.short(), "Waiting"));
        }
        let job = LayerJob {
            store: store.clone(),
            client: client.clone(),
            domain: reference.domain().to_string(),
            repo: reference.path().to_string(),
            desc,
            diff_id: config.rootfs.diff_ids[i].clone(),
            chain_id: chains[i].clone(),
            parent: i.checked_sub(1).map(|p| chains[p].clone()),
            progress: progress.clone(),
        };
        tasks.spawn(job.run());
    }
    // The first failure stops the other layers: their partial ingests stay resumable.
    tasks.join().await?;

    let image_id = resolved.manifest.config.digest.to_string();
    let Resolved {
        root_digest,
        manifest_digest,
        manifest_media_type,
        ..
    } = resolved;
    let record = image_record(
        store,
        &image_id,
        &manifest_digest,
        manifest_media_type,
        config_bytes.len() as u64,
        &config,
        chains,
    )?;
    let previous = store.db().commit_pull(
        &record,
        &reference.name(),
        reference.tag().filter(|_| reference.digest().is_none()),
        Some(&root_digest),
    )?;
    let retagged = previous.is_some_and(|p| p != image_id);
    let status = if downloaded_layers || retagged {
        PullStatus::Downloaded
    } else {
        PullStatus::UpToDate
    };
    Ok(PullOutcome {
        reference: reference.clone(),
        image_id,
        root_digest,
        status,
    })
}

/// Stores the index (if any) and the manifest exactly as received (raw bytes are the truth),
/// and records that the registry repository holds every blob of the image: push mounts from
/// it, or fetches a blob this store never downloaded (a layer present under another digest).
fn store_manifests(store: &Store, reference: &Reference, r: &Resolved) -> Result<()> {
    if let Some((_, bytes)) = &r.index {
        store.content.write_blob(&r.root_digest, bytes)?;
    }
    store
        .content
        .write_blob(&r.manifest_digest, &r.manifest_bytes)?;
    let mut held = vec![r.manifest_digest.clone(), r.manifest.config.digest.clone()];
    if r.root_digest != r.manifest_digest {
        held.push(r.root_digest.clone());
    }
    held.extend(r.manifest.layers.iter().map(|l| l.digest.clone()));
    store
        .db()
        .record_blob_sources(reference.domain(), reference.path(), &held)
}

/// The image config (fetched unless stored, at most [`MAX_CONFIG_SIZE`]), checked against the
/// manifest: as many DiffIDs as layers, every layer of a media type strata can unpack.
async fn fetch_config(
    store: &Store,
    client: &RegistryClient,
    reference: &Reference,
    r: &Resolved,
) -> Result<(Vec<u8>, ImageConfig)> {
    let config_digest = &r.manifest.config.digest;
    if !store.content.contains(config_digest) {
        if r.manifest.config.size > MAX_CONFIG_SIZE {
            return Err(Error::invalid(format!(
                "image config {config_digest} is too large ({} bytes)",
                r.manifest.config.size
            )));
        }
        let bytes = client
            .get_blob_bytes(
                reference.domain(),
                reference.path(),
                config_digest,
                MAX_CONFIG_SIZE,
            )
            .await
            .map_err(resolve::registry_error)?;
        store.content.write_blob(config_digest, &bytes)?;
    }
    let config_bytes = store.content.read(config_digest)?;
    let config = ImageConfig::parse(&config_bytes)?;
    let (layers, diff_ids) = (&r.manifest.layers, &config.rootfs.diff_ids);
    if diff_ids.len() != layers.len() {
        return Err(Error::corrupt(format!(
            "image {} has {} layers but its config lists {} diff ids",
            r.manifest_digest,
            layers.len(),
            diff_ids.len()
        )));
    }
    for l in layers {
        if Compression::from_layer_media_type(&l.media_type).is_none() {
            return Err(Error::unsupported(format!(
                "unsupported layer media type {} for layer {}",
                l.media_type, l.digest
            )));
        }
    }
    Ok((config_bytes, config))
}

/// The indexes of the layers to fetch, with their first progress lines. Like Docker, an image
/// that is already complete prints no layer lines at all; layers shared with other images print
/// `Already exists`.
fn missing_layers(
    store: &Store,
    r: &Resolved,
    chains: &[Digest],
    progress: &ProgressSink,
) -> Result<Vec<usize>> {
    let image_known = store
        .db()
        .image(&r.manifest.config.digest.to_string())?
        .is_some();
    let mut present = Vec::with_capacity(chains.len());
    for c in chains {
        present.push(store.db().layer(c)?.is_some() && store.snapshots.exists(c));
    }
    let complete = image_known && present.iter().all(|p| *p);
    let mut jobs = Vec::new();
    for (i, desc) in r.manifest.layers.iter().enumerate() {
        if present[i] {
            if !complete {
                progress(ProgressEvent::with_id(
                    desc.digest.short(),
                    "Already exists",
                ));
            }
        } else {
            progress(ProgressEvent::with_id(
                desc.digest.short(),
                "Pulling fs layer",
            ));
            jobs.push(i);
        }
    }
    Ok(jobs)
}

/// The image's metadata row, once every layer is recorded.
fn image_record(
    store: &Store,
    image_id: &str,
    manifest_digest: &Digest,
    manifest_media_type: String,
    config_size: u64,
    config: &ImageConfig,
    chains: Vec<Digest>,
) -> Result<ImageRecord> {
    let mut size = 0u64;
    for c in &chains {
        let l = store.db().layer(c)?.ok_or_else(|| {
            Error::new(ErrorKind::Internal, format!("layer {c} missing after pull"))
        })?;
        size += l.size;
    }
    let created = config.created.clone().unwrap_or_default();
    Ok(ImageRecord {
        id: image_id.to_string(),
        manifest_digest: manifest_digest.to_string(),
        manifest_media_type,
        config_size,
        created_unix: oci_model::time::parse_rfc3339(&created).unwrap_or(0),
        created,
        architecture: config.architecture.clone(),
        os: config.os.clone(),
        variant: config.variant.clone(),
        size,
        added_unix: oci_model::time::now_unix(),
        last_tag_time: None,
        labels: config
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default(),
        layers: chains,
    })
}
