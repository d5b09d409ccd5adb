//! `subject`, `OCI-Subject` and the referrers API.

use crate::common::*;
use oci_model::Digest;
use serde_json::{Value, json};

const SBOM: &str = "application/vnd.example.sbom";
const SIG: &str = "application/vnd.example.signature";

async fn push_referrer(s: &TestServer, repo: &str, subject: &Image, artifact: &str) -> Digest {
    let empty = s.push_blob(repo, b"{}").await;
    let m = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest.to_string(), "size": subject.manifest.len()},
        "annotations": {"org.example.kind": artifact},
    }))
    .unwrap();
    let d = Digest::of(&m);
    let r = s.put_manifest(repo, &d.to_string(), OCI_MANIFEST, &m).await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["oci-subject"],
        subject.digest.to_string().as_str()
    );
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_are_listed_filtered_and_dropped_with_their_manifest() {
    let s = TestServer::start().await;
    let img = s.push_image("lib/r", "v1", 1).await;
    let sbom = push_referrer(&s, "lib/r", &img, SBOM).await;
    let sig = push_referrer(&s, "lib/r", &img, SIG).await;

    let r = s.get(&format!("/v2/lib/r/referrers/{}", img.digest)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], OCI_INDEX);
    assert!(r.headers().get("oci-filters-applied").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["schemaVersion"], 2);
    assert_eq!(v["mediaType"], OCI_INDEX);
    let mut got: Vec<(String, String)> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["mediaType"], OCI_MANIFEST);
            assert_eq!(m["annotations"]["org.example.kind"], m["artifactType"]);
            (
                m["digest"].as_str().unwrap().to_string(),
                m["artifactType"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        (sbom.to_string(), SBOM.to_string()),
        (sig.to_string(), SIG.to_string()),
    ];
    want.sort();
    assert_eq!(got, want);

    let r = s
        .get(&format!(
            "/v2/lib/r/referrers/{}?artifactType={SBOM}",
            img.digest
        ))
        .await;
    assert_eq!(r.headers()["oci-filters-applied"], "artifactType");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(v["manifests"][0]["digest"], sbom.to_string());

    // Unknown subject: 200 and an empty list; unknown repository: 404.
    let v: Value = s
        .get(&format!("/v2/lib/r/referrers/{}", Digest::of(b"none")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["manifests"], json!([]));
    let r = s
        .get(&format!("/v2/lib/none/referrers/{}", img.digest))
        .await;
    assert_eq!(r.status(), 404);

    // Deleting a referrer removes it from the list.
    let del = s
        .send(Method::DELETE, &format!("/v2/lib/r/manifests/{sig}"))
        .await;
    assert_eq!(del.status(), 202);
    let v = s
        .get_json(&format!("/v2/lib/r/referrers/{}", img.digest))
        .await;
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referrer_may_be_pushed_before_its_subject() {
    let s = TestServer::start().await;
    let ghost = Image {
        digest: Digest::of(b"not pushed yet"),
        manifest: b"not pushed yet".to_vec(),
        config_digest: Digest::of(b""),
        layer_digest: Digest::of(b""),
    };
    push_referrer(&s, "lib/early", &ghost, SIG).await;
    let v = s
        .get_json(&format!("/v2/lib/early/referrers/{}", ghost.digest))
        .await;
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
}
