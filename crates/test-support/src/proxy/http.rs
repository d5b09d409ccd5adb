//! The HTTP/1.1 the proxy speaks: message heads, body framing (Content-Length, chunked, until
//! close) and request-body copying with the framing unchanged.

use super::MAX_HEAD;
use std::io::{self, BufRead, Read, Write};

/// A parsed message head: the first line and the header fields in order.
pub(super) struct Head {
    pub(super) start: String,
    pub(super) headers: Vec<(String, String)>,
}

impl Head {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether any `name` header lists `token` (comma-separated, case-insensitive).
    pub(super) fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the last transfer coding is `chunked`.
    pub(super) fn is_chunked(&self) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .rfind(|t| !t.is_empty())
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    }

    pub(super) fn has_transfer_encoding(&self) -> bool {
        self.get("transfer-encoding").is_some()
    }

    pub(super) fn content_length(&self) -> io::Result<Option<u64>> {
        match self.get("content-length") {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| invalid(format!("bad Content-Length {v:?}"))),
        }
    }
}

pub(super) fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one line ending in LF, without its CRLF / LF; `None` at end of stream before any byte.
pub(super) fn read_line<R: BufRead>(r: &mut R, budget: &mut usize) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(*budget as u64 + 1)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if n > *budget {
        return Err(invalid("HTTP head too large"));
    }
    *budget -= n;
    if buf.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed mid-line",
        ));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// Reads a message head; `None` if the stream ended cleanly before it started.
pub(super) fn read_head<R: BufRead>(r: &mut R) -> io::Result<Option<Head>> {
    let mut budget = MAX_HEAD;
    // Tolerate empty lines before a request line (RFC 9112 §2.2).
    let start = loop {
        match read_line(r, &mut budget)? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let line = read_line(r, &mut budget)?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in head")
        })?;
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding: append to the previous field value.
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
                continue;
            }
            return Err(invalid("header continuation without a header"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("malformed header line {line:?}")))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(Some(Head { start, headers }))
}

pub(super) fn is_hop_by_hop(name: &str) -> bool {
    ["connection", "keep-alive", "proxy-connection"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

/// The framing of a message body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

pub(super) fn request_framing(head: &Head) -> io::Result<Framing> {
    if head.has_transfer_encoding() {
        if head.is_chunked() {
            Ok(Framing::Chunked)
        } else {
            Err(invalid("request Transfer-Encoding without chunked"))
        }
    } else {
        Ok(match head.content_length()? {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        })
    }
}

/// Copies a request body from the client to `out` with its framing unchanged (`out` = `io::sink()` drains it).
pub(super) fn copy_request_body<R: BufRead, W: Write>(
    client: &mut R,
    out: &mut W,
    framing: Framing,
) -> io::Result<()> {
    match framing {
        Framing::None => Ok(()),
        Framing::Length(n) => {
            let copied = io::copy(&mut client.by_ref().take(n), out)?;
            if copied < n {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "request body truncated",
                ));
            }
            Ok(())
        }
        Framing::Chunked => loop {
            let mut budget = MAX_HEAD;
            let line = read_line(client, &mut budget)?.ok_or_else(|| {
                io::Error::new(io::ErrorKind::UnexpectedEof, "request chunk size missing")
            })?;
            let size = parse_chunk_size(&line)?;
            write!(out, "{line}\r\n")?;
            if size == 0 {
                // Trailer fields up to the empty line.
                loop {
                    let trailer = read_line(client, &mut budget)?.ok_or_else(|| {
                        io::Error::new(io::ErrorKind::UnexpectedEof, "request trailers truncated")
                    })?;
                    write!(out, "{trailer}\r\n")?;
                    if trailer.is_empty() {
                        return Ok(());
                    }
                }
            }
            let copied = io::copy(&mut client.by_ref().take(size), out)?;
            if copied < size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "request chunk truncated",
                ));
            }
            let end = read_line(client, &mut budget)?;
            if end.as_deref() != Some("") {
                return Err(invalid("request chunk not followed by CRLF"));
            }
            out.write_all(b"\r\n")?;
        },
        Framing::UntilClose => Err(invalid("request body cannot be delimited by close")),
    }
}

pub(super) fn parse_chunk_size(line: &str) -> io::Result<u64> {
    let hex = line.split(';').next().unwrap_or("").trim();
    u64::from_str_radix(hex, 16).map_err(|_| invalid(format!("bad chunk size line {line:?}")))
}
