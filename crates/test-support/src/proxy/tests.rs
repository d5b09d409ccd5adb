use super::*;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A CNCF distribution registry on a free loopback port with temporary storage.
struct Registry {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  \
                 maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: {addr}\n",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let mut reg = Registry { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ok = Command::new("curl")
                .args([
                    "-sf",
                    "-o",
                    "/dev/null",
                    &format!("http://{}/v2/", reg.addr),
                ])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                break;
            }
            if let Ok(Some(status)) = reg.child.try_wait() {
                panic!(
                    "docker-registry exited ({status}): {}",
                    std::fs::read_to_string(reg.dir.path().join("registry.log"))
                        .unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "registry did not answer on {}",
                reg.addr
            );
            thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn test_blob(len: usize) -> Vec<u8> {
    crate::samples::noise(0, len)
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .arg("-s")
        .arg("--http1.1")
        .args(["--max-time", "60"])
        .args(args)
        .output()
        .expect("running curl")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Header `name` from a `curl -D -` dump (last response).
fn header(dump: &str, name: &str) -> Option<String> {
    let last = dump.rsplit("HTTP/1.1 ").next().unwrap_or(dump);
    last.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

fn with_query(location: &str, param: &str) -> String {
    if location.contains('?') {
        format!("{location}&{param}")
    } else {
        format!("{location}?{param}")
    }
}

/// `POST <base>/v2/t/blobs/uploads/`; returns the response head.
fn start_upload(base: &str) -> String {
    let post = curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-X",
        "POST",
        &format!("{base}/v2/t/blobs/uploads/"),
    ]);
    stdout(&post)
}

/// Uploads `data` monolithically to repository `t` directly on the registry; returns the digest.
fn upload(reg: &Registry, data: &[u8]) -> String {
    let digest = format!("sha256:{}", sha256_hex(data));
    let path = reg.file("upload.bin");
    std::fs::write(&path, data).unwrap();
    let location = header(&start_upload(&format!("http://{}", reg.addr)), "location")
        .expect("upload Location");
    let url = with_query(&location, &format!("digest={digest}"));
    let put = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &format!("@{}", path.display()),
        &url,
    ]);
    assert_eq!(stdout(&put), "201", "blob upload failed");
    digest
}

/// GETs `url` into `file`; returns (curl exit success, HTTP status, bytes).
fn get(url: &str, file: &Path, extra: &[&str]) -> (bool, String, Vec<u8>) {
    let file_arg = file.display().to_string();
    let mut args = vec!["-o", &file_arg, "-w", "%{http_code}"];
    args.extend_from_slice(extra);
    args.push(url);
    let out = curl(&args);
    let bytes = std::fs::read(file).unwrap_or_default();
    (out.status.success(), stdout(&out), bytes)
}

struct Setup {
    reg: Registry,
    blob: Vec<u8>,
    digest: String,
}

fn setup() -> Setup {
    let reg = Registry::start();
    let blob = test_blob(1 << 20);
    let digest = upload(&reg, &blob);
    Setup { reg, blob, digest }
}

fn blob_url(proxy: &FaultProxy, digest: &str) -> String {
    format!("{}/v2/t/blobs/{digest}", proxy.url())
}

#[test]
fn proxy_plain_get_head_and_keep_alive() {
    let s = setup();
    let proxy = FaultProxy::start(&s.reg.addr, vec![]).unwrap();
    let url = blob_url(&proxy, &s.digest);
    let (a, b) = (s.reg.file("a"), s.reg.file("b"));
    // HEAD, then two GETs, all on one kept-alive connection.
    let out = curl(&[
        "-I",
        "-w",
        "%{http_code} %{num_connects}\n",
        &url,
        "--next",
        "-s",
        "--http1.1",
        "-o",
        &a.display().to_string(),
        "-w",
        "%{http_code} %{num_connects}\n",
        &url,
        "--next",
        "-s",
        "--http1.1",
        "-o",
        &b.display().to_string(),
        "-w",
        "%{http_code} %{num_connects}\n",
        &url,
    ]);
    assert!(out.status.success(), "curl failed: {out:?}");
    let text = stdout(&out);
    assert_eq!(
        header(&text, "docker-content-digest").as_deref(),
        Some(s.digest.as_str())
    );
    assert_eq!(header(&text, "content-length").as_deref(), Some("1048576"));
    let codes: Vec<&str> = text.lines().filter(|l| l.starts_with("200 ")).collect();
    assert_eq!(
        codes,
        ["200 1", "200 0", "200 0"],
        "status/new-connection lines: {text}"
    );
    assert!(std::fs::read(&a).unwrap() == s.blob);
    assert!(std::fs::read(&b).unwrap() == s.blob);
    let log = proxy.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(
        (log[0].method.as_str(), log[0].status, log[0].bytes_sent),
        ("HEAD", 200, 0)
    );
    for entry in &log[1..] {
        assert_eq!(
            (entry.method.as_str(), entry.status, entry.bytes_sent),
            ("GET", 200, 1 << 20)
        );
        assert!(entry.faults.is_empty() && entry.range.is_none());
    }
}

