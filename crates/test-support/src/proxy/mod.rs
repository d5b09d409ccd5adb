//! A fault-injecting HTTP/1.1 reverse proxy on loopback.
//!
//! [`FaultProxy`] sits between the client under test and a real upstream (typically a CNCF distribution
//! registry on `127.0.0.1`) and forwards every request unchanged — the client's `Host` header included, so
//! `Location` URLs the registry builds point back at the proxy — while injecting the configured [`Fault`]s
//! into matching responses: cut bodies, error statuses, throttled bodies and corrupted bytes.
//!
//! Design: one thread per client connection. Each request head is read from the client, forwarded over a
//! fresh upstream connection with `Connection: close`, followed by the request body (Content-Length or
//! chunked, copied with its framing). The upstream response head is passed through untouched except for the
//! hop-by-hop `Connection`/`Keep-Alive` headers; the body is decoded from its framing (Content-Length,
//! chunked, or until close), run through the faults and re-emitted in the same framing, so a keep-alive
//! client keeps using the connection unless a fault closed it.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::Context;
use http::{
    Framing, Head, copy_request_body, invalid, is_hop_by_hop, parse_chunk_size, read_head,
    read_line, reason, request_framing,
};

mod http;

/// Largest request or response head accepted (request line / status line plus headers).
const MAX_HEAD: usize = 64 * 1024;
/// How long an idle client connection or a silent upstream is waited for.
const IO_TIMEOUT: Duration = Duration::from_secs(120);
/// Body bytes are moved in pieces of at most this size.
const PIECE: usize = 64 * 1024;
/// The body sent with an injected [`Fault::Status`] response.
const STATUS_BODY: &[u8] = br#"{"errors":[]}"#;

/// A fault injected into requests whose request target (path and query) contains `path_contains`.
#[derive(Clone, Debug)]
pub enum Fault {
    /// For requests whose path contains `path_contains`, the first `times` responses are cut (the TCP
    /// connection is closed with a FIN; std offers no stable `SO_LINGER` to force an RST) after forwarding
    /// `after_bytes` bytes of the response BODY. A response whose
    /// body is not longer than `after_bytes` is not cut and does not use up one of the `times`.
    CutBody {
        path_contains: String,
        after_bytes: u64,
        times: u32,
    },
    /// The first `times` matching requests get `status` (e.g. 503, 500, 429) with an empty JSON error body
    /// (`{"errors":[]}`) instead of being forwarded.
    Status {
        path_contains: String,
        status: u16,
        times: u32,
    },
    /// Matching responses' bodies are throttled to `bytes_per_sec`.
    Throttle {
        path_contains: String,
        bytes_per_sec: u64,
    },
    /// For matching requests, the first `times` responses have every body byte at offset `after_bytes` or
    /// later inverted (XOR 0xFF). The length and headers are unchanged. A response whose body is not longer
    /// than `after_bytes` is not corrupted and does not use up one of the `times`.
    Corrupt {
        path_contains: String,
        after_bytes: u64,
        times: u32,
    },
    /// The first `times` matching requests are forwarded without their query string — e.g. a
    /// cross-repository mount `POST …/blobs/uploads/?mount=…&from=…` reaches the registry as a
    /// plain upload request, as with a registry that does not mount.
    DropQuery { path_contains: String, times: u32 },
}

impl Fault {
    fn path_contains(&self) -> &str {
        match self {
            Fault::CutBody { path_contains, .. }
            | Fault::Status { path_contains, .. }
            | Fault::Throttle { path_contains, .. }
            | Fault::Corrupt { path_contains, .. }
            | Fault::DropQuery { path_contains, .. } => path_contains,
        }
    }

    fn times(&self) -> u32 {
        match self {
            Fault::CutBody { times, .. }
            | Fault::Status { times, .. }
            | Fault::Corrupt { times, .. }
            | Fault::DropQuery { times, .. } => *times,
            Fault::Throttle { .. } => u32::MAX,
        }
    }
}

/// One request the proxy handled, recorded when its response is finished (or failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLog {
    /// Request method, e.g. `GET`.
    pub method: String,
    /// Request target as sent by the client (path and query).
    pub path: String,
    /// The client's `Range` header, if any (e.g. `bytes=1000-`).
    pub range: Option<String>,
    /// Status returned to the client (the upstream's, or the injected one); 0 if none was sent.
    pub status: u16,
    /// Response body bytes written to the client. While a write is in progress the piece being written is
    /// already counted (entries are published before their bytes reach the client); the final value counts
    /// only successful writes.
    pub bytes_sent: u64,
    /// Faults applied to this request, e.g. `cut@1000`, `status 503`, `corrupt@10`, `throttle 2000000/s`.
    pub faults: Vec<String>,
}

