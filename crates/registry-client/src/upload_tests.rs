//! The push side against real servers: Debian's `docker-registry` for the protocol, and the
//! scripted server of [`super`] for failures mid-upload and the token scopes.

use super::*;
use crate::upload::{MountOutcome, UploadMode, UploadOptions, UploadProgress, UploadSession};

fn data(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

async fn fetch(c: &RegistryClient, d: &str, repo: &str, digest: &Digest) -> Vec<u8> {
    collect(c.get_blob(d, repo, digest, 0).await.unwrap().stream).await
}

/// Uploads the file at `path` as `digest` in `mode`, with no progress sink.
async fn upload(
    c: &RegistryClient,
    d: &str,
    repo: &str,
    digest: &Digest,
    path: &Path,
    mode: UploadMode,
    session: Option<UploadSession>,
) -> Result<(), RegistryError> {
    let size = std::fs::metadata(path).unwrap().len();
    let opts = UploadOptions { mode };
    c.upload_blob_file(d, repo, digest, size, path, &opts, session, None)
        .await
}

/// Puts `manifest` as an OCI image manifest at `repo:reference`.
async fn put_oci(
    c: &RegistryClient,
    d: &str,
    repo: &str,
    reference: &str,
    manifest: &str,
) -> Result<Digest, RegistryError> {
    let bytes = Bytes::from(manifest.to_string());
    c.put_manifest(
        d,
        repo,
        reference,
        oci_model::media_type::OCI_MANIFEST,
        bytes,
    )
    .await
}

#[tokio::test]
async fn push_protocol_against_distribution() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let (_cfg, c) = isolated_client();
    let d = reg.addr.as_str();
    let files = tempfile::tempdir().unwrap();

    // A config-sized blob from memory: POST ?digest= is answered 202 by distribution 2.8, then PUT.
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = Digest::of(config);
    assert_eq!(c.head_blob(d, "push/a", &cd).await.unwrap(), None);
    c.upload_blob_bytes(d, "push/a", &cd, Bytes::from_static(config), None)
        .await
        .unwrap();
    assert_eq!(
        c.head_blob(d, "push/a", &cd).await.unwrap(),
        Some(config.len() as u64)
    );
    // Wrong digest for the bytes: refused before sending.
    let e = c
        .upload_blob_bytes(
            d,
            "push/a",
            &Digest::of(b"x"),
            Bytes::from_static(b"y"),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, RegistryErrorKind::Corrupt, "{e}");

    // Every mode, from files; the registry's copy is byte-identical.
    let sent = Arc::new(Mutex::new(Vec::new()));
    let log = sent.clone();
    let sink: upload::UploadProgressSink = Arc::new(move |p| log.lock().unwrap().push(p));
    let cases = [
        ("small-auto", 40_000usize, UploadMode::Auto),
        ("mono", 300_000, UploadMode::Monolithic),
        ("chunked", 250_000, UploadMode::Chunked(100_000)),
        ("chunked-exact", 200_000, UploadMode::Chunked(100_000)),
        ("auto-big", 2_000_000, UploadMode::Auto),
        ("empty", 0, UploadMode::Monolithic),
    ];
    for (i, (name, size, mode)) in cases.iter().enumerate() {
        let bytes = data(*size, i as u32);
        let digest = Digest::of(&bytes);
        let path = write_temp(files.path(), name, &bytes);
        sent.lock().unwrap().clear();
        c.upload_blob_file(
            d,
            "push/a",
            &digest,
            *size as u64,
            &path,
            &UploadOptions { mode: *mode },
            None,
            Some(sink.clone()),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            c.head_blob(d, "push/a", &digest).await.unwrap(),
            Some(*size as u64),
            "{name}"
        );
        assert_eq!(fetch(&c, d, "push/a", &digest).await, bytes, "{name}");
        if *size > 0 {
            assert_eq!(
                sent.lock().unwrap().last(),
                Some(&UploadProgress::Sent(*size as u64)),
                "{name}"
            );
        }
    }

    // The registry checks the digest: DIGEST_INVALID, permanent, nothing stored.
    let bytes = data(150_000, 99);
    let path = write_temp(files.path(), "bad", &bytes);
    let wrong = Digest::of(b"not these bytes");
    for mode in [UploadMode::Monolithic, UploadMode::Chunked(60_000)] {
        let e = upload(&c, d, "push/a", &wrong, &path, mode, None)
            .await
            .unwrap_err();
        assert_eq!(
            (e.status, e.code_str()),
            (Some(400), Some("DIGEST_INVALID")),
            "{mode:?}: {e}"
        );
        assert!(!e.is_temporary());
    }
    assert_eq!(c.head_blob(d, "push/a", &wrong).await.unwrap(), None);

    // Cross-repository mount: 201 for a blob of push/a; 202 (a session) for an unknown one,
    // which then carries the upload.
    let layer = data(120_000, 7);
    let ld = Digest::of(&layer);
    let lpath = write_temp(files.path(), "layer", &layer);
    upload(&c, d, "push/a", &ld, &lpath, UploadMode::Auto, None)
        .await
        .unwrap();
    assert_eq!(
        c.mount_blob(d, "push/b", &ld, "push/a").await.unwrap(),
        MountOutcome::Mounted
    );
    assert_eq!(
        c.head_blob(d, "push/b", &ld).await.unwrap(),
        Some(layer.len() as u64)
    );
    let other = data(90_000, 8);
    let od = Digest::of(&other);
    let opath = write_temp(files.path(), "other", &other);
    let MountOutcome::NotMounted(session) = c.mount_blob(d, "push/b", &od, "push/a").await.unwrap()
    else {
        panic!("an unknown blob cannot be mounted");
    };
    assert_eq!(session.offset, 0);
    upload(
        &c,
        d,
        "push/b",
        &od,
        &opath,
        UploadMode::Auto,
        Some(session),
    )
    .await
    .unwrap();
    assert_eq!(fetch(&c, d, "push/b", &od).await, other);
    // An explicit session, then cancelled.
    let s = c.start_upload(d, "push/b").await.unwrap();
    assert_eq!(c.upload_status(d, "push/b", &s).await.unwrap().offset, 0);
    c.cancel_upload(d, "push/b", &s).await.unwrap();
    assert!(c.upload_status(d, "push/b", &s).await.is_err());

    // Manifests: by tag and by digest; the registry serves the exact bytes.
    c.upload_blob_bytes(d, "push/b", &cd, Bytes::from_static(config), None)
        .await
        .unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{mt}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{cs}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{ld}","size":{ls}}}]}}"#,
        mt = oci_model::media_type::OCI_MANIFEST,
        cs = config.len(),
        ls = layer.len()
    );
    let md = put_oci(&c, d, "push/b", "v1", &manifest).await.unwrap();
    assert_eq!(md, Digest::of(manifest.as_bytes()));
    let got = c.get_manifest(d, "push/b", "v1").await.unwrap();
    assert_eq!(&got.bytes[..], manifest.as_bytes());
    assert_eq!(got.digest, md);
    let md2 = put_oci(&c, d, "push/b", &md.to_string(), &manifest)
        .await
        .unwrap();
    assert_eq!(md2, md);
    // Pushed by a digest it does not have: refused before sending.
    let e = put_oci(&c, d, "push/b", &cd.to_string(), &manifest)
        .await
        .unwrap_err();
    assert_eq!(e.kind, RegistryErrorKind::Corrupt);
    // A manifest whose blobs are not in the repository is refused by the registry.
    let e = put_oci(&c, d, "push/c", "v1", &manifest).await.unwrap_err();
    assert_eq!(e.code_str(), Some("MANIFEST_BLOB_UNKNOWN"), "{e}");
    assert!(!e.is_temporary());
}

