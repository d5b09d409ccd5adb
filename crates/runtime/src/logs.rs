//! `container.log`: a detached container's output, one entry per line in the CRI logging
//! format: `<RFC 3339 time> <stdout|stderr> <F|P> <text>` (`P` marks a partial line, written
//! when the process wrote no newline yet).

use oci_model::{Error, ErrorKind, Result};
use std::path::Path;

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub time: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// Whether the text ended with a newline.
    pub full: bool,
    pub text: Vec<u8>,
}

/// The log line for one chunk of output (`text` without its newline).
pub fn encode_line(time: &str, stream: &str, full: bool, text: &[u8]) -> Vec<u8> {
    let mut out = format!("{time} {stream} {} ", if full { 'F' } else { 'P' }).into_bytes();
    out.extend_from_slice(text);
    out.push(b'\n');
    out
}

/// Parses complete log lines from `data`; returns the entries and the bytes consumed
/// (a trailing line still being written is left for the next read).
pub fn parse(data: &[u8]) -> (Vec<LogEntry>, usize) {
    let mut entries = Vec::new();
    let mut used = 0;
    while let Some(nl) = data[used..].iter().position(|&b| b == b'\n') {
        let line = &data[used..used + nl];
        used += nl + 1;
        let mut parts = line.splitn(4, |&b| b == b' ');
        let (Some(time), Some(stream), Some(tag)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        entries.push(LogEntry {
            time: String::from_utf8_lossy(time).into_owned(),
            stream: String::from_utf8_lossy(stream).into_owned(),
            full: tag != b"P",
            text: parts.next().unwrap_or_default().to_vec(),
        });
    }
    (entries, used)
}

/// Reads every entry of a log file (a missing file is an empty log).
pub fn read_all(path: &Path) -> Result<(Vec<LogEntry>, u64)> {
    match std::fs::read(path) {
        Ok(data) => {
            let (entries, used) = parse(&data);
            Ok((entries, used as u64))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((Vec::new(), 0)),
        Err(e) => Err(Error::new(
            ErrorKind::Internal,
            format!("read {}: {e}", path.display()),
        )),
    }
}

/// Reads the entries written after byte `offset`; returns them and the new offset.
pub fn read_from(path: &Path, offset: u64) -> Result<(Vec<LogEntry>, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("open {}: {e}", path.display()),
            ));
        }
    };
    let mut data = Vec::new();
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| f.read_to_end(&mut data))
        .map_err(|e| Error::new(ErrorKind::Internal, format!("read {}: {e}", path.display())))?;
    let (entries, used) = parse(&data);
    Ok((entries, offset + used as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_partial_lines() {
        let mut data = encode_line("2026-01-01T00:00:00.5Z", "stdout", true, b"hello world");
        data.extend(encode_line(
            "2026-01-01T00:00:01Z",
            "stderr",
            false,
            b"no newline",
        ));
        data.extend(b"2026-01-01T00:00:02Z stdout F unfinis");
        let (entries, used) = parse(&data);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].text, b"hello world");
        assert!(entries[0].full);
        assert_eq!(entries[1].stream, "stderr");
        assert!(!entries[1].full);
        assert_eq!(&data[used..], b"2026-01-01T00:00:02Z stdout F unfinis");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, &data).unwrap();
        let (all, off) = read_all(&p).unwrap();
        assert_eq!(all, entries);
        assert_eq!(read_from(&p, off).unwrap().0, vec![]);
        assert_eq!(read_from(&p, 0).unwrap().0.len(), 2);
        assert_eq!(read_all(&dir.path().join("none")).unwrap().0, vec![]);
    }
}