struct Slot {
    fault: Fault,
    remaining: u32,
}

struct Shared {
    upstream: String,
    slots: Mutex<Vec<Slot>>,
    /// Entries by request id; an entry is published before its response bytes are written, so a client that
    /// has seen a response always finds it in [`FaultProxy::requests`].
    log: Mutex<Vec<(u64, RequestLog)>>,
    next_request: AtomicU64,
    /// Clones of the open client connections, shut down when the proxy is dropped.
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn slots_from(faults: Vec<Fault>) -> Vec<Slot> {
    faults
        .into_iter()
        .map(|fault| Slot {
            remaining: fault.times(),
            fault,
        })
        .collect()
}

impl Shared {
    /// Takes one use of the first matching `Status` fault with uses left.
    fn claim_status(&self, target: &str) -> Option<u16> {
        let mut slots = lock(&self.slots);
        for slot in slots.iter_mut() {
            if let Fault::Status { status, .. } = slot.fault
                && slot.remaining > 0
                && target.contains(slot.fault.path_contains())
            {
                slot.remaining -= 1;
                return Some(status);
            }
        }
        None
    }

    /// Takes one use of the first matching `DropQuery` fault with uses left.
    fn claim_drop_query(&self, target: &str) -> bool {
        let mut slots = lock(&self.slots);
        for slot in slots.iter_mut() {
            if matches!(slot.fault, Fault::DropQuery { .. })
                && slot.remaining > 0
                && target.contains(slot.fault.path_contains())
            {
                slot.remaining -= 1;
                return true;
            }
        }
        false
    }

    /// The body faults that may apply to a response for `target` (uses are only taken when they fire).
    fn body_plan(&self, target: &str) -> BodyPlan {
        let slots = lock(&self.slots);
        let mut plan = BodyPlan::default();
        for (i, slot) in slots.iter().enumerate() {
            if !target.contains(slot.fault.path_contains()) {
                continue;
            }
            match slot.fault {
                Fault::CutBody { after_bytes, .. } if slot.remaining > 0 && plan.cut.is_none() => {
                    plan.cut = Some((i, after_bytes));
                }
                Fault::Corrupt { after_bytes, .. }
                    if slot.remaining > 0 && plan.corrupt.is_none() =>
                {
                    plan.corrupt = Some((i, after_bytes));
                }
                Fault::Throttle { bytes_per_sec, .. } if plan.throttle.is_none() => {
                    plan.throttle = Some(bytes_per_sec.max(1));
                }
                _ => {}
            }
        }
        plan
    }

    /// Records the current state of request `id`'s log entry.
    fn publish(&self, id: u64, entry: &RequestLog) {
        let mut log = lock(&self.log);
        match log.iter_mut().rev().find(|(i, _)| *i == id) {
            Some((_, slot)) => slot.clone_from(entry),
            None => log.push((id, entry.clone())),
        }
    }