#[tokio::test]
async fn push_needs_credentials_on_a_basic_registry() {
    let Some(line) = htpasswd_line("alice", "wonder-land") else {
        eprintln!("skipping: htpasswd (apache2-utils) is not installed");
        return;
    };
    let Some(reg) = Registry::start(Some(&line)) else {
        return;
    };
    let d = reg.addr.as_str();
    let empty = tempfile::tempdir().unwrap();
    let anon = RegistryClient::new(isolated_opts(empty.path())).unwrap();
    let blob = Bytes::from_static(b"hello");
    let bd = Digest::of(&blob);
    let e = anon
        .upload_blob_bytes(d, "priv/x", &bd, blob.clone(), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, RegistryErrorKind::NoCredentials, "{e}");
    assert_eq!(e.status, Some(401));

    let cfg = tempfile::tempdir().unwrap();
    store_credentials(Some(cfg.path()), d, "alice", "wonder-land").unwrap();
    let c = RegistryClient::new(isolated_opts(cfg.path())).unwrap();
    c.upload_blob_bytes(d, "priv/x", &bd, blob, None)
        .await
        .unwrap();
    assert_eq!(c.head_blob(d, "priv/x", &bd).await.unwrap(), Some(5));
    assert_eq!(
        c.mount_blob(d, "priv/y", &bd, "priv/x").await.unwrap(),
        MountOutcome::Mounted
    );
}

