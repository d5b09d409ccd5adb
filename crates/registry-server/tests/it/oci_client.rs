//! Interop with a client no one here wrote: the `oci-client` crate pushes (chunked and
//! monolithic), pulls, mounts, lists tags and the catalog, pushes an index and asks for referrers.

use crate::common::*;
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{
    IMAGE_LAYER_GZIP_MEDIA_TYPE, IMAGE_LAYER_MEDIA_TYPE, OciImageIndex, OciManifest,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::json;

fn client(monolithic: bool) -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        use_monolithic_push: monolithic,
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_client_round_trips_images_indexes_and_mounts() {
    let s = TestServer::start().await;
    let anon = RegistryAuth::Anonymous;
    let mut manifest_digests = Vec::new();
    for (tag, monolithic) in [("chunked", false), ("monolithic", true)] {
        let c = client(monolithic);
        let reference: Reference = format!("{}/oci/client:{tag}", s.addr).parse().unwrap();
        let layers = vec![
            ImageLayer::oci_v1_gzip(data(9, 300_000), None),
            ImageLayer::oci_v1(data(10, 1000), None),
        ];
        let config = Config::oci_v1(
            format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"tag\":\"{tag}\"}}")
                .into_bytes(),
            None,
        );
        c.push(&reference, &layers, config, &anon, None)
            .await
            .unwrap();
        let image = c
            .pull(
                &reference,
                &anon,
                vec![IMAGE_LAYER_MEDIA_TYPE, IMAGE_LAYER_GZIP_MEDIA_TYPE],
            )
            .await
            .unwrap();
        let mut got: Vec<String> = image.layers.iter().map(|l| l.sha256_digest()).collect();
        let mut want: Vec<String> = layers.iter().map(|l| l.sha256_digest()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        let (raw, digest) = c
            .pull_manifest_raw(&reference, &anon, &[OCI_MANIFEST])
            .await
            .unwrap();
        assert_eq!(oci_model::Digest::of(&raw).to_string(), digest);
        assert_eq!(image.digest.as_deref(), Some(digest.as_str()));
        manifest_digests.push((digest, raw.len()));
    }
    let c = client(false);
    let repo: Reference = format!("{}/oci/client:chunked", s.addr).parse().unwrap();
    let tags = c.list_tags(&repo, &anon, None, None).await.unwrap();
    assert_eq!(tags.tags, ["chunked", "monolithic"]);
    let page = c
        .list_tags(&repo, &anon, Some(1), Some("chunked"))
        .await
        .unwrap();
    assert_eq!(page.tags, ["monolithic"]);

    // Cross-repository mount of a layer, then it exists in the target.
    let layer = ImageLayer::oci_v1_gzip(data(9, 300_000), None).sha256_digest();
    let target: Reference = format!("{}/oci/mounted:x", s.addr).parse().unwrap();
    assert!(!c.blob_exists(&target, &layer).await.unwrap());
    c.mount_blob(&target, &repo, &layer).await.unwrap();
    assert!(c.blob_exists(&target, &layer).await.unwrap());

    // An index over both manifests.
    let entries: Vec<_> = manifest_digests
        .iter()
        .map(|(d, size)| {
            json!({"mediaType": OCI_MANIFEST, "digest": d, "size": size,
                   "platform": {"architecture": "amd64", "os": "linux"}})
        })
        .collect();
    let index: OciImageIndex = serde_json::from_value(json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries
    }))
    .unwrap();
    let list_ref: Reference = format!("{}/oci/client:list", s.addr).parse().unwrap();
    c.push_manifest_list(&list_ref, &anon, index).await.unwrap();
    let (m, _) = c.pull_manifest(&list_ref, &anon).await.unwrap();
    match m {
        OciManifest::ImageIndex(i) => assert_eq!(i.manifests.len(), 2),
        other => panic!("expected an index, got {other:?}"),
    }

    // The referrers API answers natively (an empty index: nothing refers to the manifest).
    let by_digest: Reference = format!("{}/oci/client@{}", s.addr, manifest_digests[0].0)
        .parse()
        .unwrap();
    let referrers = c.pull_referrers(&by_digest, None).await.unwrap();
    assert!(referrers.manifests.is_empty());

    let catalog = c.catalog(&repo, &anon, None, None).await.unwrap();
    assert_eq!(catalog.repositories, ["oci/client", "oci/mounted"]);
}
