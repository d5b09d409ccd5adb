//! Names that must never reach the disk: invalid, uppercase, `..`, percent-encoded, absolute.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_and_escaping_names_are_name_invalid_and_touch_nothing() {
    let s = TestServer::start().await;
    let d = oci_model::Digest::of(b"x");
    let names = [
        "Upper/case",
        "..",
        "../../etc",
        "a/../../../tmp/x",
        "%2e%2e",
        "%2e%2e/%2e%2e/etc",
        "a%2f..%2f..%2fb",
        "a/./b",
        "a//b",
        ".hidden",
        "a_",
        "trailing-",
    ];
    for name in names {
        for (method, path) in [
            ("GET", format!("/v2/{name}/tags/list")),
            ("GET", format!("/v2/{name}/manifests/latest")),
            ("PUT", format!("/v2/{name}/manifests/latest")),
            ("HEAD", format!("/v2/{name}/blobs/{d}")),
            ("POST", format!("/v2/{name}/blobs/uploads/")),
            ("POST", format!("/v2/{name}/blobs/uploads/?digest={d}")),
            ("DELETE", format!("/v2/{name}/blobs/{d}")),
            ("GET", format!("/v2/{name}/referrers/{d}")),
        ] {
            let (status, body) = raw(s.addr, method, &path).await;
            assert_eq!(status, 400, "{method} {path}: {body}");
            if method != "HEAD" {
                assert!(body.contains("NAME_INVALID"), "{method} {path}: {body}");
            }
        }
    }
    // A mount from an invalid repository never reads it: a plain session instead.
    let (status, _) = raw(
        s.addr,
        "POST",
        &format!("/v2/ok/blobs/uploads/?mount={d}&from=../../etc"),
    )
    .await;
    assert_eq!(status, 202);
    let long = "a".repeat(256);
    let (status, _) = raw(s.addr, "GET", &format!("/v2/{long}/tags/list")).await;
    assert_eq!(status, 400);
    // Only the one upload session exists; nothing was created beside the root.
    assert!(files_under(&s.root().join("repositories")).is_empty());
    assert!(files_under(&s.root().join("blobs")).is_empty());
    let beside: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("root")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_references_and_digests_are_4xx() {
    let s = TestServer::start().await;
    for path in [
        "/v2/a/blobs/sha256:short",
        "/v2/a/blobs/sha512:00",
        "/v2/a/blobs/..",
        "/v2/a/referrers/nope",
    ] {
        let (status, body) = raw(s.addr, "GET", path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("DIGEST_INVALID"), "{path}: {body}");
    }
    for path in [
        "/v2/a/manifests/..",
        "/v2/a/manifests/-x",
        "/v2/a/manifests/%2e%2e",
    ] {
        let (status, _) = raw(s.addr, "GET", path).await;
        assert!((400..500).contains(&status), "{path}: {status}");
    }
    // Unsupported methods.
    let (status, body) = raw(s.addr, "POST", "/v2/a/tags/list").await;
    assert_eq!(status, 405, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoded_slash_names_the_repository_it_decodes_to() {
    let s = TestServer::start().await;
    let d = s.push_blob("lib/a", b"encoded").await;
    let (status, body) = raw(s.addr, "GET", &format!("/v2/lib%2fa/blobs/{d}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, "encoded");
    // In the last part it cannot move the split: still an (invalid) upload id.
    let (status, body) = raw(s.addr, "GET", "/v2/lib/a/blobs/uploads/x%2fy").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("BLOB_UPLOAD_UNKNOWN"), "{body}");
}
