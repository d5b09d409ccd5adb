//! `pull`: resolve, fetch every missing layer in parallel while it streams through
//! sha256 → decompress → tar apply → diff-id, commit the layers as snapshots, then record the image.
//!
//! Per layer there is one pass over the bytes. The network side (async) pushes chunks into a
//! small bounded channel; a blocking thread tees each chunk into the content-store ingest
//! (hashing it) and feeds the decompressor and tar applier. When the stream ends the ingest is
//! verified and committed, the diff-id is checked against the config, and the unpacked
//! directory is renamed into place under its ChainID. A killed pull leaves an ingest whose bytes
//! are replayed and then continued with an HTTP Range request on the next attempt.

use super::tasks::{LayerTasks, blocking};
use crate::progress::{ProgressEvent, ProgressSink};
use bytes::Bytes;
use futures_util::StreamExt;
use layers::unpack::{self, UnpackOptions};
use oci_model::image_config::{ImageConfig, chain_ids};
use oci_model::manifest::Descriptor;
use oci_model::media_type::Compression;
use oci_model::platform::Platform;
use oci_model::reference::Reference;
use oci_model::{Digest, Error, ErrorKind, Result};
use registry_client::RegistryClient;
use registry_client::resolve::{self, Resolved};
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::Store;
use store::content::{Ingest, IngestStart};
use store::leases::Lease;
use store::metadata::{ImageRecord, LayerRecord, WhiteoutForm};
use tokio::sync::mpsc;