    /// Takes one use of fault `idx`; false if it has none left (another response used them up).
    fn claim(&self, idx: usize) -> bool {
        let mut slots = lock(&self.slots);
        match slots.get_mut(idx) {
            Some(slot) if slot.remaining > 0 => {
                slot.remaining -= 1;
                true
            }
            _ => false,
        }
    }
}

/// A fault-injecting reverse proxy listening on `127.0.0.1`. Dropping it stops the accept thread and shuts
/// down the client connections still open.
pub struct FaultProxy {
    /// `127.0.0.1:PORT` the proxy listens on.
    pub addr: String,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port forwarding to `upstream` (`host:port`), injecting `faults`.
    pub fn start(upstream: &str, faults: Vec<Fault>) -> anyhow::Result<FaultProxy> {
        let listener =
            TcpListener::bind("127.0.0.1:0").context("binding the fault proxy on 127.0.0.1")?;
        let addr = listener.local_addr()?.to_string();
        let shared = Arc::new(Shared {
            upstream: upstream.to_owned(),
            slots: Mutex::new(slots_from(faults)),
            log: Mutex::new(Vec::new()),
            next_request: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("fault-proxy-{addr}"))
            .spawn(move || accept_loop(listener, accept_shared))
            .context("spawning the fault proxy accept thread")?;
        Ok(FaultProxy {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request handled so far, in order of completion.
    pub fn requests(&self) -> Vec<RequestLog> {
        lock(&self.shared.log)
            .iter()
            .map(|(_, entry)| entry.clone())
            .collect()
    }

    /// Replaces the faults (with fresh `times` counters) for requests that start from now on.
    pub fn set_faults(&self, faults: Vec<Fault>) {
        *lock(&self.shared.slots) = slots_from(faults);
    }

    /// Forgets the requests logged so far.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the stop flag.
        let _ = TcpStream::connect(&self.addr);
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
        for conn in lock(&self.shared.conns).values() {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.conns).insert(id, clone);
        }
        let conn_shared = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("fault-proxy-conn-{id}"))
            .spawn(move || {
                serve_client(&conn_shared, stream);
                lock(&conn_shared.conns).remove(&id);
            });
        if spawned.is_err() {
            lock(&shared.conns).remove(&id);
        }
    }
}

/// Body faults selected for one response.
#[derive(Default)]
struct BodyPlan {
    /// (fault index, cut after this many body bytes)
    cut: Option<(usize, u64)>,
    /// (fault index, corrupt from this body offset on)
    corrupt: Option<(usize, u64)>,
    throttle: Option<u64>,
}

/// Writes response body bytes to the client, applying a [`BodyPlan`].
struct BodySink<'a> {
    shared: &'a Shared,
    /// The request's log entry; its `bytes_sent` is published before each write and corrected after.
    id: u64,
    log: &'a mut RequestLog,
    plan: BodyPlan,
    chunked: bool,
    sent: u64,
    corrupting: bool,
    throttle_start: Option<Instant>,
}

impl BodySink<'_> {
    /// Sends `data`; returns true if a cut fired and the connection must now be closed.
    fn send<W: Write>(&mut self, w: &mut W, data: &mut [u8]) -> io::Result<bool> {
        let mut data = data;
        let mut cut = false;
        if let Some((idx, after)) = self.plan.cut {
            let allowed = after.saturating_sub(self.sent);
            if data.len() as u64 > allowed {
                self.plan.cut = None;
                if self.shared.claim(idx) {
                    data = &mut data[..allowed as usize];
                    cut = true;
                    self.log.faults.push(format!("cut@{after}"));
                }
            }
        }
        if let Some((idx, after)) = self.plan.corrupt {
            let end = self.sent + data.len() as u64;
            if end > after {
                if !self.corrupting {
                    if self.shared.claim(idx) {
                        self.corrupting = true;
                        self.log.faults.push(format!("corrupt@{after}"));
                    } else {
                        self.plan.corrupt = None;
                    }
                }
                if self.corrupting {
                    let from = after.saturating_sub(self.sent) as usize;
                    for b in &mut data[from..] {
                        *b ^= 0xFF;
                    }
                }
            }
        }
        match self.plan.throttle {
            None => self.write_piece(w, data)?,
            Some(rate) => {
                let start = *self.throttle_start.get_or_insert_with(|| {
                    self.log.faults.push(format!("throttle {rate}/s"));
                    Instant::now()
                });
                let step = ((rate / 20).max(1) as usize).min(PIECE);
                for piece in data.chunks(step) {
                    if self.shared.stop.load(Ordering::SeqCst) {
                        return Err(io::Error::new(io::ErrorKind::Interrupted, "proxy stopped"));
                    }
                    self.write_piece(w, piece)?;
                    w.flush()?;
                    let due = Duration::from_secs_f64(self.sent as f64 / rate as f64);
                    let elapsed = start.elapsed();
                    if due > elapsed {
                        thread::sleep(due - elapsed);
                    }
                }
            }
        }
        if cut {
            w.flush()?;
        }
        Ok(cut)
    }

    fn write_piece<W: Write>(&mut self, w: &mut W, piece: &[u8]) -> io::Result<()> {
        if piece.is_empty() {
            // An empty chunk would terminate a chunked body.
            return Ok(());
        }
        self.log.bytes_sent = self.sent + piece.len() as u64;
        self.shared.publish(self.id, self.log);
        if self.chunked {
            write!(w, "{:x}\r\n", piece.len())?;
            w.write_all(piece)?;
            w.write_all(b"\r\n")?;
        } else {
            w.write_all(piece)?;
        }
        self.sent += piece.len() as u64;
        self.log.bytes_sent = self.sent;
        Ok(())
    }
}

