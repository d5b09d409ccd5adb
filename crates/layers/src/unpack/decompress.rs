//! Layer decompression: the declared compression checked against the stream's magic bytes, and
//! the uncompressed bytes hashed on the way through (the DiffID).

use oci_model::media_type::Compression;
use oci_model::{Error, Result, Sha256Writer};
use std::io::{self, BufReader, Chain, Cursor, Read};

/// Read buffer on the (compressed) input.
pub(crate) const INPUT_BUFFER: usize = 1 << 20;

type Input<R> = BufReader<Chain<Cursor<Vec<u8>>, R>>;

enum Decoder<R: Read> {
    Plain(Input<R>),
    Gzip(Box<flate2::bufread::MultiGzDecoder<Input<R>>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, Input<R>>>),
}

/// The uncompressed layer stream; every byte read through it is hashed.
pub(crate) struct LayerReader<R: Read> {
    decoder: Decoder<R>,
    hash: Sha256Writer,
    /// The compression actually used (after sniffing).
    pub(crate) compression: Compression,
}

impl<R: Read> LayerReader<R> {
    /// Chooses the decoder: the declared compression must match the magic bytes for gzip and
    /// zstd; a layer declared as plain tar that is in fact compressed is decompressed as sniffed
    /// (Docker does the same).
    pub(crate) fn new(mut input: R, declared: Compression) -> Result<LayerReader<R>> {
        let mut head = Vec::with_capacity(4);
        let mut chunk = [0u8; 4];
        while head.len() < 4 {
            let n = match input.read(&mut chunk[..4 - head.len()]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e)),
            };
            if n == 0 {
                break;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        let sniffed = Compression::sniff(&head);
        let actual = match (declared, sniffed) {
            (Compression::None, s) => s.unwrap_or(Compression::None),
            (d, Some(s)) if d == s => d,
            (d, s) => {
                return Err(Error::corrupt(format!(
                    "layer is declared as {} but its content is {}",
                    d.as_str(),
                    match s {
                        Some(s) => format!("{}-compressed", s.as_str()),
                        None if head.is_empty() => "empty".to_string(),
                        None => "not compressed".to_string(),
                    }
                )));
            }
        };
        let buffered = BufReader::with_capacity(INPUT_BUFFER, Cursor::new(head).chain(input));
        let decoder = match actual {
            Compression::None => Decoder::Plain(buffered),
            Compression::Gzip => {
                Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
            }
            Compression::Zstd => Decoder::Zstd(Box::new(
                zstd::stream::read::Decoder::with_buffer(buffered).map_err(|e| {
                    Error::new(oci_model::ErrorKind::Internal, format!("zstd decoder: {e}"))
                })?,
            )),
        };
        Ok(LayerReader {
            decoder,
            hash: Sha256Writer::new(),
            compression: actual,
        })
    }

    /// The hash of every uncompressed byte read so far.
    pub(crate) fn hash(&self) -> &Sha256Writer {
        &self.hash
    }

    /// Reads (and hashes) the rest of the stream, so the input is consumed to its end.
    pub(crate) fn drain(&mut self) -> Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match self.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(read_error(e)),
            }
        }
    }
}

impl<R: Read> Read for LayerReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match &mut self.decoder {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
        }?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Maps an error from reading the layer stream. An [`oci_model::Error`] that the caller's reader
/// wrapped in an `io::Error` (e.g. a digest mismatch or a network failure) is returned as is;
/// anything else means the stream could not be decoded.
pub(crate) fn read_error(e: io::Error) -> Error {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
        return inner.clone();
    }
    Error::corrupt(format!("failed to read layer: {e}"))
}
