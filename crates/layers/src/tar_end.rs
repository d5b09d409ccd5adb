//! Where a tar stream ends. A layer tar ends with two zero blocks (and, from `tar` itself, zero
//! padding up to its 10 KiB record); whatever follows is not part of the archive. Reading "until
//! EOF" instead lets a stream that never ends (`strata import /dev/zero`) run forever. [`TarEnd`]
//! passes a tar stream through unchanged, walking its headers, and reports end of file after the
//! end-of-archive blocks and the padding of their record — so what is hashed (the DiffID) is the
//! archive as `tar` or Go's `archive/tar` wrote it, and nothing more is read.

use std::io::{self, Read};

const BLOCK: usize = 512;
/// tar's default record (blocking factor 20): writers pad the archive to a multiple of it.
const RECORD: u64 = 10 * 1024;

enum State {
    /// At a header boundary.
    Header,
    /// Passing through `n` bytes of entry data (with its padding to a block).
    Data(u64),
    /// After the end-of-archive blocks: up to the end of the record, then EOF.
    Trailer,
    /// Not a tar stream we can follow (a lone zero block): everything, as it comes, for the
    /// tar parser to judge.
    Raw,
    Done,
}

/// A reader that stops at the end of the tar archive it carries (see the module docs).
pub struct TarEnd<R> {
    inner: R,
    state: State,
    /// Bytes read and not yet handed out (a header block, or two zero blocks).
    pending: Vec<u8>,
    offset: usize,
    /// Bytes handed out so far.
    position: u64,
}

impl<R: Read> TarEnd<R> {
    pub fn new(inner: R) -> Self {
        TarEnd {
            inner,
            state: State::Header,
            pending: Vec::new(),
            offset: 0,
            position: 0,
        }
    }

    /// Reads a whole block into `pending`; `false` at a clean EOF before any byte of it.
    fn read_block(&mut self) -> io::Result<bool> {
        let start = self.pending.len();
        self.pending.resize(start + BLOCK, 0);
        let mut n = 0;
        while n < BLOCK {
            match self.inner.read(&mut self.pending[start + n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pending.truncate(start + n);
        Ok(n == BLOCK)
    }

    /// Reads the next header (and any GNU sparse extension blocks) into `pending` and decides
    /// what follows it.
    fn next_header(&mut self) -> io::Result<()> {
        self.pending.clear();
        self.offset = 0;
        if !self.read_block()? {
            self.state = State::Done;
            return Ok(());
        }
        if is_zero(&self.pending) {
            let whole = self.read_block()?;
            if whole && is_zero(&self.pending[BLOCK..]) {
                self.state = State::Trailer;
                return Ok(());
            }
            self.state = if whole { State::Raw } else { State::Done };
            return Ok(());
        }
        let header = &self.pending[..BLOCK];
        let size = entry_size(header)?;
        let mut extended = header[156] == b'S' && header[482] != 0;
        while extended {
            let at = self.pending.len();
            if !self.read_block()? {
                self.state = State::Done;
                return Ok(());
            }
            extended = self.pending[at + 504] != 0;
        }
        self.state = State::Data(size.div_ceil(BLOCK as u64) * BLOCK as u64);
        Ok(())
    }
}

impl<R: Read> Read for TarEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.offset < self.pending.len() {
                let n = buf.len().min(self.pending.len() - self.offset);
                buf[..n].copy_from_slice(&self.pending[self.offset..self.offset + n]);
                self.offset += n;
                self.position += n as u64;
                return Ok(n);
            }
            match self.state {
                State::Done => return Ok(0),
                State::Header => self.next_header()?,
                State::Data(0) => self.state = State::Header,
                State::Raw => {
                    let n = self.inner.read(buf)?;
                    self.position += n as u64;
                    return Ok(n);
                }
                State::Data(left) => {
                    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.inner.read(&mut buf[..want])?;
                    if n == 0 {
                        self.state = State::Done;
                        return Ok(0);
                    }
                    self.state = State::Data(left - n as u64);
                    self.position += n as u64;
                    return Ok(n);
                }
                State::Trailer => {
                    let left = (RECORD - self.position % RECORD) % RECORD;
                    if left == 0 {
                        self.state = State::Done;
                        return Ok(0);
                    }
                    let want = buf.len().min(left as usize);
                    let n = self.inner.read(&mut buf[..want])?;
                    if n == 0 {
                        self.state = State::Done;
                    }
                    self.position += n as u64;
                    return Ok(n);
                }
            }
        }
    }
}

fn is_zero(block: &[u8]) -> bool {
    block.iter().all(|b| *b == 0)
}

/// The size field of a header: octal (NUL/space padded) or GNU base-256.
fn entry_size(header: &[u8]) -> io::Result<u64> {
    let field = &header[124..136];
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "invalid tar header: bad size field",
        )
    };
    if field[0] & 0x80 != 0 {
        if field[0] == 0xff {
            return Err(bad());
        }
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for b in &field[1..] {
            v = v.checked_mul(256).ok_or_else(bad)? | u64::from(*b);
        }
        return Ok(v);
    }
    let text = std::str::from_utf8(field).map_err(|_| bad())?;
    let digits = text.trim_matches(|c| c == ' ' || c == '\0');
    if digits.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(digits, 8).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(files: &[(&str, usize)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, len) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(*len as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, vec![b'x'; *len].as_slice())
                .unwrap();
        }
        b.into_inner().unwrap()
    }

    fn through(data: impl Read) -> Vec<u8> {
        let mut out = Vec::new();
        TarEnd::new(data).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn a_whole_archive_passes_unchanged() {
        for files in [
            vec![],
            vec![("a", 0)],
            vec![("a", 1), ("b", 512), ("c", 513), ("d", 70_000)],
        ] {
            let tar = archive(&files);
            assert_eq!(through(tar.as_slice()), tar, "{files:?}");
        }
        // A long name (a GNU `L` entry before the real header) is just another entry.
        let long = "d/".repeat(80) + "f";
        let tar = archive(&[(&long, 10)]);
        assert_eq!(through(tar.as_slice()), tar);
    }

    #[test]
    fn reading_stops_at_the_end_of_the_archive_and_its_record() {
        let tar = archive(&[("a", 100)]);
        let mut padded = tar.clone();
        padded.resize(tar.len().div_ceil(RECORD as usize) * RECORD as usize, 0);
        let mut with_garbage = padded.clone();
        with_garbage.extend_from_slice(b"trailing data that is not part of the archive");
        assert_eq!(through(with_garbage.as_slice()), padded);
        // An endless stream of zeros is an empty archive, read for one record only.
        let zeros = through(io::repeat(0));
        assert_eq!(zeros.len(), RECORD as usize);
    }

    #[test]
    fn sizes_in_both_encodings() {
        let mut h = [0u8; BLOCK];
        h[124..136].copy_from_slice(b"00000001750\0");
        assert_eq!(entry_size(&h).unwrap(), 0o1750);
        h[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(entry_size(&h).unwrap(), 65_536);
        h[124..136].copy_from_slice(&[0xff; 12]);
        assert!(entry_size(&h).is_err());
        h[124..136].copy_from_slice(b"0000000x750\0");
        assert!(entry_size(&h).is_err());
    }
}