/// The request line of each logged request.
fn request_lines(srv: &Scripted) -> Vec<String> {
    srv.requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.lines().next().unwrap_or_default().to_string())
        .collect()
}

fn header_of(req: &str, name: &str) -> Option<String> {
    let name = format!("{}:", name.to_ascii_lowercase());
    req.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .starts_with(&name)
            .then(|| l[name.len()..].trim().to_string())
    })
}

/// Asserts the scripted server got the request whose line starts with `prefix`.
#[track_caller]
fn expect_request(first: &str, prefix: &str) {
    assert!(first.starts_with(prefix), "{first}");
}

/// The scripted registry's answer to an upload step: 202, the next `Location`, `Range`.
fn session(location: &str, range: &str) -> Vec<u8> {
    response(
        "202 Accepted",
        &[("Location", location), ("Range", range)],
        b"",
    )
}

#[tokio::test]
async fn chunked_upload_resumes_where_the_registry_stands() {
    let blob = b"0123456789abcdefghijKLMNO".to_vec(); // 25 bytes, chunks of 10
    let digest = Digest::of(&blob);
    let ds = digest.to_string();
    let dsq = ds.replace(':', "%3A");
    let srv = Scripted::start(Box::new(move |n, req| {
        let first = req.lines().next().unwrap_or_default();
        match n {
            0 => {
                expect_request(first, "POST /v2/r/blobs/uploads/ ");
                session("/v2/r/blobs/uploads/s1?_state=a", "0-0")
            }
            1 => {
                expect_request(first, "PATCH /v2/r/blobs/uploads/s1?_state=a ");
                assert_eq!(header_of(req, "content-range").as_deref(), Some("0-9"));
                assert_eq!(header_of(req, "content-length").as_deref(), Some("10"));
                assert!(req.ends_with("0123456789"), "{req}");
                session("/v2/r/blobs/uploads/s1?_state=b", "0-9")
            }
            // The second chunk fails…
            2 => {
                expect_request(first, "PATCH /v2/r/blobs/uploads/s1?_state=b ");
                response("503 Service Unavailable", &[], b"")
            }
            // … the client asks where the session stands and goes on from byte 10.
            3 => {
                expect_request(first, "GET /v2/r/blobs/uploads/s1?_state=b ");
                response(
                    "204 No Content",
                    &[
                        ("Location", "/v2/r/blobs/uploads/s1?_state=c"),
                        ("Range", "0-9"),
                    ],
                    b"",
                )
            }
            4 => {
                expect_request(first, "PATCH /v2/r/blobs/uploads/s1?_state=c ");
                assert_eq!(header_of(req, "content-range").as_deref(), Some("10-19"));
                assert!(req.ends_with("abcdefghij"), "{req}");
                session("/v2/r/blobs/uploads/s1?_state=d", "0-19")
            }
            5 => {
                assert_eq!(header_of(req, "content-range").as_deref(), Some("20-24"));
                assert!(req.ends_with("KLMNO"), "{req}");
                session("/v2/r/blobs/uploads/s1?_state=e", "0-24")
            }
            6 => {
                expect_request(first, "PUT /v2/r/blobs/uploads/s1?_state=e&digest=");
                assert_eq!(header_of(req, "content-length").as_deref(), Some("0"));
                response("201 Created", &[("Docker-Content-Digest", &ds)], b"")
            }
            _ => response("500 Internal Server Error", &[], b""),
        }
    }));
    let files = tempfile::tempdir().unwrap();
    let path = write_temp(files.path(), "blob", &blob);
    let (_cfg, c) = isolated_client();
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = events.clone();
    c.upload_blob_file(
        &srv.addr,
        "r",
        &digest,
        blob.len() as u64,
        &path,
        &UploadOptions {
            mode: UploadMode::Chunked(10),
        },
        None,
        Some(Arc::new(move |p| log.lock().unwrap().push(p))),
    )
    .await
    .unwrap();
    assert_eq!(srv.count(), 7, "{:#?}", request_lines(&srv));
    assert!(request_lines(&srv)[6].contains(&format!("digest={dsq}")));
    let events = events.lock().unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, UploadProgress::Retrying { attempt: 1, .. })),
        "{events:?}"
    );
    assert_eq!(events.last(), Some(&UploadProgress::Sent(25)));
}

