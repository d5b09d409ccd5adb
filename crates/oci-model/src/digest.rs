//! Content digests (`sha256:<64 hex>`) and a streaming verifier.

use crate::error::{Error, Result};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

/// A sha256 content digest. Other algorithms are rejected: every registry and store strata
/// talks to uses sha256, and refusing the rest keeps paths like `blobs/sha256/<hex>` safe.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parses `sha256:<64 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Digest> {
        let Some((algo, hex)) = s.split_once(':') else {
            return Err(Error::invalid(format!("invalid digest format: {s}")));
        };
        if algo != "sha256" {
            return Err(Error::unsupported(format!(
                "unsupported digest algorithm: {s}"
            )));
        }
        Self::from_hex(hex)
            .map_err(|_| Error::invalid(format!("invalid checksum digest format: {s}")))
    }

    /// From the 64 lowercase hex characters alone.
    pub fn from_hex(hex: &str) -> Result<Digest> {
        if hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Digest {
                hex: hex.to_string(),
            })
        } else {
            Err(Error::invalid(format!(
                "invalid checksum digest format: {hex}"
            )))
        }
    }

    /// The digest of a byte string.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest {
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex characters, as Docker shows IDs (`stringid.TruncateID`).
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }

    pub fn algorithm(&self) -> &'static str {
        "sha256"
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Digest> {
        Digest::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Counts and hashes every byte written through it; optionally forwards to an inner writer.
#[derive(Clone, Default)]
pub struct Sha256Writer {
    hasher: Sha256,
    len: u64,
}

impl Sha256Writer {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn digest(&self) -> Digest {
        Digest {
            hex: hex::encode(self.hasher.clone().finalize()),
        }
    }
    /// Checks the bytes seen so far against an expected digest and size, with the error
    /// message the CLI shows (`... digest mismatch ...`).
    pub fn verify(&self, expected: &Digest, expected_size: Option<u64>) -> Result<()> {
        if let Some(size) = expected_size
            && size != self.len
        {
            return Err(Error::corrupt(format!(
                "failed to verify {expected}: size mismatch: expected {size} bytes, got {}",
                self.len
            )));
        }
        let got = self.digest();
        if &got != expected {
            return Err(Error::corrupt(format!(
                "failed to verify {expected}: digest mismatch: content hashes to {got}"
            )));
        }
        Ok(())
    }
}

impl Write for Sha256Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let d = Digest::of(b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        assert_eq!(d.short(), "e3b0c44298fc");
    }

    #[test]
    fn rejects_bad_digests() {
        for bad in [
            "sha256:abc",
            "md5:e3b0",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:../../etc/passwd",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn writer_verifies() {
        let mut w = Sha256Writer::new();
        w.update(b"hello");
        assert!(w.verify(&Digest::of(b"hello"), Some(5)).is_ok());
        assert!(w.verify(&Digest::of(b"hello"), Some(6)).is_err());
        assert!(
            w.verify(&Digest::of(b"hellp"), None)
                .unwrap_err()
                .message
                .contains("digest mismatch")
        );
    }
}