#[test]
fn proxy_cut_body_then_range_resume() {
    let s = setup();
    let n: u64 = 300_000;
    let proxy = FaultProxy::start(
        &s.reg.addr,
        vec![Fault::CutBody {
            path_contains: s.digest.clone(),
            after_bytes: n,
            times: 1,
        }],
    )
    .unwrap();
    let url = blob_url(&proxy, &s.digest);
    let (ok, code, first) = get(&url, &s.reg.file("first"), &[]);
    assert!(!ok, "curl must see the truncated body as an error");
    assert_eq!(code, "200");
    assert_eq!(first.len() as u64, n);
    let (ok, code, rest) = get(&url, &s.reg.file("rest"), &["-r", &format!("{n}-")]);
    assert!(ok);
    assert_eq!(code, "206");
    let mut joined = first;
    joined.extend_from_slice(&rest);
    assert!(
        joined == s.blob,
        "first part + ranged rest must equal the blob"
    );
    // The fault is used up: a further full GET is whole.
    let (ok, _, again) = get(&url, &s.reg.file("again"), &[]);
    assert!(ok && again == s.blob);
    let log = proxy.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].bytes_sent, n);
    assert_eq!(log[0].faults, vec![format!("cut@{n}")]);
    assert_eq!(
        log[1].range.as_deref(),
        Some(format!("bytes={n}-").as_str())
    );
    assert_eq!((log[1].status, log[1].bytes_sent), (206, (1 << 20) - n));
    assert!(log[2].faults.is_empty());
}

#[test]
fn proxy_status_fault_twice_then_success() {
    let s = setup();
    let proxy = FaultProxy::start(
        &s.reg.addr,
        vec![Fault::Status {
            path_contains: "/blobs/".into(),
            status: 503,
            times: 2,
        }],
    )
    .unwrap();
    let url = blob_url(&proxy, &s.digest);
    let file = s.reg.file("out");
    let (_, code, body) = get(&url, &file, &[]);
    assert_eq!(code, "503");
    assert_eq!(body, STATUS_BODY);
    let (_, code, _) = get(&url, &file, &[]);
    assert_eq!(code, "503");
    let (ok, code, body) = get(&url, &file, &[]);
    assert!(ok);
    assert_eq!(code, "200");
    assert!(body == s.blob);
    // Non-matching paths were never faulted.
    let (_, code, _) = get(&format!("{}/v2/", proxy.url()), &file, &[]);
    assert_eq!(code, "200");
    let statuses: Vec<u16> = proxy.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 200, 200]);
}

#[test]
fn proxy_corrupt_flips_bytes_once() {
    let s = setup();
    let after = 1000usize;
    let proxy = FaultProxy::start(
        &s.reg.addr,
        vec![Fault::Corrupt {
            path_contains: s.digest.clone(),
            after_bytes: after as u64,
            times: 1,
        }],
    )
    .unwrap();
    let url = blob_url(&proxy, &s.digest);
    let (ok, code, bad) = get(&url, &s.reg.file("bad"), &[]);
    assert!(ok);
    assert_eq!(code, "200");
    assert_eq!(bad.len(), s.blob.len());
    assert_eq!(bad[..after], s.blob[..after]);
    assert!(
        bad[after..]
            .iter()
            .zip(&s.blob[after..])
            .all(|(b, o)| *b == o ^ 0xFF)
    );
    assert_ne!(sha256_hex(&bad), sha256_hex(&s.blob));
    let (ok, _, good) = get(&url, &s.reg.file("good"), &[]);
    assert!(ok && good == s.blob);
    let log = proxy.requests();
    assert_eq!(log[0].faults, vec![format!("corrupt@{after}")]);
    assert!(log[1].faults.is_empty());
}

#[test]
fn proxy_throttle_slows_body() {
    let s = setup();
    let rate = 2_000_000u64;
    let proxy = FaultProxy::start(
        &s.reg.addr,
        vec![Fault::Throttle {
            path_contains: "/blobs/".into(),
            bytes_per_sec: rate,
        }],
    )
    .unwrap();
    let url = blob_url(&proxy, &s.digest);
    let started = Instant::now();
    let (ok, _, body) = get(&url, &s.reg.file("slow"), &[]);
    let elapsed = started.elapsed();
    assert!(ok && body == s.blob);
    let expected = Duration::from_secs_f64((1u64 << 20) as f64 / rate as f64);
    assert!(
        elapsed >= expected.mul_f64(0.9),
        "took {elapsed:?}, expected at least ~{expected:?}"
    );
    assert_eq!(
        proxy.requests()[0].faults,
        vec![format!("throttle {rate}/s")]
    );
}