fn serve_client(shared: &Shared, client: TcpStream) {
    let _ = client.set_nodelay(true);
    let _ = client.set_read_timeout(Some(IO_TIMEOUT));
    let _ = client.set_write_timeout(Some(IO_TIMEOUT));
    let Ok(write_half) = client.try_clone() else {
        return;
    };
    let mut writer = BufWriter::with_capacity(PIECE, write_half);
    let mut reader = BufReader::with_capacity(PIECE, client);
    while !shared.stop.load(Ordering::SeqCst) {
        let head = match read_head(&mut reader) {
            Ok(Some(head)) => head,
            Ok(None) => break,
            Err(e) => {
                if e.kind() == io::ErrorKind::InvalidData {
                    let _ = write_simple(&mut writer, 400, false, true);
                }
                break;
            }
        };
        let mut parts = head.start.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        let mut log = RequestLog {
            method,
            path: target,
            range: head.get("range").map(str::to_owned),
            status: 0,
            bytes_sent: 0,
            faults: Vec::new(),
        };
        let id = shared.next_request.fetch_add(1, Ordering::Relaxed);
        shared.publish(id, &log);
        let keep_alive = handle_request(shared, &mut reader, &mut writer, &head, id, &mut log);
        let _ = writer.flush();
        shared.publish(id, &log);
        if !matches!(keep_alive, Ok(true)) {
            break;
        }
    }
    let _ = writer.flush();
    let _ = writer.get_ref().shutdown(Shutdown::Both);
}

/// Writes a response with the [`STATUS_BODY`] JSON body (omitted for HEAD).
fn write_simple<W: Write>(w: &mut W, status: u16, is_head: bool, close: bool) -> io::Result<()> {
    write!(
        w,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n{}\r\n",
        reason(status),
        STATUS_BODY.len(),
        if close { "Connection: close\r\n" } else { "" },
    )?;
    if !is_head {
        w.write_all(STATUS_BODY)?;
    }
    w.flush()
}

