//! Blob reads, ranges, deletes and every upload flavour, good and bad.

use crate::common::*;
use oci_model::Digest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_endpoint_answers_with_the_api_version() {
    let s = TestServer::start().await;
    for path in ["/v2/", "/v2"] {
        let r = s.get(path).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["docker-distribution-api-version"],
            "registry/2.0"
        );
    }
    let r = s.get("/v2/lib/x/nonsense/y").await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monolithic_upload_then_head_get_and_ranges() {
    let s = TestServer::start().await;
    let bytes = data(1, 100_000);
    let d = s.push_blob("lib/a", &bytes).await;
    assert_eq!(
        std::fs::read(s.root().join("blobs/sha256").join(d.hex())).unwrap(),
        bytes
    );

    let head = s.send(Method::HEAD, &format!("/v2/lib/a/blobs/{d}")).await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "100000");
    assert_eq!(
        head.headers()["docker-content-digest"],
        d.to_string().as_str()
    );

    let blob = format!("/v2/lib/a/blobs/{d}");
    let ranged = |range: &str| s.client.get(s.url(&blob)).header("Range", range).send();
    let get = s.get(&format!("/v2/lib/a/blobs/{d}")).await;
    assert_eq!(get.status(), 200);
    assert_eq!(get.headers()["content-length"], "100000");
    assert_eq!(get.bytes().await.unwrap(), bytes);

    let part = ranged("bytes=10-19").await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 10-19/100000");
    assert_eq!(part.bytes().await.unwrap(), &bytes[10..20]);

    let tail = ranged("bytes=99990-").await.unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap(), &bytes[99990..]);

    let beyond = ranged("bytes=100000-100010").await.unwrap();
    assert_eq!(beyond.status(), 416);
    assert_eq!(beyond.headers()["content-range"], "bytes */100000");
    assert_eq!(code(beyond).await, "RANGE_INVALID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_are_served_only_in_repositories_they_were_pushed_or_mounted_to() {
    let s = TestServer::start().await;
    let d = s.push_blob("lib/a", b"shared bytes").await;
    let r = s.get(&format!("/v2/lib/b/blobs/{d}")).await;
    assert_eq!(r.status(), 404);
    assert_eq!(code(r).await, "BLOB_UNKNOWN");

    // A mount from a repository that has it: 201, and now lib/b serves it.
    let m = s
        .send(
            Method::POST,
            &format!("/v2/lib/b/blobs/uploads/?mount={d}&from=lib/a"),
        )
        .await;
    assert_eq!(m.status(), 201);
    assert_eq!(
        m.headers()["location"],
        format!("/v2/lib/b/blobs/{d}").as_str()
    );
    assert_eq!(s.get(&format!("/v2/lib/b/blobs/{d}")).await.status(), 200);

    // A mount from a repository that lacks it falls back to a session.
    let other = Digest::of(b"nowhere");
    let m = s
        .send(
            Method::POST,
            &format!("/v2/lib/c/blobs/uploads/?mount={other}&from=lib/a"),
        )
        .await;
    assert_eq!(m.status(), 202);
    assert!(m.headers().contains_key("docker-upload-uuid"));

    // DELETE unlinks from one repository only.
    let del = s
        .send(Method::DELETE, &format!("/v2/lib/b/blobs/{d}"))
        .await;
    assert_eq!(del.status(), 202);
    assert_eq!(s.get(&format!("/v2/lib/b/blobs/{d}")).await.status(), 404);
    assert_eq!(s.get(&format!("/v2/lib/a/blobs/{d}")).await.status(), 200);
    let again = s
        .send(Method::DELETE, &format!("/v2/lib/b/blobs/{d}"))
        .await;
    assert_eq!(code(again).await, "BLOB_UNKNOWN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_upload_with_status_and_out_of_order_chunks() {
    let s = TestServer::start().await;
    let bytes = data(2, 250_000);
    let d = Digest::of(&bytes);
    let start = s.send(Method::POST, "/v2/lib/a/blobs/uploads/").await;
    assert_eq!(start.status(), 202);
    assert_eq!(start.headers()["range"], "0-0");
    let uuid = start.headers()["docker-upload-uuid"]
        .to_str()
        .unwrap()
        .to_string();
    let mut loc = start.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(loc, format!("/v2/lib/a/blobs/uploads/{uuid}"));

    for (i, chunk) in bytes.chunks(100_000).enumerate() {
        let from = i * 100_000;
        let r = s
            .client
            .patch(s.url(&loc))
            .header(
                "Content-Range",
                format!("{from}-{}", from + chunk.len() - 1),
            )
            .header("Content-Type", "application/octet-stream")
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        assert_eq!(
            r.headers()["range"],
            format!("0-{}", from + chunk.len() - 1).as_str()
        );
        loc = r.headers()["location"].to_str().unwrap().to_string();
        if i == 0 {
            // A chunk that does not start where the session ends: 416.
            let bad = s.patch_chunk(&loc, 5, &[0u8; 5]).await;
            assert_eq!(bad.status(), 416);
            assert_eq!(bad.headers()["range"], "0-99999");
            assert_eq!(code(bad).await, "RANGE_INVALID");
            let status = s.get(&loc).await;
            assert_eq!(status.status(), 204);
            assert_eq!(status.headers()["range"], "0-99999");
        }
    }
    // Finish without a body.
    let put = s.send(Method::PUT, &format!("{loc}?digest={d}")).await;
    assert_eq!(put.status(), 201);
    assert_eq!(
        put.headers()["docker-content-digest"],
        d.to_string().as_str()
    );
    assert_eq!(
        s.get(&format!("/v2/lib/a/blobs/{d}"))
            .await
            .bytes()
            .await
            .unwrap(),
        bytes
    );
    // The session is gone.
    let gone = s.get(&loc).await;
    assert_eq!(gone.status(), 404);
    assert_eq!(code(gone).await, "BLOB_UPLOAD_UNKNOWN");
    assert!(files_under(&s.root().join("uploads")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_patch_and_final_chunk_in_put() {
    let s = TestServer::start().await;
    let bytes = data(3, 70_000);
    let d = Digest::of(&bytes);
    let loc = s.start_upload("a").await;
    let r = s.send_body(Method::PATCH, &loc, &bytes[..50_000]).await;
    assert_eq!(r.status(), 202);
    let put = s
        .send_body(Method::PUT, &format!("{loc}?digest={d}"), &bytes[50_000..])
        .await;
    assert_eq!(put.status(), 201, "{}", put.text().await.unwrap());
    assert_eq!(
        s.get(&format!("/v2/a/blobs/{d}"))
            .await
            .bytes()
            .await
            .unwrap(),
        bytes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_mismatch_stores_nothing() {
    let s = TestServer::start().await;
    let wrong = Digest::of(b"something else");
    let r = s
        .send_body(
            Method::POST,
            &format!("/v2/lib/a/blobs/uploads/?digest={wrong}"),
            b"the real bytes",
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(code(r).await, "DIGEST_INVALID");

    let loc = s.start_upload("lib/a").await;
    let r = s
        .send_body(
            Method::PUT,
            &format!("{loc}?digest={wrong}"),
            b"other real bytes",
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(code(r).await, "DIGEST_INVALID");

    // Malformed digests too.
    for bad in ["sha256:abc", "md5:0000", "nonsense"] {
        let r = s
            .send_body(
                Method::POST,
                &format!("/v2/lib/a/blobs/uploads/?digest={bad}"),
                b"x",
            )
            .await;
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(code(r).await, "DIGEST_INVALID");
    }
    assert!(files_under(&s.root().join("blobs")).is_empty());
    assert!(files_under(&s.root().join("uploads")).is_empty());
    assert!(files_under(&s.root().join("repositories")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_sessions_belong_to_their_repository() {
    let s = TestServer::start().await;
    let start = s.send(Method::POST, "/v2/lib/a/blobs/uploads/").await;
    let uuid = start.headers()["docker-upload-uuid"]
        .to_str()
        .unwrap()
        .to_string();
    let d = Digest::of(b"x");
    let other = format!("/v2/lib/b/blobs/uploads/{uuid}");
    for (method, path) in [
        (reqwest::Method::GET, other.clone()),
        (reqwest::Method::PATCH, other.clone()),
        (reqwest::Method::PUT, format!("{other}?digest={d}")),
        (reqwest::Method::DELETE, other.clone()),
    ] {
        let r = s.send_body(method.clone(), &path, b"x").await;
        assert_eq!(r.status(), 404, "{method}");
        assert_eq!(code(r).await, "BLOB_UPLOAD_UNKNOWN");
    }
    // Nonsense ids never reach the disk.
    for id in [
        "nope",
        "..%2f..%2fetc",
        "00000000-0000-0000-0000-000000000000",
    ] {
        let r = s.get(&format!("/v2/lib/a/blobs/uploads/{id}")).await;
        assert_eq!(r.status(), 404, "{id}");
        assert_eq!(code(r).await, "BLOB_UPLOAD_UNKNOWN");
    }
    // Still usable in its own repository, and cancellable.
    let own = format!("/v2/lib/a/blobs/uploads/{uuid}");
    assert_eq!(s.get(&own).await.status(), 204);
    let del = s.send(Method::DELETE, &own).await;
    assert_eq!(del.status(), 204);
    assert_eq!(s.get(&own).await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_of_the_same_blob_are_safe() {
    let s = std::sync::Arc::new(TestServer::start().await);
    let bytes = std::sync::Arc::new(data(4, 2_000_000));
    let d = Digest::of(&bytes);
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (s, bytes, d) = (s.clone(), bytes.clone(), d.clone());
        tasks.push(tokio::spawn(async move {
            let repo = format!("lib/r{}", i % 3);
            let loc = s.start_upload(&repo).await;
            for (k, chunk) in bytes.chunks(300_000).enumerate() {
                let from = k * 300_000;
                let r = s.patch_chunk(&loc, from, chunk).await;
                assert_eq!(r.status(), 202);
            }
            let put = s.send(Method::PUT, &format!("{loc}?digest={d}")).await;
            assert_eq!(put.status(), 201);
            repo
        }));
    }
    for t in tasks {
        let repo = t.await.unwrap();
        let got = s
            .get(&format!("/v2/{repo}/blobs/{d}"))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(Digest::of(&got), d);
    }
    assert_eq!(
        files_under(&s.root().join("blobs")),
        vec![format!("sha256/{}", d.hex())]
    );
    assert!(files_under(&s.root().join("uploads")).is_empty());
    assert!(files_under(&s.root().join("tmp")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_vanishing_mid_upload_leaves_a_resumable_purgeable_session() {
    use tokio::io::AsyncWriteExt;
    let s = TestServer::start().await;
    let loc = s.start_upload("lib/a").await;
    {
        let mut sock = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let head = format!(
            "PATCH {loc} HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000000\r\n\r\n",
            s.addr
        );
        sock.write_all(head.as_bytes()).await.unwrap();
        sock.write_all(&data(5, 40_000)).await.unwrap();
        sock.flush().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        // Dropped here: the connection closes with 960000 bytes never sent.
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // The server is alive and the session holds what arrived.
    assert_eq!(s.get("/v2/").await.status(), 200);
    let status = s.get(&loc).await;
    assert_eq!(status.status(), 204);
    assert_eq!(status.headers()["range"], "0-39999");
    // The client can resume from there and finish.
    let rest = data(6, 10_000);
    let r = s.patch_chunk(&loc, 40_000, &rest).await;
    assert_eq!(r.status(), 202);
    let mut all = data(5, 40_000);
    all.extend_from_slice(&rest);
    let d = Digest::of(&all);
    let put = s.send(Method::PUT, &format!("{loc}?digest={d}")).await;
    assert_eq!(put.status(), 201, "{}", put.text().await.unwrap());

    // Another abandoned session is purgeable by cancelling it.
    let loc = s.start_upload("lib/a").await;
    let del = s.send(Method::DELETE, &loc).await;
    assert_eq!(del.status(), 204);
    assert!(files_under(&s.root().join("uploads")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_can_be_disabled() {
    let s = TestServer::start_with(|o| o.delete_enabled = false).await;
    let d = s.push_blob("a", b"x").await;
    let r = s.send(Method::DELETE, &format!("/v2/a/blobs/{d}")).await;
    assert_eq!(r.status(), 405);
    assert_eq!(code(r).await, "UNSUPPORTED");
}