/// Largest config blob accepted (Docker's limit is 8 MiB as well).
const MAX_CONFIG_SIZE: u64 = 8 << 20;
/// Chunks in flight between the network and the unpacker, per layer. Kept small on purpose: a
/// chunk is a slice of the HTTP client's read buffer (up to a few hundred KB) and pins all of it,
/// so 32 chunks cost ~60 MB peak RSS on the bench image where 4 cost ~27 MB, at the same speed.
const CHANNEL_CHUNKS: usize = 4;
/// Attempts to (re)open a layer stream before giving up.
const BLOB_ATTEMPTS: u32 = 5;

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
    let Resolved {
        root_digest,
        index,
        manifest_digest,
        manifest_media_type,
        manifest_bytes,
        manifest,
    } = resolved;
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
        let mut blobs = vec![
            root_digest.clone(),
            manifest_digest.clone(),
            manifest.config.digest.clone(),
        ];
        blobs.extend(manifest.layers.iter().map(|l| l.digest.clone()));
        blocking(move || Lease::new(store, "pull", &blobs, &[])).await?
    };

    // Raw bytes are the truth: store them exactly as received.
    if let Some((_, bytes)) = &index {
        store.content.write_blob(&root_digest, bytes)?;
    }
    store
        .content
        .write_blob(&manifest_digest, &manifest_bytes)?;
    // The registry repository holds all of these: push mounts from it, or fetches a blob that
    // this store never downloaded (a layer already present under another blob digest).
    {
        let mut held = vec![manifest_digest.clone(), manifest.config.digest.clone()];
        if root_digest != manifest_digest {
            held.push(root_digest.clone());
        }
        held.extend(manifest.layers.iter().map(|l| l.digest.clone()));
        store
            .db()
            .record_blob_sources(reference.domain(), reference.path(), &held)?;
    }

    let config_digest = manifest.config.digest.clone();
    if !store.content.contains(&config_digest) {
        if manifest.config.size > MAX_CONFIG_SIZE {
            return Err(Error::invalid(format!(
                "image config {config_digest} is too large ({} bytes)",
                manifest.config.size
            )));
        }
        let bytes = client
            .get_blob_bytes(
                reference.domain(),
                reference.path(),
                &config_digest,
                MAX_CONFIG_SIZE,
            )
            .await
            .map_err(resolve::registry_error)?;
        store.content.write_blob(&config_digest, &bytes)?;
    }
    let config_bytes = store.content.read(&config_digest)?;
    let config = ImageConfig::parse(&config_bytes)?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(Error::corrupt(format!(
            "image {manifest_digest} has {} layers but its config lists {} diff ids",
            manifest.layers.len(),
            diff_ids.len()
        )));
    }
    for l in &manifest.layers {
        if Compression::from_layer_media_type(&l.media_type).is_none() {
            return Err(Error::unsupported(format!(
                "unsupported layer media type {} for layer {}",
                l.media_type, l.digest
            )));
        }
    }
    let chains = chain_ids(diff_ids);
    lease.add(&[], &chains)?;

    // Which layers must be fetched? Like Docker, an image that is already complete prints no
    // layer lines at all; layers shared with other images print "Already exists".
    let image_known = store.db().image(&config_digest.to_string())?.is_some();
    let mut present = Vec::with_capacity(chains.len());
    for c in &chains {
        present.push(store.db().layer(c)?.is_some() && store.snapshots.exists(c));
    }
    let complete = image_known && present.iter().all(|p| *p);
    let mut jobs = Vec::new();
    for (i, desc) in manifest.layers.iter().enumerate() {
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
    let downloaded_layers = !jobs.is_empty();

    let mut tasks = LayerTasks::new(opts.max_concurrent_downloads, "pull cancelled");
    for (n, &i) in jobs.iter().enumerate() {
        let desc = manifest.layers[i].clone();
        if n >= opts.max_concurrent_downloads.max(1) {
            progress(ProgressEvent::with_id(desc.digest.short(), "Waiting"));
        }
        let job = LayerJob {
            store: store.clone(),
            client: client.clone(),
            domain: reference.domain().to_string(),
            repo: reference.path().to_string(),
            desc,
            diff_id: diff_ids[i].clone(),
            chain_id: chains[i].clone(),
            parent: if i == 0 {
                None
            } else {
                Some(chains[i - 1].clone())
            },
            progress: progress.clone(),
        };
        tasks.spawn(job.run());
    }
    // The first failure stops the other layers: their partial ingests stay resumable.
    tasks.join().await?;

    // Record the image.
    let (size, layers) = {
        let db = store.db();
        let mut size = 0u64;
        for c in &chains {
            let l = db.layer(c)?.ok_or_else(|| {
                Error::new(ErrorKind::Internal, format!("layer {c} missing after pull"))
            })?;
            size += l.size;
        }
        (size, chains.clone())
    };
    let image_id = config_digest.to_string();
    let created = config.created.clone().unwrap_or_default();
    let created_unix = oci_model::time::parse_rfc3339(&created).unwrap_or(0);
    let record = ImageRecord {
        id: image_id.clone(),
        manifest_digest: manifest_digest.to_string(),
        manifest_media_type,
        config_size: config_bytes.len() as u64,
        created,
        created_unix,
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
        layers,
    };
    let name = reference.name();
    let previous = store.db().commit_pull(
        &record,
        &name,
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

struct LayerJob {
    store: Arc<Store>,
    client: RegistryClient,
    domain: String,
    repo: String,
    desc: Descriptor,
    diff_id: Digest,
    chain_id: Digest,
    parent: Option<Digest>,
    progress: ProgressSink,
}

enum Chunk {
    Data(Bytes),
    Failed(String),
}

impl LayerJob {
    fn id(&self) -> String {
        self.desc.digest.short().to_string()
    }

    async fn run(self) -> Result<()> {
        let job = Arc::new(self);
        // Cross-process: one unpacker per ChainID; a second process waits here and then finds it done.
        let (lock, start) = {
            let job = job.clone();
            blocking(move || {
                let lock = job.store.lock_layer(&job.chain_id)?;
                if job.store.db().layer(&job.chain_id)?.is_some()
                    && job.store.snapshots.exists(&job.chain_id)
                {
                    return Ok((lock, None));
                }
                let start = job
                    .store
                    .content
                    .ingest(&job.desc.digest, Some(job.desc.size))?;
                Ok((lock, Some(start)))
            })
            .await?
        };
        let result = match start {
            None => {
                (job.progress)(ProgressEvent::with_id(job.id(), "Already exists"));
                Ok(())
            }
            Some(IngestStart::Present) => {
                let job2 = job.clone();
                blocking(move || {
                    (job2.progress)(ProgressEvent::with_id(job2.id(), "Download complete"));
                    let file = job2.store.content.open_blob(&job2.desc.digest)?;
                    job2.unpack_and_commit(file, None)
                })
                .await
            }
            Some(IngestStart::Writer(ingest)) => job.clone().download_and_unpack(ingest).await,
        };
        drop(lock);
        if result.is_ok() {
            (job.progress)(ProgressEvent::with_id(job.id(), "Pull complete"));
        }
        result
    }

    async fn download_and_unpack(self: Arc<Self>, ingest: Ingest) -> Result<()> {
        let offset = ingest.offset();
        let (tx, rx) = mpsc::channel::<Chunk>(CHANNEL_CHUNKS);
        let job = self.clone();
        let unpacker = tokio::task::spawn_blocking(move || {
            let replay = ingest.existing_data()?;
            let reader = ChannelReader::new(rx, ingest, job.clone());
            job.unpack_and_commit(replay.take(offset), Some(reader))
        });
        let download = self.download(tx, offset).await;
        let unpacked = unpacker.await.unwrap_or_else(|e| {
            Err(Error::new(
                ErrorKind::Internal,
                format!("unpack thread failed: {e}"),
            ))
        });
        // A download failure explains a truncated stream better than the unpacker's view of it.
        download.and(unpacked)
    }

    /// Streams the blob from `offset` into the channel, resuming with Range after a broken stream.
    async fn download(&self, tx: mpsc::Sender<Chunk>, mut offset: u64) -> Result<()> {
        let total = self.desc.size;
        let mut attempt = 0u32;
        let mut last_report = Instant::now() - Duration::from_secs(1);
        while offset < total || (offset == 0 && total == 0) {
            attempt += 1;
            let resp = match self
                .client
                .get_blob(&self.domain, &self.repo, &self.desc.digest, offset)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    let err = resolve::registry_error(e);
                    let _ = tx.send(Chunk::Failed(err.message.clone())).await;
                    return Err(err);
                }
            };
            let mut skip = if offset > 0 && !resp.resumed {
                offset
            } else {
                0
            };
            let mut stream = resp.stream;
            let mut broken = None;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(mut chunk) => {
                        if skip > 0 {
                            let n = skip.min(chunk.len() as u64);
                            skip -= n;
                            chunk = chunk.slice(n as usize..);
                            if chunk.is_empty() {
                                continue;
                            }
                        }
                        offset += chunk.len() as u64;
                        if offset > total {
                            let msg = format!(
                                "failed to verify {}: more data than the {total} bytes the manifest declares",
                                self.desc.digest
                            );
                            let _ = tx.send(Chunk::Failed(msg.clone())).await;
                            return Err(Error::corrupt(msg));
                        }
                        if tx.send(Chunk::Data(chunk)).await.is_err() {
                            // The unpacker stopped; its error is the one to report.
                            return Ok(());
                        }
                        if last_report.elapsed() >= Duration::from_millis(100) {
                            last_report = Instant::now();
                            (self.progress)(ProgressEvent::bytes(
                                self.id(),
                                "Downloading",
                                offset,
                                Some(total),
                            ));
                        }
                    }
                    Err(e) => {
                        broken = Some(e);
                        break;
                    }
                }
            }
            if total == 0 {
                break;
            }
            match broken {
                None if offset >= total => break,
                None => {
                    if attempt >= BLOB_ATTEMPTS {
                        let msg = format!(
                            "unexpected EOF downloading {} at byte {offset} of {total}",
                            self.desc.digest
                        );
                        let _ = tx.send(Chunk::Failed(msg.clone())).await;
                        return Err(Error::new(ErrorKind::Unavailable, msg));
                    }
                }
                Some(e) => {
                    if attempt >= BLOB_ATTEMPTS {
                        let err = resolve::registry_error(e);
                        let _ = tx.send(Chunk::Failed(err.message.clone())).await;
                        return Err(err);
                    }
                }
            }
            let wait = 1u64 << (attempt - 1).min(4);
            let secs = if wait == 1 {
                "second".to_string()
            } else {
                "seconds".to_string()
            };
            (self.progress)(ProgressEvent::with_id(
                self.id(),
                format!("Retrying in {wait} {secs}"),
            ));
            tokio::time::sleep(retry_delay(attempt)).await;
        }
        (self.progress)(ProgressEvent::bytes(
            self.id(),
            "Downloading",
            offset,
            Some(total),
        ));
        Ok(())
    }

    /// Blocking: decompress + apply the layer from `replay` followed by the channel, verify, commit.
    fn unpack_and_commit<R: Read>(&self, replay: R, channel: Option<ChannelReader>) -> Result<()> {
        let compression =
            Compression::from_layer_media_type(&self.desc.media_type).ok_or_else(|| {
                Error::unsupported(format!(
                    "unsupported layer media type {}",
                    self.desc.media_type
                ))
            })?;
        let prepared = self.store.snapshots.prepare()?;
        let opts = UnpackOptions::for_current_user();
        let (applied, channel) = match channel {
            Some(mut ch) => {
                let applied =
                    unpack::apply_layer(replay.chain(&mut ch), compression, prepared.path(), &opts);
                // Whatever happened, finish the stream so the blob is verified (a corrupt blob explains
                // a failed decompression better than the decompressor does).
                ch.drain();
                (applied, Some(ch))
            }
            None => (
                unpack::apply_layer(replay, compression, prepared.path(), &opts),
                None,
            ),
        };
        if let Some(ch) = channel
            && let Some(err) = ch.into_error()
        {
            return Err(err);
        }
        let stats = applied.map_err(|e| {
            Error::new(
                e.kind,
                format!(
                    "failed to register layer {}: {}",
                    self.desc.digest, e.message
                ),
            )
        })?;
        if stats.diff_id != self.diff_id {
            return Err(Error::corrupt(format!(
                "failed to register layer {}: diff id {} does not match {} in the image config",
                self.desc.digest, stats.diff_id, self.diff_id
            )));
        }
        (self.progress)(ProgressEvent::bytes(
            self.id(),
            "Extracting",
            self.desc.size,
            Some(self.desc.size),
        ));
        self.store.snapshots.commit(prepared, &self.chain_id)?;
        self.store.db().insert_layer(&LayerRecord {
            chain_id: self.chain_id.clone(),
            diff_id: self.diff_id.clone(),
            parent: self.parent.clone(),
            blob_digest: self.desc.digest.clone(),
            media_type: self.desc.media_type.clone(),
            compressed_size: self.desc.size,
            size: stats.content_size,
            whiteout_form: WhiteoutForm::of(&opts),
        })?;
        Ok(())
    }
}