/// Handles one request; Ok(true) if the client connection can serve another request.
fn handle_request<R: BufRead, W: Write>(
    shared: &Shared,
    client: &mut R,
    out: &mut W,
    head: &Head,
    id: u64,
    log: &mut RequestLog,
) -> io::Result<bool> {
    let version = head.start.split_whitespace().nth(2).unwrap_or("");
    if log.method.is_empty() || log.path.is_empty() || !version.starts_with("HTTP/1.") {
        log.status = 400;
        shared.publish(id, log);
        write_simple(out, 400, false, true)?;
        return Ok(false);
    }
    let is_head = log.method.eq_ignore_ascii_case("HEAD");
    let client_close = head.has_token("connection", "close")
        || (version == "HTTP/1.0" && !head.has_token("connection", "keep-alive"));
    let req_framing = match request_framing(head) {
        Ok(f) => f,
        Err(_) => {
            log.status = 400;
            shared.publish(id, log);
            write_simple(out, 400, is_head, true)?;
            return Ok(false);
        }
    };
    if req_framing != Framing::None && head.has_token("expect", "100-continue") {
        // The Expect header is not forwarded; answer it here so the client sends its body.
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        out.flush()?;
    }

    if let Some(status) = shared.claim_status(&log.path) {
        copy_request_body(client, &mut io::sink(), req_framing)?;
        log.faults.push(format!("status {status}"));
        log.status = status;
        if !is_head {
            log.bytes_sent = STATUS_BODY.len() as u64;
        }
        shared.publish(id, log);
        write_simple(out, status, is_head, client_close)?;
        return Ok(!client_close);
    }

    let upstream = match TcpStream::connect(&shared.upstream) {
        Ok(s) => s,
        Err(_) => {
            copy_request_body(client, &mut io::sink(), req_framing)?;
            log.status = 502;
            shared.publish(id, log);
            write_simple(out, 502, is_head, client_close)?;
            return Ok(!client_close);
        }
    };
    let _ = upstream.set_nodelay(true);
    upstream.set_read_timeout(Some(IO_TIMEOUT))?;
    upstream.set_write_timeout(Some(IO_TIMEOUT))?;

    // Forward the request: head with Connection: close forced, then the body with its framing.
    let mut start = head.start.clone();
    if log.path.contains('?') && shared.claim_drop_query(&log.path) {
        let bare = log.path.split('?').next().unwrap_or_default();
        start = format!("{} {bare} {version}", log.method);
        log.faults.push("drop query".to_string());
    }
    {
        let mut up = BufWriter::with_capacity(PIECE, &upstream);
        write!(up, "{start}\r\n")?;
        for (name, value) in &head.headers {
            if is_hop_by_hop(name) || name.eq_ignore_ascii_case("expect") {
                continue;
            }
            write!(up, "{name}: {value}\r\n")?;
        }
        up.write_all(b"Connection: close\r\n\r\n")?;
        copy_request_body(client, &mut up, req_framing)?;
        up.flush()?;
    }

    // Read the upstream response head, skipping interim 1xx responses.
    let mut up_reader = BufReader::with_capacity(PIECE, &upstream);
    let (resp, status) = loop {
        let resp = match read_head(&mut up_reader) {
            Ok(Some(resp)) => resp,
            Ok(None) | Err(_) => {
                log.status = 502;
                shared.publish(id, log);
                write_simple(out, 502, is_head, true)?;
                return Ok(false);
            }
        };
        let status = resp
            .start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        break (resp, status);
    };
    log.status = status;
    shared.publish(id, log);

    let framing = if is_head || status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::None
    } else if resp.has_transfer_encoding() {
        if resp.is_chunked() {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else {
        match resp.content_length() {
            Ok(Some(n)) => Framing::Length(n),
            Ok(None) => Framing::UntilClose,
            Err(_) => {
                log.status = 502;
                shared.publish(id, log);
                write_simple(out, 502, is_head, true)?;
                return Ok(false);
            }
        }
    };
    let keep_alive = !client_close && framing != Framing::UntilClose && status != 101;

    write!(out, "{}\r\n", resp.start)?;
    for (name, value) in &resp.headers {
        if !is_hop_by_hop(name) {
            write!(out, "{name}: {value}\r\n")?;
        }
    }
    if !keep_alive {
        out.write_all(b"Connection: close\r\n")?;
    }
    out.write_all(b"\r\n")?;

    let mut plan = if framing == Framing::None {
        BodyPlan::default()
    } else {
        shared.body_plan(&log.path)
    };
    if let (Framing::Length(n), Some((_, after))) = (framing, plan.cut)
        && n <= after
    {
        plan.cut = None;
    }
    let mut sink = BodySink {
        shared,
        id,
        log,
        plan,
        chunked: framing == Framing::Chunked,
        sent: 0,
        corrupting: false,
        throttle_start: None,
    };
    let result = stream_body(&mut up_reader, out, &mut sink, framing);
    // Only bytes whose write succeeded count (the published value included the piece being written).
    let sent = sink.sent;
    log.bytes_sent = sent;
    out.flush()?;
    match result? {
        BodyEnd::Complete => Ok(keep_alive),
        BodyEnd::Cut | BodyEnd::UpstreamTruncated => Ok(false),
    }
}

enum BodyEnd {
    Complete,
    Cut,
    UpstreamTruncated,
}

fn stream_body<R: BufRead, W: Write>(
    up: &mut R,
    out: &mut W,
    sink: &mut BodySink<'_>,
    framing: Framing,
) -> io::Result<BodyEnd> {
    let mut buf = vec![0u8; PIECE];
    match framing {
        Framing::None => Ok(BodyEnd::Complete),
        Framing::Length(total) => copy_exact(up, out, sink, &mut buf, total),
        Framing::UntilClose => loop {
            let n = up.read(&mut buf)?;
            if n == 0 {
                return Ok(BodyEnd::Complete);
            }
            if sink.send(out, &mut buf[..n])? {
                return Ok(BodyEnd::Cut);
            }
        },
        Framing::Chunked => loop {
            let mut budget = MAX_HEAD;
            let Some(line) = read_line(up, &mut budget)? else {
                return Ok(BodyEnd::UpstreamTruncated);
            };
            let size = parse_chunk_size(&line)?;
            if size == 0 {
                // Drop trailer fields; end the body.
                while let Some(trailer) = read_line(up, &mut budget)? {
                    if trailer.is_empty() {
                        break;
                    }
                }
                out.write_all(b"0\r\n\r\n")?;
                return Ok(BodyEnd::Complete);
            }
            match copy_exact(up, out, sink, &mut buf, size)? {
                BodyEnd::Complete => {}
                end => return Ok(end),
            }
            if read_line(up, &mut budget)?.as_deref() != Some("") {
                return Err(invalid("response chunk not followed by CRLF"));
            }
        },
    }
}

/// Sends exactly `len` bytes of `up` through `sink`, a piece of at most `buf.len()` at a time.
fn copy_exact<R: BufRead, W: Write>(
    up: &mut R,
    out: &mut W,
    sink: &mut BodySink<'_>,
    buf: &mut [u8],
    len: u64,
) -> io::Result<BodyEnd> {
    let mut left = len;
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let n = up.read(&mut buf[..want])?;
        if n == 0 {
            return Ok(BodyEnd::UpstreamTruncated);
        }
        left -= n as u64;
        if sink.send(out, &mut buf[..n])? {
            return Ok(BodyEnd::Cut);
        }
    }
    Ok(BodyEnd::Complete)
}

#[cfg(test)]
mod tests;
