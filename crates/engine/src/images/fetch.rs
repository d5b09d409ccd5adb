//! The fetch stage: one layer from the registry into the content store and unpacked as a
//! snapshot, in one pass over its bytes.
//!
//! The network side (async) pushes chunks into a small bounded channel; a blocking thread tees
//! each chunk into the content-store ingest (hashing it) and feeds the decompressor and tar
//! applier ([`layers::unpack`]). When the stream ends the ingest is verified and committed, the
//! diff-id is checked against the config, and the unpacked directory is renamed into place under
//! its ChainID. A broken stream is reopened with an HTTP `Range` request from the bytes kept; a
//! killed pull leaves an ingest whose bytes are replayed and then continued the same way on the
//! next attempt. [`fetch_blob`] is the same download without unpacking (push uses it for blobs
//! the store never kept), and [`ChunkReader`] the blocking end of any such channel (import's URL
//! download reads through it too).

use super::tasks::blocking;
use crate::progress::{ProgressEvent, ProgressSink};
use bytes::Bytes;
use futures_util::StreamExt;
use layers::unpack::{self, UnpackOptions};
use oci_model::manifest::Descriptor;
use oci_model::media_type::Compression;
use oci_model::{Digest, Error, ErrorKind, Result};
use registry_client::RegistryClient;
use registry_client::resolve;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::Store;
use store::content::{Ingest, IngestStart};
use store::metadata::{LayerRecord, WhiteoutForm};
use tokio::sync::mpsc;

/// Chunks in flight between the network and the unpacker, per layer. Kept small on purpose: a
/// chunk is a slice of the HTTP client's read buffer (up to a few hundred KB) and pins all of it,
/// so 32 chunks cost ~60 MB peak RSS on the bench image where 4 cost ~27 MB, at the same speed.
const CHANNEL_CHUNKS: usize = 4;
/// Attempts to (re)open a layer stream before giving up.
const BLOB_ATTEMPTS: u32 = 5;

/// One layer of a pull: where to fetch it from, what it must hash to, where it goes.
pub(crate) struct LayerJob {
    pub(crate) store: Arc<Store>,
    pub(crate) client: RegistryClient,
    pub(crate) domain: String,
    pub(crate) repo: String,
    pub(crate) desc: Descriptor,
    pub(crate) diff_id: Digest,
    pub(crate) chain_id: Digest,
    pub(crate) parent: Option<Digest>,
    pub(crate) progress: ProgressSink,
}

enum Chunk {
    Data(Bytes),
    Failed(String),
}

impl LayerJob {
    fn id(&self) -> String {
        self.desc.digest.short().to_string()
    }

    pub(crate) async fn run(self) -> Result<()> {
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
            let reader = IngestTee::reader(rx, ingest, job.clone());
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
            && let Some(err) = ch.source.error
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

/// A source of chunks for [`ChunkReader`]: `Ok(None)` at the end of the stream.
pub(crate) trait ChunkSource {
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>>;
}

/// The blocking end of a download: the chunks of a [`ChunkSource`], in order, as a `Read`.
pub(crate) struct ChunkReader<S> {
    pub(crate) source: S,
    current: Bytes,
}

impl<S: ChunkSource> ChunkReader<S> {
    pub(crate) fn new(source: S) -> Self {
        ChunkReader {
            source,
            current: Bytes::new(),
        }
    }

    /// Reads the rest of the stream without looking at it (what the source does with each
    /// chunk still happens).
    fn drain(&mut self) {
        self.current = Bytes::new();
        while let Ok(Some(_)) = self.source.next_chunk() {}
    }
}

impl<S: ChunkSource> Read for ChunkReader<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.source.next_chunk()? {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// A plain channel of downloaded chunks (an import from a URL).
impl ChunkSource for mpsc::Receiver<io::Result<Bytes>> {
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        self.blocking_recv().transpose()
    }
}

/// A layer's byte channel: every chunk is also appended to the ingest (which hashes it); at end
/// of stream the ingest is verified and committed into the content store.
struct IngestTee {
    rx: mpsc::Receiver<Chunk>,
    ingest: Option<Ingest>,
    job: Arc<LayerJob>,
    error: Option<Error>,
    done: bool,
}

type ChannelReader = ChunkReader<IngestTee>;

impl IngestTee {
    fn reader(rx: mpsc::Receiver<Chunk>, ingest: Ingest, job: Arc<LayerJob>) -> ChannelReader {
        ChunkReader::new(IngestTee {
            rx,
            ingest: Some(ingest),
            job,
            error: None,
            done: false,
        })
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
}

impl ChunkSource for IngestTee {
    fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        match self.rx.blocking_recv() {
            Some(Chunk::Data(b)) => {
                if let Some(ingest) = self.ingest.as_mut()
                    && let Err(e) = ingest.write_all(&b)
                {
                    self.error = Some(e.clone());
                    self.done = true;
                    return Err(io::Error::other(e.message));
                }
                Ok(Some(b))
            }
            Some(Chunk::Failed(msg)) => {
                self.done = true;
                let err = Error::new(ErrorKind::Unavailable, msg);
                self.error = Some(err.clone());
                Err(io::Error::other(err.message))
            }
            None => {
                self.finish();
                match &self.error {
                    Some(e) => Err(io::Error::other(e.message.clone())),
                    None => Ok(None),
                }
            }
        }
    }
}

/// Downloads `desc` from `registry`/`repo` into the content store (verified on commit), without
/// unpacking it.
pub(crate) async fn fetch_blob(
    store: &Arc<Store>,
    client: &RegistryClient,
    registry: &str,
    repo: &str,
    desc: &Descriptor,
) -> Result<()> {
    let start = {
        let (store, d, size) = (store.clone(), desc.digest.clone(), desc.size);
        blocking(move || store.content.ingest(&d, Some(size))).await?
    };
    let mut ingest = match start {
        IngestStart::Present => return Ok(()),
        IngestStart::Writer(w) => w,
    };
    ingest.reset()?;
    let mut blob = client
        .get_blob(registry, repo, &desc.digest, 0)
        .await
        .map_err(resolve::registry_error)?;
    while let Some(chunk) = blob.stream.next().await {
        let chunk = chunk.map_err(resolve::registry_error)?;
        ingest.write_all(&chunk)?;
    }
    blocking(move || ingest.commit()).await
}