#[test]
fn proxy_forwards_upload_bodies_and_keeps_host() {
    let reg = Registry::start();
    let proxy = FaultProxy::start(&reg.addr, vec![]).unwrap();
    let blob = test_blob(300_000);
    let digest = format!("sha256:{}", sha256_hex(&blob));
    let src = reg.file("src.bin");
    std::fs::write(&src, &blob).unwrap();
    let dump = start_upload(&proxy.url());
    assert_eq!(header(&dump, "content-length").as_deref(), Some("0"));
    let location = header(&dump, "location").expect("Location");
    // The registry built the Location from the client's Host header: it points at the proxy.
    assert!(
        location.starts_with(&proxy.url()),
        "Location {location} must name the proxy"
    );
    // Stream the body with chunked transfer encoding and Expect: 100-continue.
    let patch = curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-X",
        "PATCH",
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Expect: 100-continue",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &format!("@{}", src.display()),
        &location,
    ]);
    let dump = stdout(&patch);
    assert!(dump.contains("HTTP/1.1 202"), "PATCH response: {dump}");
    assert_eq!(header(&dump, "range").as_deref(), Some("0-299999"));
    let location = header(&dump, "location").expect("Location after PATCH");
    let put = curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-X",
        "PUT",
        "-H",
        "Content-Length: 0",
        &with_query(&location, &format!("digest={digest}")),
    ]);
    let dump = stdout(&put);
    assert!(dump.contains("HTTP/1.1 201"), "PUT response: {dump}");
    assert_eq!(
        header(&dump, "docker-content-digest").as_deref(),
        Some(digest.as_str())
    );
    let (ok, code, body) = get(&blob_url(&proxy, &digest), &reg.file("back"), &[]);
    assert!(ok && code == "200" && body == blob);
    let methods: Vec<(String, u16)> = proxy
        .requests()
        .into_iter()
        .map(|r| (r.method, r.status))
        .collect();
    let expected: Vec<(String, u16)> = [("POST", 202), ("PATCH", 202), ("PUT", 201), ("GET", 200)]
        .map(|(m, s)| (m.to_owned(), s))
        .into();
    assert_eq!(methods, expected);
}

/// Chunked responses are re-framed correctly (and can be cut); the registry never sends them for blobs,
/// so a minimal upstream on loopback stands in for this framing-only check.
#[test]
fn proxy_chunked_response_framing() {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let up_addr = upstream.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for conn in upstream.incoming() {
            let Ok(conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let Ok(Some(_)) = read_head(&mut r) else {
                continue;
            };
            let mut w = conn;
            let _ = w.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
                  5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
            );
        }
    });
    let proxy = FaultProxy::start(
        &up_addr,
        vec![Fault::CutBody {
            path_contains: "/cut".into(),
            after_bytes: 7,
            times: 1,
        }],
    )
    .unwrap();
    let out = curl(&[
        "-w",
        "|%{http_code} %{num_connects}\n",
        &format!("{}/x", proxy.url()),
        "--next",
        "-s",
        "--http1.1",
        "-w",
        "|%{http_code} %{num_connects}\n",
        &format!("{}/y", proxy.url()),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "hello world|200 1\nhello world|200 0\n");
    let cut = curl(&[&format!("{}/cut", proxy.url())]);
    assert!(!cut.status.success());
    assert_eq!(stdout(&cut), "hello w");
    let log = proxy.requests();
    assert_eq!(
        log.iter().map(|r| r.bytes_sent).collect::<Vec<_>>(),
        [11, 11, 7]
    );
}

#[test]
fn proxy_unreachable_upstream_gives_502_and_drop_stops_listening() {
    // A port that was free a moment ago: nothing listens there.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let proxy = FaultProxy::start(&dead, vec![]).unwrap();
    let out = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{}/v2/", proxy.url()),
    ]);
    assert_eq!(stdout(&out), "502");
    assert_eq!(proxy.requests()[0].status, 502);
    let addr = proxy.addr.clone();
    drop(proxy);
    // Tests run in parallel and bind ephemeral ports, so another test's server may already
    // have taken the port: then it must at least not be this proxy (which answers 502).
    if let Ok(mut stream) = TcpStream::connect(&addr) {
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let _ = stream.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
        let mut head = [0u8; 12];
        let n = stream.read(&mut head).unwrap_or(0);
        assert_ne!(
            &head[..n],
            b"HTTP/1.1 502",
            "the listener must be closed after drop"
        );
    }
}
