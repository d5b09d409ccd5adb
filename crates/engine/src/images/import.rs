//! `import FILE|URL|- [REPOSITORY[:TAG]]`: a root-filesystem tarball (plain, gzip or zstd,
//! sniffed) becomes a one-layer image, as Docker's daemon builds it: the config carries the
//! platform, `created` = now, the runtime config from the `--change`s, `comment` = the message
//! or `Imported from <source>` (`-` for a file or stdin: the docker CLI streams a file as stdin),
//! and one history entry `{created, comment}`.

use super::build::{self, NewLayer};
use super::fetch::ChunkReader;
use super::tasks::blocking;
use crate::progress::{ProgressEvent, ProgressSink};
use bytes::Bytes;
use futures_util::StreamExt;
use layers::changes;
use oci_model::image_config::ContainerConfig;
use oci_model::media_type::Compression;
use oci_model::platform::{self, Platform};
use oci_model::reference::Reference;
use oci_model::{Error, ErrorKind, Result};
use serde_json::{Map, Value, json};
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use store::Store;
use store::leases::Lease;
use tokio::sync::mpsc;

/// Where the tarball comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportSource {
    Stdin,
    File(PathBuf),
    Url(String),
}

impl ImportSource {
    /// The docker CLI's rule: `-` is stdin, `http://` / `https://` a URL, anything else a file.
    pub fn parse(arg: &str) -> ImportSource {
        if arg == "-" {
            ImportSource::Stdin
        } else if arg.starts_with("http://") || arg.starts_with("https://") {
            ImportSource::Url(arg.to_string())
        } else {
            ImportSource::File(PathBuf::from(arg))
        }
    }

    /// The source name the daemon sees (and writes into the comment).
    pub fn name(&self) -> &str {
        match self {
            ImportSource::Url(u) => u,
            _ => "-",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Dockerfile instructions (`-c`).
    pub changes: Vec<String>,
    /// `-m`: the commit message (the comment); default `Imported from <source>`.
    pub message: Option<String>,
    /// `--platform`; default: the host's.
    pub platform: Option<Platform>,
    /// The repository (and tag) to give the image.
    pub reference: Option<Reference>,
}

/// Parses the `REPOSITORY[:TAG]` argument as the docker client does (`ParseNormalizedNamed`),
/// then the daemon's check: no digest. The tag defaults to `latest`.
pub fn parse_repository(s: &str) -> Result<Reference> {
    let r = Reference::parse_normalized(s)?;
    if r.digest().is_some() {
        return Err(Error::invalid("cannot import digest reference"));
    }
    Ok(r.with_default_tag())
}

/// A byte stream whose compression is sniffed from its first bytes and undone.
pub fn decompressed<'a, R: Read + 'a>(mut input: R) -> Result<Box<dyn Read + 'a>> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match input.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_err(e)),
        }
    }
    let head_bytes = head[..n].to_vec();
    let whole = io::Cursor::new(head_bytes).chain(input);
    if head[..n].starts_with(b"BZh") || head[..n].starts_with(&[0xfd, b'7', b'z', b'X']) {
        return Err(Error::unsupported(
            "unsupported compression format: bzip2 and xz archives are not supported",
        ));
    }
    Ok(match Compression::sniff(&head[..n]) {
        Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(whole)),
        Some(Compression::Zstd) => Box::new(
            zstd::stream::read::Decoder::new(whole)
                .map_err(|e| Error::corrupt(format!("zstd: {e}")))?,
        ),
        _ => Box::new(whole),
    })
}

fn read_err(e: io::Error) -> Error {
    match e.downcast::<Error>() {
        Ok(inner) => inner,
        Err(e) => Error::invalid(format!("reading import source: {e}")),
    }
}

