//! Interop with a client no one here wrote: the `oci-client` crate (ORAS project) pushes to and
//! pulls from strata's registry — monolithic and chunked uploads, streamed chunked uploads,
//! cross-repository mounts, tags with pagination, the catalog, ranged blob reads, an index and the
//! referrers API.

use crate::common::TestServer;
use futures_util::StreamExt;
use oci_client::client::{BlobResponse, ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{
    ImageIndexEntry, OciDescriptor, OciImageIndex, OciImageManifest, OciManifest, Platform,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::Digest as _;

fn client(monolithic: bool) -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        use_monolithic_push: monolithic,
        ..ClientConfig::default()
    })
}

fn reference(server: &TestServer, repo_and_tag: &str) -> Reference {
    format!("{}/{repo_and_tag}", server.addr).parse().unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Deterministic, incompressible-looking bytes (xorshift), so blobs of different seeds differ.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn image(seed: u64) -> (Vec<ImageLayer>, Config) {
    let layers = vec![
        ImageLayer::oci_v1_gzip(bytes(seed, 3 << 20), None),
        ImageLayer::oci_v1_gzip(bytes(seed + 1, 1000), None),
    ];
    let config = Config::oci_v1(
        format!(r#"{{"architecture":"amd64","os":"linux","seed":{seed}}}"#).into_bytes(),
        None,
    );
    (layers, config)
}

/// Pushes `layers` and `config` as `r` without credentials.
async fn push_anonymous(c: &Client, r: &Reference, layers: &[ImageLayer], config: &Config) {
    c.push(r, layers, config.clone(), &RegistryAuth::Anonymous, None)
        .await
        .unwrap();
}

async fn pull_and_compare(c: &Client, r: &Reference, layers: &[ImageLayer], config: &Config) {
    let pulled = c
        .pull(
            r,
            &RegistryAuth::Anonymous,
            vec![oci_client::manifest::IMAGE_LAYER_GZIP_MEDIA_TYPE],
        )
        .await
        .unwrap();
    // oci-client downloads layers concurrently and returns them in completion order.
    let digests = |ls: &[ImageLayer]| {
        let mut d: Vec<String> = ls.iter().map(|l| sha256(&l.data)).collect();
        d.sort();
        d
    };
    assert_eq!(digests(&pulled.layers), digests(layers));
    assert_eq!(sha256(&pulled.config.data), sha256(&config.data));
    // The digest the client computed over the manifest bytes is the one the server names.
    let (raw, server_digest) = c
        .pull_manifest_raw(
            r,
            &RegistryAuth::Anonymous,
            &[oci_client::manifest::OCI_IMAGE_MEDIA_TYPE],
        )
        .await
        .unwrap();
    assert_eq!(sha256(&raw), server_digest);
    assert_eq!(pulled.digest.as_deref(), Some(server_digest.as_str()));
}

#[tokio::test]
async fn oci_client_pushes_and_pulls_monolithic_and_chunked() {
    let server = TestServer::start().await;
    for (monolithic, seed) in [(true, 1), (false, 10)] {
        let c = client(monolithic);
        let r = reference(&server, &format!("interop/app{seed}:v1"));
        let (layers, config) = image(seed);
        push_anonymous(&c, &r, &layers, &config).await;
        pull_and_compare(&c, &r, &layers, &config).await;
        for layer in &layers {
            assert!(c.blob_exists(&r, &layer.sha256_digest()).await.unwrap());
        }
    }
}

#[tokio::test]
async fn oci_client_streams_a_chunked_upload_and_reads_ranges() {
    let server = TestServer::start().await;
    let c = client(false);
    let r = reference(&server, "interop/stream:v1");
    let data = bytes(7, 5 << 20);
    let chunks: Vec<oci_client::errors::Result<bytes::Bytes>> = data
        .chunks(1 << 20)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let resp = c
        .push_blob_stream_chunked(&r, futures_util::stream::iter(chunks))
        .await
        .unwrap();
    assert_eq!(resp.blob_digest, sha256(&data));
    assert_eq!(resp.size, data.len() as u64);

    let desc = OciDescriptor {
        media_type: oci_client::manifest::IMAGE_LAYER_GZIP_MEDIA_TYPE.into(),
        digest: resp.blob_digest.clone(),
        size: data.len() as i64,
        ..OciDescriptor::default()
    };
    let offset = 4_000_000u64;
    match c
        .pull_blob_stream_partial(&r, &desc, offset, Some(1000))
        .await
        .unwrap()
    {
        BlobResponse::Partial(mut s) => {
            let mut got = Vec::new();
            while let Some(chunk) = s.next().await {
                got.extend_from_slice(&chunk.unwrap());
            }
            assert_eq!(got, &data[offset as usize..offset as usize + 1000]);
        }
        BlobResponse::Full(_) => panic!("a Range request must get 206 Partial Content"),
    }
}

#[tokio::test]
async fn oci_client_mounts_lists_tags_and_catalog() {
    let server = TestServer::start().await;
    let c = client(false);
    let src = reference(&server, "interop/src:v1");
    let (layers, config) = image(20);
    push_anonymous(&c, &src, &layers, &config).await;

    // Cross-repository mount: the blob appears in the other repository without an upload.
    let dst = reference(&server, "interop/dst:v1");
    let digest = layers[0].sha256_digest();
    assert!(!c.blob_exists(&dst, &digest).await.unwrap());
    c.mount_blob(&dst, &src, &digest).await.unwrap();
    assert!(c.blob_exists(&dst, &digest).await.unwrap());

    // Tags with `n`/`last` pagination.
    for tag in ["v2", "v3", "v4"] {
        let r = reference(&server, &format!("interop/src:{tag}"));
        push_anonymous(&c, &r, &layers, &config).await;
    }
    let first = c
        .list_tags(&src, &RegistryAuth::Anonymous, Some(2), None)
        .await
        .unwrap();
    assert_eq!(first.tags, ["v1", "v2"]);
    let rest = c
        .list_tags(&src, &RegistryAuth::Anonymous, Some(10), Some("v2"))
        .await
        .unwrap();
    assert_eq!(rest.tags, ["v3", "v4"]);

    let catalog = c
        .catalog(&src, &RegistryAuth::Anonymous, None, None)
        .await
        .unwrap();
    assert!(catalog.repositories.contains(&"interop/src".to_string()));
    assert!(catalog.repositories.contains(&"interop/dst".to_string()));
}

#[tokio::test]
async fn oci_client_pushes_an_index_and_finds_referrers() {
    let server = TestServer::start().await;
    let c = client(false);
    let app = reference(&server, "interop/multi:amd64");
    let (layers, config) = image(30);
    push_anonymous(&c, &app, &layers, &config).await;
    let (raw, digest) = c
        .pull_manifest_raw(
            &app,
            &RegistryAuth::Anonymous,
            &[oci_client::manifest::OCI_IMAGE_MEDIA_TYPE],
        )
        .await
        .unwrap();

    let index = OciImageIndex {
        schema_version: 2,
        media_type: Some(oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE.into()),
        manifests: vec![ImageIndexEntry {
            media_type: oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.into(),
            digest: digest.clone(),
            size: raw.len() as i64,
            platform: Some(Platform {
                architecture: "amd64".into(),
                os: "linux".into(),
                os_version: None,
                os_features: None,
                variant: None,
                features: None,
            }),
            annotations: None,
            artifact_type: None,
        }],
        artifact_type: None,
        annotations: None,
    };
    let list = reference(&server, "interop/multi:latest");
    c.push_manifest_list(&list, &RegistryAuth::Anonymous, index)
        .await
        .unwrap();
    match c
        .pull_manifest(&list, &RegistryAuth::Anonymous)
        .await
        .unwrap()
    {
        (OciManifest::ImageIndex(i), _) => assert_eq!(i.manifests[0].digest, digest),
        (other, _) => panic!("expected an index, got {other:?}"),
    }

    // An artifact whose subject is the amd64 manifest shows up in the referrers API.
    let empty = b"{}".to_vec();
    c.push_blob(&app, empty.clone(), &sha256(&empty))
        .await
        .unwrap();
    let artifact = OciImageManifest {
        schema_version: 2,
        media_type: Some(oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.into()),
        config: OciDescriptor {
            media_type: "application/vnd.oci.empty.v1+json".into(),
            digest: sha256(&empty),
            size: empty.len() as i64,
            ..OciDescriptor::default()
        },
        layers: vec![],
        subject: Some(OciDescriptor {
            media_type: oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.into(),
            digest: digest.clone(),
            size: raw.len() as i64,
            ..OciDescriptor::default()
        }),
        artifact_type: Some("application/vnd.example.sbom".into()),
        annotations: None,
    };
    let sbom = reference(&server, "interop/multi:sbom");
    c.push_manifest(&sbom, &OciManifest::Image(artifact))
        .await
        .unwrap();
    let by_digest: Reference = format!("{}/interop/multi@{digest}", server.addr)
        .parse()
        .unwrap();
    let referrers = c
        .pull_referrers(&by_digest, Some("application/vnd.example.sbom"))
        .await
        .unwrap();
    assert_eq!(referrers.manifests.len(), 1);
    assert_eq!(
        referrers.manifests[0].artifact_type.as_deref(),
        Some("application/vnd.example.sbom")
    );
}