fn retry_delay(attempt: u32) -> Duration {
    let base = std::env::var("STRATA_RETRY_BASE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(500);
    Duration::from_millis(base << (attempt - 1).min(4))
}

/// The blocking end of a layer's byte channel: every chunk read is also appended to the ingest
/// (which hashes it). At end of stream the ingest is verified and committed into the content store.
struct ChannelReader {
    rx: mpsc::Receiver<Chunk>,
    ingest: Option<Ingest>,
    job: Arc<LayerJob>,
    current: Bytes,
    error: Option<Error>,
    done: bool,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<Chunk>, ingest: Ingest, job: Arc<LayerJob>) -> Self {
        ChannelReader {
            rx,
            ingest: Some(ingest),
            job,
            current: Bytes::new(),
            error: None,
            done: false,
        }
    }

    fn finish(&mut self) {
        self.done = true;
        if let Some(ingest) = self.ingest.take() {
            (self.job.progress)(ProgressEvent::with_id(self.job.id(), "Verifying Checksum"));
            match ingest.commit() {
                Ok(()) => {
                    (self.job.progress)(ProgressEvent::with_id(self.job.id(), "Download complete"))
                }
                Err(e) => self.error = Some(e),
            }
        }
    }

    fn next_chunk(&mut self) -> std::io::Result<bool> {
        if self.done {
            return Ok(false);
        }
        match self.rx.blocking_recv() {
            Some(Chunk::Data(b)) => {
                if let Some(ingest) = self.ingest.as_mut()
                    && let Err(e) = ingest.write_all(&b)
                {
                    self.error = Some(e.clone());
                    self.done = true;
                    return Err(std::io::Error::other(e.message));
                }
                self.current = b;
                Ok(true)
            }
            Some(Chunk::Failed(msg)) => {
                self.done = true;
                let err = Error::new(ErrorKind::Unavailable, msg);
                self.error = Some(err.clone());
                Err(std::io::Error::other(err.message))
            }
            None => {
                self.finish();
                match &self.error {
                    Some(e) => Err(std::io::Error::other(e.message.clone())),
                    None => Ok(false),
                }
            }
        }
    }

    /// Reads the rest of the stream into the ingest without unpacking it.
    fn drain(&mut self) {
        self.current = Bytes::new();
        while let Ok(true) = self.next_chunk() {
            self.current = Bytes::new();
        }
    }

    fn into_error(self) -> Option<Error> {
        self.error
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            if !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}