/// The config Docker's daemon writes for an import (keys sorted, as its marshaller does).
pub fn import_config(
    platform: &Platform,
    runtime: &ContainerConfig,
    comment: &str,
    created: &str,
    diff_id: &oci_model::Digest,
) -> Value {
    let mut o = Map::new();
    o.insert("architecture".into(), json!(platform.architecture));
    o.insert("comment".into(), json!(comment));
    o.insert("config".into(), build::docker_runtime_config(runtime));
    o.insert("created".into(), json!(created));
    o.insert(
        "history".into(),
        json!([{"created": created, "comment": comment}]),
    );
    o.insert("os".into(), json!(platform.os));
    o.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": [diff_id.to_string()]}),
    );
    if let Some(v) = platform.variant.as_deref().filter(|v| !v.is_empty()) {
        o.insert("variant".into(), json!(v));
    }
    Value::Object(o)
}

/// Imports `source`; returns the image ID (`sha256:…`). A URL's download is announced on
/// `progress` as `Downloading from <url>`, as Docker does.
pub async fn import(
    store: &Arc<Store>,
    source: ImportSource,
    opts: ImportOptions,
    progress: &ProgressSink,
) -> Result<String> {
    // Validate the changes before reading anything (the daemon does too).
    let mut runtime = ContainerConfig::default();
    changes::apply_changes(&mut runtime, &opts.changes)?;
    let platform = platform::normalize(&opts.platform.clone().unwrap_or_else(platform::host));

    let lease = Arc::new(Lease::new(store.clone(), "import", &[], &[])?);
    import_leased(store, &source, &opts, &runtime, &platform, &lease, progress).await
}

async fn import_leased(
    store: &Arc<Store>,
    source: &ImportSource,
    opts: &ImportOptions,
    runtime: &ContainerConfig,
    platform: &Platform,
    lease: &Arc<Lease>,
    progress: &ProgressSink,
) -> Result<String> {
    let layer = match source {
        ImportSource::File(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| Error::not_found(format!("open {}: {e}", path.display())))?;
            let (store, lease) = (store.clone(), lease.clone());
            blocking(move || layer_from(&store, file, &lease)).await?
        }
        ImportSource::Stdin => {
            let (store, lease) = (store.clone(), lease.clone());
            blocking(move || layer_from(&store, io::stdin().lock(), &lease)).await?
        }
        ImportSource::Url(url) => {
            progress(ProgressEvent::status(format!("Downloading from {url}")));
            let client = registry_client::transport::build_http_client(concat!(
                "strata/",
                env!("CARGO_PKG_VERSION")
            ))?;
            let resp = client
                .get(url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| Error::new(ErrorKind::Unavailable, format!("{e}")))?;
            let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
            let (store2, lease2) = (store.clone(), lease.clone());
            let worker = tokio::task::spawn_blocking(move || {
                layer_from(&store2, ChunkReader::new(rx), &lease2)
            });
            let mut stream = resp.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let item = chunk.map_err(|e| io::Error::other(format!("downloading {url}: {e}")));
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
            drop(tx);
            worker.await.unwrap_or_else(|e| {
                Err(Error::new(
                    ErrorKind::Internal,
                    format!("import thread failed: {e}"),
                ))
            })?
        }
    };

    let comment = opts
        .message
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("Imported from {}", source.name()));
    let created = oci_model::time::now_rfc3339();
    let config = import_config(platform, runtime, &comment, &created, &layer.diff_id);
    let store = store.clone();
    let reference = opts.reference.clone();
    blocking(move || build::write_image(&store, &config, &[layer], reference.as_ref())).await
}

