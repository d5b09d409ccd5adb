//! `/v1/search` over repository metadata, and garbage collection.

use crate::common::*;
use registry_server::gc;
use registry_server::search::set_meta;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_matches_names_and_descriptions_with_docker_hubs_shape() {
    let s = TestServer::start().await;
    for (i, repo) in ["library/ubuntu", "team/builder", "library/alpine"]
        .iter()
        .enumerate()
    {
        s.push_image(repo, "latest", i as u8).await;
    }
    let b = s.state.backend.clone();
    set_meta(
        &*b,
        "library/ubuntu",
        Some("Ubuntu is a Debian-based Linux".into()),
        Some(10),
        Some(true),
    )
    .unwrap();
    set_meta(
        &*b,
        "team/builder",
        Some("Builds things on ubuntu".into()),
        Some(2),
        None,
    )
    .unwrap();

    let v = s.get_json("/v1/search?q=UBUNTU").await;
    assert_eq!(
        v,
        json!({
            "num_pages": 1,
            "num_results": 2,
            "page_size": 25,
            "page": 1,
            "query": "UBUNTU",
            "results": [
                {"name": "library/ubuntu", "description": "Ubuntu is a Debian-based Linux",
                 "star_count": 10, "is_official": true, "is_automated": false},
                {"name": "team/builder", "description": "Builds things on ubuntu",
                 "star_count": 2, "is_official": false, "is_automated": false},
            ]
        })
    );
    let v = s.get_json("/v1/search?q=library&n=1&page=2").await;
    assert_eq!(v["num_pages"], 2);
    assert_eq!(v["num_results"], 2);
    assert_eq!(v["page_size"], 1);
    assert_eq!(v["results"][0]["name"], "library/alpine");
    let v = s.get_json("/v1/search?q=x&n=1000").await;
    assert_eq!(v["page_size"], 100);
    let v = s.get_json("/v1/search?q=nothing-matches").await;
    assert_eq!(v["num_results"], 0);
    assert_eq!(v["results"], json!([]));
    let r = s.get("/v1/search?q=a&n=abc").await;
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_sweeps_unreferenced_blobs_and_stale_uploads_only() {
    let s = TestServer::start().await;
    let img = s.push_image("lib/g", "v1", 1).await;
    let idx = index(
        OCI_INDEX,
        &[(OCI_MANIFEST, &img.digest, img.manifest.len())],
    );
    let r = s.put_manifest("lib/g", "list", OCI_INDEX, &idx).await;
    assert_eq!(r.status(), 201);
    let orphan = s.push_blob("lib/g", b"orphan blob").await;
    // A stale session (started two hours ago) and a fresh one.
    let start = s.send(Method::POST, "/v2/lib/g/blobs/uploads/").await;
    let stale = start.headers()["docker-upload-uuid"]
        .to_str()
        .unwrap()
        .to_string();
    let two_hours_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 7200;
    std::fs::write(
        s.root().join("uploads").join(&stale).join("info"),
        json!({"repo": "lib/g", "started": two_hours_ago}).to_string(),
    )
    .unwrap();
    let start = s.send(Method::POST, "/v2/lib/g/blobs/uploads/").await;
    let fresh = start.headers()["docker-upload-uuid"]
        .to_str()
        .unwrap()
        .to_string();

    let b = s.state.backend.clone();
    let mut lines = Vec::new();
    let dry = gc::collect(&*b, true, &mut |l| lines.push(l)).unwrap();
    assert_eq!(dry.blobs, vec![(orphan.clone(), 11)]);
    assert_eq!(dry.uploads, vec![stale.clone()]);
    assert_eq!(
        lines,
        vec![
            format!("would delete blob {orphan} (11 bytes)"),
            format!("would delete upload session {stale} (lib/g)"),
            "1 blobs (11 bytes) and 1 upload sessions would be deleted".to_string(),
        ]
    );
    assert_eq!(
        s.get(&format!("/v2/lib/g/blobs/{orphan}")).await.status(),
        200
    );

    let report = gc::collect(&*b, false, &mut |_| {}).unwrap();
    assert_eq!(report, gc::Report { links: 1, ..dry });
    assert_eq!(
        s.get(&format!("/v2/lib/g/blobs/{orphan}")).await.status(),
        404
    );
    assert_eq!(
        s.get(&format!("/v2/lib/g/blobs/uploads/{stale}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        s.get(&format!("/v2/lib/g/blobs/uploads/{fresh}"))
            .await
            .status(),
        204
    );
    // Everything referenced survives.
    for d in [&img.digest, &img.config_digest, &img.layer_digest] {
        assert_eq!(
            s.get(&format!("/v2/lib/g/blobs/{d}")).await.status(),
            200,
            "{d}"
        );
    }
    assert_eq!(s.get("/v2/lib/g/manifests/list").await.status(), 200);
    let again = gc::collect(&*b, false, &mut |_| {}).unwrap();
    assert!(again.blobs.is_empty() && again.uploads.is_empty());

    // Once the manifests are deleted, their blobs go too.
    for r in ["list", "v1"] {
        let got = s.get(&format!("/v2/lib/g/manifests/{r}")).await;
        let d = got.headers()["docker-content-digest"]
            .to_str()
            .unwrap()
            .to_string();
        let del = s
            .send(Method::DELETE, &format!("/v2/lib/g/manifests/{d}"))
            .await;
        assert_eq!(del.status(), 202);
    }
    let last = gc::collect(&*b, false, &mut |_| {}).unwrap();
    assert_eq!(last.blobs.len(), 4);
    assert!(files_under(&s.root().join("blobs")).is_empty());
}
