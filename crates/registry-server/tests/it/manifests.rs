//! Manifests of all four media types, their validation, deletes, tags and catalog pagination.

use crate::common::*;
use oci_model::Digest;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_four_media_types_round_trip_byte_for_byte() {
    let s = TestServer::start().await;
    let config = b"{\"os\":\"linux\",\"architecture\":\"amd64\"}";
    let layer = data(7, 5000);
    let c = s.push_blob("lib/m", config).await;
    let l = s.push_blob("lib/m", &layer).await;
    for mt in [OCI_MANIFEST, DOCKER_MANIFEST] {
        let m = image_manifest(mt, (&c, config.len()), &[(&l, layer.len())]);
        let d = Digest::of(&m);
        let tag = if mt == OCI_MANIFEST { "oci" } else { "docker" };
        let put = s.put_manifest("lib/m", tag, mt, &m).await;
        assert_eq!(put.status(), 201);
        assert_eq!(
            put.headers()["docker-content-digest"],
            d.to_string().as_str()
        );
        assert_eq!(
            put.headers()["location"],
            format!("/v2/lib/m/manifests/{d}").as_str()
        );
        for reference in [tag.to_string(), d.to_string()] {
            let get = s.get(&format!("/v2/lib/m/manifests/{reference}")).await;
            assert_eq!(get.status(), 200);
            assert_eq!(get.headers()["content-type"], mt);
            assert_eq!(
                get.headers()["docker-content-digest"],
                d.to_string().as_str()
            );
            assert_eq!(get.headers()["etag"], format!("\"{d}\"").as_str());
            assert_eq!(
                get.headers()["content-length"],
                m.len().to_string().as_str()
            );
            assert_eq!(get.bytes().await.unwrap(), m);
            let head = s
                .send(Method::HEAD, &format!("/v2/lib/m/manifests/{reference}"))
                .await;
            assert_eq!(head.status(), 200);
            assert_eq!(
                head.headers()["content-length"],
                m.len().to_string().as_str()
            );
            assert_eq!(head.headers()["content-type"], mt);
        }
        let child_digest = d;
        let list_mt = if mt == OCI_MANIFEST {
            OCI_INDEX
        } else {
            DOCKER_LIST
        };
        let idx = index(list_mt, &[(mt, &child_digest, m.len())]);
        let put = s
            .put_manifest("lib/m", &format!("{tag}-list"), list_mt, &idx)
            .await;
        assert_eq!(put.status(), 201, "{}", put.text().await.unwrap());
        let get = s.get(&format!("/v2/lib/m/manifests/{tag}-list")).await;
        assert_eq!(get.headers()["content-type"], list_mt);
        assert_eq!(get.bytes().await.unwrap(), idx);
    }
    let tags = s.get_json("/v2/lib/m/tags/list").await;
    assert_eq!(
        tags,
        json!({"name": "lib/m", "tags": ["docker", "docker-list", "oci", "oci-list"]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_manifests_are_refused_with_the_spec_codes() {
    let s = TestServer::start().await;
    let config = b"{}";
    let c = s.push_blob("lib/m", config).await;

    // Malformed JSON, and JSON that is no manifest.
    for body in [
        &b"{not json"[..],
        b"[1,2]",
        b"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}",
    ] {
        let r = s.put_manifest("lib/m", "bad", OCI_MANIFEST, body).await;
        assert_eq!(r.status(), 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(code(r).await, "MANIFEST_INVALID");
    }
    // A layer the repository does not have.
    let missing = Digest::of(b"missing layer");
    let m = image_manifest(OCI_MANIFEST, (&c, config.len()), &[(&missing, 13)]);
    let r = s.put_manifest("lib/m", "t", OCI_MANIFEST, &m).await;
    assert_eq!(r.status(), 400);
    assert_eq!(code(r).await, "MANIFEST_BLOB_UNKNOWN");
    // A blob present in another repository only is still unknown here.
    let elsewhere = s.push_blob("lib/other", b"layer elsewhere").await;
    let m = image_manifest(OCI_MANIFEST, (&c, config.len()), &[(&elsewhere, 15)]);
    let r = s.put_manifest("lib/m", "t", OCI_MANIFEST, &m).await;
    assert_eq!(code(r).await, "MANIFEST_BLOB_UNKNOWN");
    // An index whose child manifest is missing.
    let idx = index(OCI_INDEX, &[(OCI_MANIFEST, &missing, 100)]);
    let r = s.put_manifest("lib/m", "t", OCI_INDEX, &idx).await;
    assert_eq!(code(r).await, "MANIFEST_BLOB_UNKNOWN");
    // A digest reference that is not the body's digest.
    let good = image_manifest(OCI_MANIFEST, (&c, config.len()), &[]);
    let r = s
        .put_manifest("lib/m", &Digest::of(b"x").to_string(), OCI_MANIFEST, &good)
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(code(r).await, "DIGEST_INVALID");
    // Content-Type and mediaType disagreeing.
    let r = s.put_manifest("lib/m", "t", OCI_INDEX, &good).await;
    assert_eq!(code(r).await, "MANIFEST_INVALID");
    // Over 4 MiB.
    let mut huge = b"{\"schemaVersion\":2,\"annotations\":{\"x\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 4 * 1024 * 1024));
    huge.extend_from_slice(b"\"}}");
    let r = s.put_manifest("lib/m", "huge", OCI_MANIFEST, &huge).await;
    assert_eq!(r.status(), 413);
    assert_eq!(code(r).await, "MANIFEST_INVALID");
    // Nothing was stored for any of them.
    assert_eq!(
        code(s.get("/v2/lib/m/manifests/t").await).await,
        "MANIFEST_UNKNOWN"
    );
    let tags = s.get_json("/v2/lib/m/tags/list").await;
    assert_eq!(tags["tags"], json!([]));
    // An invalid tag.
    let r = s.put_manifest("lib/m", "-bad", OCI_MANIFEST, &good).await;
    assert_eq!(r.status(), 400);
    // The good one is accepted by digest, without a tag.
    let d = Digest::of(&good);
    let r = s
        .put_manifest("lib/m", &d.to_string(), OCI_MANIFEST, &good)
        .await;
    assert_eq!(r.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_tags_and_manifests() {
    let s = TestServer::start().await;
    let img = s.push_image("lib/d", "v1", 1).await;
    let r = s
        .put_manifest("lib/d", "v2", OCI_MANIFEST, &img.manifest)
        .await;
    assert_eq!(r.status(), 201);
    // By tag: only the tag goes.
    let del = s.send(Method::DELETE, "/v2/lib/d/manifests/v1").await;
    assert_eq!(del.status(), 202);
    assert_eq!(s.get("/v2/lib/d/manifests/v1").await.status(), 404);
    assert_eq!(s.get("/v2/lib/d/manifests/v2").await.status(), 200);
    // By digest: the manifest and every tag pointing at it.
    let by_digest = format!("/v2/lib/d/manifests/{}", img.digest);
    let del = s.send(Method::DELETE, &by_digest).await;
    assert_eq!(del.status(), 202);
    assert_eq!(s.get("/v2/lib/d/manifests/v2").await.status(), 404);
    assert_eq!(code(s.get(&by_digest).await).await, "MANIFEST_UNKNOWN");
    let again = s.send(Method::DELETE, &by_digest).await;
    assert_eq!(again.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_catalog_paginate_with_link_headers() {
    let s = TestServer::start().await;
    let img = s.push_image("lib/p", "a", 1).await;
    for t in ["b", "c", "d", "e"] {
        let r = s
            .put_manifest("lib/p", t, OCI_MANIFEST, &img.manifest)
            .await;
        assert_eq!(r.status(), 201);
    }
    let mut seen = Vec::new();
    let mut next = Some("/v2/lib/p/tags/list?n=2".to_string());
    while let Some(path) = next.take() {
        let r = s.get(&path).await;
        assert_eq!(r.status(), 200);
        next = r.headers().get("link").map(|l| {
            let l = l.to_str().unwrap();
            assert!(l.ends_with(">; rel=\"next\""), "{l}");
            l[1..l.find('>').unwrap()].to_string()
        });
        let v: Value = r.json().await.unwrap();
        for t in v["tags"].as_array().unwrap() {
            seen.push(t.as_str().unwrap().to_string());
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    let v = s.get_json("/v2/lib/p/tags/list?n=2&last=b").await;
    assert_eq!(v["tags"], json!(["c", "d"]));
    let r = s.get("/v2/lib/p/tags/list?n=-1").await;
    assert_eq!(r.status(), 400);
    assert_eq!(code(r).await, "PAGINATION_NUMBER_INVALID");
    let r = s.get("/v2/lib/nothing/tags/list").await;
    assert_eq!(r.status(), 404);
    assert_eq!(code(r).await, "NAME_UNKNOWN");

    for repo in ["lib/q", "z", "a/b/c"] {
        s.push_image(repo, "t", 2).await;
    }
    let all = s.get_json("/v2/_catalog").await;
    assert_eq!(all["repositories"], json!(["a/b/c", "lib/p", "lib/q", "z"]));
    let r = s.get("/v2/_catalog?n=3").await;
    assert_eq!(
        r.headers()["link"],
        "</v2/_catalog?last=lib/q&n=3>; rel=\"next\""
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["repositories"], json!(["a/b/c", "lib/p", "lib/q"]));
    let r = s.get("/v2/_catalog?n=3&last=lib/q").await;
    assert!(r.headers().get("link").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["repositories"], json!(["z"]));
}