/// The layer of an import: the tarball up to the end of its archive (an endless stream such as
/// `/dev/zero` is an empty archive, not a hang).
fn layer_from<R: Read>(store: &Store, input: R, lease: &Lease) -> Result<NewLayer> {
    let plain = layers::tar_end::TarEnd::new(decompressed(input)?);
    build::store_layer(store, plain, None, lease)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use store::config::Config;

    fn tar_with(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn source_rules() {
        assert_eq!(ImportSource::parse("-"), ImportSource::Stdin);
        assert_eq!(
            ImportSource::parse("http://x/a.tar"),
            ImportSource::Url("http://x/a.tar".into())
        );
        assert_eq!(
            ImportSource::parse("a.tar"),
            ImportSource::File("a.tar".into())
        );
        assert_eq!(ImportSource::parse("a.tar").name(), "-");
        assert_eq!(
            parse_repository(
                "x@sha256:da580beb33f0da60884aac52901fa865e4cb9acfc18bb06e7c4e1a2871f2f3b6"
            )
            .unwrap_err()
            .message,
            "cannot import digest reference"
        );
        assert_eq!(parse_repository("x").unwrap().tag(), Some("latest"));
    }

    #[test]
    fn decompression_is_sniffed() {
        let plain = tar_with(&[("a", b"hello")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::encode_all(plain.as_slice(), 1).unwrap();
        for input in [plain.clone(), gz, zs] {
            let mut out = Vec::new();
            decompressed(input.as_slice())
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, plain);
        }
        assert!(decompressed(&b"BZh91AY"[..]).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn import_file_records_a_one_layer_image() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&tmp.path().join("store"), Config::default()).unwrap());
        let plain = tar_with(&[("etc/hi", b"hello\n")]);
        let diff_id = oci_model::Digest::of(&plain);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let file = tmp.path().join("a.tar.gz");
        std::fs::write(&file, gz.finish().unwrap()).unwrap();
        let opts = ImportOptions {
            changes: vec!["ENV A=1".into(), "CMD [\"/bin/sh\"]".into()],
            message: None,
            platform: Some(platform::parse("linux/arm64").unwrap()),
            reference: Some(parse_repository("imp/test:v1").unwrap()),
        };
        let id = import(
            &store,
            ImportSource::File(file),
            opts,
            &crate::progress::discard(),
        )
        .await
        .unwrap();
        let db = store.db();
        let image = db.image(&id).unwrap().unwrap();
        assert_eq!(image.layers, std::slice::from_ref(&diff_id));
        assert_eq!(image.architecture, "arm64");
        assert_eq!(image.variant, None);
        assert_eq!(image.size, 6);
        assert_eq!(
            db.resolve_tag("docker.io/imp/test", "v1")
                .unwrap()
                .as_deref(),
            Some(id.as_str())
        );
        let cfg: Value = serde_json::from_slice(
            &store
                .content
                .read(&oci_model::Digest::parse(&id).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(cfg["comment"], "Imported from -");
        assert_eq!(cfg["history"][0]["comment"], "Imported from -");
        assert!(cfg["history"][0].get("created_by").is_none());
        assert_eq!(cfg["config"]["Env"], json!(["A=1"]));
        assert_eq!(cfg["rootfs"]["diff_ids"], json!([diff_id.to_string()]));
        let layer = db.layer(&diff_id).unwrap().unwrap();
        // The import's lease is gone once the image is recorded.
        assert!(!db.leased("layer", &diff_id.to_string()).unwrap());
        assert!(!db.leased("blob", &layer.blob_digest.to_string()).unwrap());
        assert!(store.content.contains(&layer.blob_digest));
        assert_eq!(
            std::fs::read(store.snapshots.layer_dir(&diff_id).join("etc/hi")).unwrap(),
            b"hello\n"
        );
        let manifest: Value = serde_json::from_slice(
            &store
                .content
                .read(&oci_model::Digest::parse(&image.manifest_digest).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            manifest["layers"][0]["digest"],
            layer.blob_digest.to_string()
        );
        assert_eq!(manifest["config"]["digest"], id);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_change_fails_before_reading() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&tmp.path().join("store"), Config::default()).unwrap());
        let opts = ImportOptions {
            changes: vec!["FROM x".into()],
            ..Default::default()
        };
        let err = import(
            &store,
            ImportSource::File(tmp.path().join("missing")),
            opts,
            &crate::progress::discard(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.message, "from is not a valid change command");
    }
}