#[tokio::test]
async fn monolithic_upload_starts_over_after_a_failure() {
    let blob = data(100_000, 3);
    let digest = Digest::of(&blob);
    let srv = Scripted::start(Box::new(move |n, req| {
        let first = req.lines().next().unwrap_or_default();
        match n {
            0 | 2 => {
                expect_request(first, "POST /v2/r/blobs/uploads/ ");
                let loc = format!("/v2/r/blobs/uploads/s{n}");
                response("202 Accepted", &[("Location", &loc)], b"")
            }
            1 => {
                expect_request(first, "PUT /v2/r/blobs/uploads/s0?digest=");
                response("500 Internal Server Error", &[], b"")
            }
            3 => {
                expect_request(first, "PUT /v2/r/blobs/uploads/s2?digest=");
                assert_eq!(header_of(req, "content-length").as_deref(), Some("100000"));
                response("201 Created", &[], b"")
            }
            _ => response("500 Internal Server Error", &[], b""),
        }
    }));
    let files = tempfile::tempdir().unwrap();
    let path = write_temp(files.path(), "blob", &blob);
    let (_cfg, c) = isolated_client();
    upload(
        &c,
        &srv.addr,
        "r",
        &digest,
        &path,
        UploadMode::Monolithic,
        None,
    )
    .await
    .unwrap();
    assert_eq!(srv.count(), 4, "{:#?}", request_lines(&srv));
}

#[tokio::test]
async fn a_registry_reporting_another_digest_is_corruption() {
    let blob = b"some bytes".to_vec();
    let digest = Digest::of(&blob);
    let other = Digest::of(b"other").to_string();
    let srv = Scripted::start(Box::new(move |n, _| match n {
        0 => response(
            "202 Accepted",
            &[("Location", "/v2/r/blobs/uploads/s")],
            b"",
        ),
        _ => response("201 Created", &[("Docker-Content-Digest", &other)], b""),
    }));
    let (_cfg, c) = isolated_client();
    let e = c
        .upload_blob_bytes(&srv.addr, "r", &digest, Bytes::from(blob), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, RegistryErrorKind::Corrupt, "{e}");
}

#[tokio::test]
async fn mount_asks_for_push_and_source_pull_scopes() {
    let addr = Arc::new(Mutex::new(String::new()));
    let a = addr.clone();
    let srv = Scripted::start(Box::new(move |_, req| {
        let first = req.lines().next().unwrap_or_default();
        if first.starts_with("GET /token?") {
            assert!(
                first.contains("scope=repository%3Adst%3Apull%2Cpush"),
                "{first}"
            );
            assert!(first.contains("scope=repository%3Asrc%3Apull"), "{first}");
            return response(
                "200 OK",
                &[("Content-Type", "application/json")],
                br#"{"token":"mount-token"}"#,
            );
        }
        if req
            .to_ascii_lowercase()
            .contains("authorization: bearer mount-token")
        {
            expect_request(first, "POST /v2/dst/blobs/uploads/?mount=sha256%3A");
            assert!(first.contains("&from=src "), "{first}");
            return response("201 Created", &[("Location", "/v2/dst/blobs/x")], b"");
        }
        let ch = format!(
            r#"Bearer realm="http://{}/token",service="svc",scope="repository:dst:pull,push""#,
            a.lock().unwrap()
        );
        response("401 Unauthorized", &[("WWW-Authenticate", &ch)], b"")
    }));
    *addr.lock().unwrap() = srv.addr.clone();
    let (_cfg, c) = isolated_client();
    assert_eq!(
        c.mount_blob(&srv.addr, "dst", &Digest::of(b"l"), "src")
            .await
            .unwrap(),
        MountOutcome::Mounted
    );
}
