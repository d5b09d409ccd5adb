//! Decompression and safe tar application in overlay form.
//!
//! [`apply_layer`] turns one layer blob (gzip, zstd or plain tar) into a directory in one streaming
//! pass, computing the DiffID on the way. Unpacking is a security boundary: every path is resolved
//! inside the destination with `openat2(RESOLVE_IN_ROOT)` and created with `*at` calls on a single
//! never-followed component, so no `..`, absolute path, symlink or hard link reaches outside it.
//! The `tar` crate is only the parser.
//!
//! Whiteouts come in two forms: overlay (a 0/0 character device for a deleted name,
//! `trusted.overlay.opaque=y` on an opaque directory; needs root) and AUFS (the tar's own empty
//! `.wh.<name>` files and `.wh..wh..opq` markers, kept as files, for rootless use). [`apply_dir_onto`]
//! understands both when merging a layer directory onto a copy of the layers below.

mod apply;
mod decompress;
mod fsops;
mod onto;

pub use fsops::sync_dir_tree;

use oci_model::media_type::Compression;
use oci_model::{Digest, Error, ErrorKind, Result};
use std::io::{BufReader, Read};
use std::path::Path;

pub(crate) const WHITEOUT_PREFIX: &[u8] = b".wh.";
pub(crate) const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
pub(crate) const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// Buffer between the decompressor and the tar parser (the parser reads in 512-byte blocks).
const TAR_BUFFER: usize = 256 * 1024;

/// How a layer is written to disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackOptions {
    /// Whiteouts in overlay form: a deleted `<name>` becomes a 0/0 character device and an opaque
    /// directory gets `trusted.overlay.opaque=y` (needs root). When false (rootless), whiteouts stay
    /// in AUFS form: an empty regular file `.wh.<name>` and the marker file `.wh..wh..opq`, which the
    /// copy snapshotter interprets.
    pub overlay_whiteouts: bool,
    /// Apply the uid/gid of every entry (needs root) and create character and block devices.
    /// When false, files belong to the current user and devices are skipped (counted in
    /// [`UnpackStats::skipped_devices`]).
    pub same_owner: bool,
}

impl UnpackOptions {
    /// Root: both true. Anyone else: both false.
    pub fn for_current_user() -> Self {
        let root = rustix::process::geteuid().is_root();
        UnpackOptions {
            overlay_whiteouts: root,
            same_owner: root,
        }
    }
}

/// What [`apply_layer`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackStats {
    /// sha256 of the uncompressed tar stream (every byte, including padding after the archive end).
    pub diff_id: Digest,
    /// Length of the uncompressed tar stream.
    pub uncompressed_size: u64,
    /// Sum of the sizes of the regular files and symlinks written (Docker's layer size).
    pub content_size: u64,
    /// Tar entries applied (whiteouts and directories included).
    pub entries: u64,
    /// Character and block devices not created (no privilege).
    pub skipped_devices: u64,
    /// The compression the stream really had (a plain tar declaration may hide gzip or zstd).
    pub compression: Compression,
}

/// Decompresses `input` (the declared `compression`, confirmed by magic bytes: a declared gzip or zstd
/// stream whose magic does not match is an error; a declared plain tar that is actually gzip or zstd
/// is decompressed as sniffed, like Docker), hashes the uncompressed stream (the DiffID), parses it
/// as tar and applies every entry inside `dest`, an existing empty directory.
///
/// `input` is read to EOF, including anything after the tar end-of-archive blocks, so a caller
/// hashing the compressed stream sees every byte. Nothing is buffered beyond fixed-size buffers.
/// Nothing is fsynced; see [`sync_dir_tree`].
///
/// Errors: `InvalidArgument` for entries that try to leave `dest` or are malformed, `DataCorrupt`
/// for streams that do not decode, `Internal` for filesystem failures. An `oci_model::Error` wrapped
/// in an `io::Error` by `input` (e.g. a digest mismatch) is returned unchanged.
pub fn apply_layer<R: Read>(
    input: R,
    compression: Compression,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats> {
    let root = fsops::Root::open(dest).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("failed to open layer directory {}: {e}", dest.display()),
        )
    })?;
    let mut stream = decompress::LayerReader::new(input, compression)?;
    let mut applier = apply::Applier::new(root, opts);
    {
        let mut archive = tar::Archive::new(BufReader::with_capacity(TAR_BUFFER, &mut stream));
        let entries = archive.entries().map_err(decompress::read_error)?;
        for entry in entries {
            let mut entry = entry.map_err(decompress::read_error)?;
            applier.apply(&mut entry)?;
        }
        // Whatever follows the end-of-archive marker is still part of the layer (and its DiffID).
        let mut rest = archive.into_inner();
        std::io::copy(&mut rest, &mut std::io::sink()).map_err(decompress::read_error)?;
    }
    stream.drain()?;
    applier.finish()?;
    Ok(UnpackStats {
        diff_id: stream.hash().digest(),
        uncompressed_size: stream.hash().len(),
        content_size: applier.content_size,
        entries: applier.entries,
        skipped_devices: applier.skipped_devices,
        compression: stream.compression,
    })
}

/// Applies the layer directory `layer` (either whiteout form) on top of `target`, as the copy
/// snapshotter does to build a merged tree: files are copied, hard links inside the layer stay hard
/// links inside `target` when possible, symlinks are copied as symlinks (never followed), and modes,
/// owners (when `opts.same_owner`), mtimes and xattrs (except overlayfs' own) follow. Whiteouts and
/// opaque directories remove what is below them in `target`.
pub fn apply_dir_onto(layer: &Path, target: &Path, opts: &UnpackOptions) -> Result<()> {
    onto::Onto::run(layer, target, opts)
}

#[cfg(test)]
mod tests;
