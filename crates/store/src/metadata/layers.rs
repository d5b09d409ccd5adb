//! Unpacked layers: one row per ChainID, recorded as each layer is committed to the snapshot
//! store. Images list their layers in `image_layers`, but deleting an image does not cascade
//! to them: a layer outlives its last image until the GC removes it with
//! [`Db::remove_layer_if_unused`], which also respects leases.

use super::{Db, db_err, digest_col, name_col, now_unix, opt_digest_col};
use layers::unpack::UnpackOptions;
use oci_model::{Digest, Result};
use rusqlite::{OptionalExtension, params};

/// One unpacked layer, named by its ChainID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRecord {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub parent: Option<Digest>,
    pub blob_digest: Digest,
    pub media_type: String,
    pub compressed_size: u64,
    /// Unpacked content bytes.
    pub size: u64,
    /// How whiteouts are represented in the layer directory.
    pub whiteout_form: WhiteoutForm,
}

/// How whiteouts (deleted paths) are represented in an unpacked layer directory. Stored as
/// `overlay` / `aufs` (the column's `CHECK` constraint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WhiteoutForm {
    /// Overlayfs form: 0/0 character devices and `trusted.overlay.opaque` (written as root).
    Overlay,
    /// AUFS form: `.wh.<name>` files and `.wh..wh..opq` markers (rootless).
    Aufs,
}

impl WhiteoutForm {
    /// The form in which [`layers::unpack::apply_layer`] with `opts` writes whiteouts.
    pub fn of(opts: &UnpackOptions) -> WhiteoutForm {
        if opts.overlay_whiteouts {
            WhiteoutForm::Overlay
        } else {
            WhiteoutForm::Aufs
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WhiteoutForm::Overlay => "overlay",
            WhiteoutForm::Aufs => "aufs",
        }
    }

    pub fn parse(s: &str) -> Option<WhiteoutForm> {
        match s {
            "overlay" => Some(WhiteoutForm::Overlay),
            "aufs" => Some(WhiteoutForm::Aufs),
            _ => None,
        }
    }
}

impl Db {
    pub fn layer(&self, chain_id: &Digest) -> Result<Option<LayerRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT chain_id, diff_id, parent, blob_digest, media_type, compressed_size, size, whiteout_form \
                 FROM layers WHERE chain_id = ?1",
            )
            .map_err(db_err)?;
        stmt.query_row([chain_id.to_string()], |row| {
            Ok(LayerRecord {
                chain_id: digest_col(row, 0)?,
                diff_id: digest_col(row, 1)?,
                parent: opt_digest_col(row, 2)?,
                blob_digest: digest_col(row, 3)?,
                media_type: row.get(4)?,
                compressed_size: row.get::<_, i64>(5)? as u64,
                size: row.get::<_, i64>(6)? as u64,
                whiteout_form: name_col(row, 7, WhiteoutForm::parse)?,
            })
        })
        .optional()
        .map_err(db_err)
    }

    /// Records a layer; a layer already recorded under the same ChainID is kept as is.
    pub fn insert_layer(&self, layer: &LayerRecord) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, blob_digest, media_type, \
                 compressed_size, size, whiteout_form, created_unix) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    layer.chain_id.to_string(),
                    layer.diff_id.to_string(),
                    layer.parent.as_ref().map(|p| p.to_string()),
                    layer.blob_digest.to_string(),
                    layer.media_type,
                    layer.compressed_size as i64,
                    layer.size as i64,
                    layer.whiteout_form.name(),
                    now_unix(),
                ])
            })
            .map_err(db_err)?;
            Ok(())
        })
    }
}

/// Garbage collection: what no image uses, and its removal.
impl Db {
    /// Deletes the record of layer `chain_id` if no image lists it and no lease protects it,
    /// atomically with that check. Returns the removed record.
    pub fn remove_layer_if_unused(&self, chain_id: &Digest) -> Result<Option<LayerRecord>> {
        let Some(layer) = self.layer(chain_id)? else {
            return Ok(None);
        };
        let removed = self.write(|tx| {
            tx.prepare_cached(
                "DELETE FROM layers WHERE chain_id = ?1 \
                 AND NOT EXISTS (SELECT 1 FROM image_layers WHERE chain_id = ?1) \
                 AND NOT EXISTS (SELECT 1 FROM lease_resources WHERE kind = 'layer' AND key = ?1)",
            )
            .and_then(|mut s| s.execute([chain_id.to_string()]))
            .map(|n| n > 0)
            .map_err(db_err)
        })?;
        Ok(removed.then_some(layer))
    }

    /// Layers no image lists (garbage unless leased), any order.
    pub fn unused_layers(&self) -> Result<Vec<Digest>> {
        self.conn()
            .prepare_cached(
                "SELECT chain_id FROM layers \
                 WHERE chain_id NOT IN (SELECT chain_id FROM image_layers)",
            )
            .and_then(|mut s| s.query_map([], |r| digest_col(r, 0))?.collect())
            .map_err(db_err)
    }

    /// Every layer ChainID recorded.
    pub fn layer_ids(&self) -> Result<Vec<Digest>> {
        self.conn()
            .prepare_cached("SELECT chain_id FROM layers")
            .and_then(|mut s| s.query_map([], |r| digest_col(r, 0))?.collect())
            .map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::layer;

    #[test]
    fn layers_roundtrip_and_insert_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("metadata.db")).unwrap();
        let base = layer(1, None);
        let top = layer(2, Some(&base.chain_id));
        assert!(db.layer(&base.chain_id).unwrap().is_none());
        db.insert_layer(&base).unwrap();
        db.insert_layer(&top).unwrap();
        db.insert_layer(&base).unwrap();
        assert_eq!(db.layer(&base.chain_id).unwrap().unwrap(), base);
        assert_eq!(db.layer(&top.chain_id).unwrap().unwrap(), top);
        // Layers of one image are unpacked in parallel and recorded as each completes, so a
        // layer may be recorded before its parent.
        let early = layer(3, Some(&Digest::of(b"not yet")));
        db.insert_layer(&early).unwrap();
        assert_eq!(db.layer(&early.chain_id).unwrap().unwrap(), early);
    }
}
