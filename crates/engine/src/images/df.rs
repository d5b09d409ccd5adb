//! `system df`: disk usage from the metadata database alone (aggregate queries over `layers` and
//! `image_layers`), never by walking layer directories. Docker's numbers: the Images total counts
//! every layer some image uses once; an image's shared size is the bytes of its layers that
//! another image also uses. Containers, volumes and build cache do not exist yet: zero.

use super::query::familiar_repo;
use oci_model::Result;
use std::collections::HashMap;
use store::metadata::Db;

/// One image of `system df -v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUsage {
    pub id: String,
    /// Familiar repository of the image's first tag, `<none>` when untagged.
    pub repository: String,
    pub tag: String,
    pub created_unix: i64,
    pub size: u64,
    pub shared_size: u64,
    /// Containers using the image (none before containers exist).
    pub containers: u64,
}

impl ImageUsage {
    pub fn unique_size(&self) -> u64 {
        self.size.saturating_sub(self.shared_size)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskUsage {
    /// Bytes of all layers used by images, each counted once.
    pub layers_size: u64,
    /// Newest first.
    pub images: Vec<ImageUsage>,
}

impl DiskUsage {
    /// Images used by at least one container.
    pub fn active_images(&self) -> usize {
        self.images.iter().filter(|i| i.containers > 0).count()
    }

    /// Bytes freed by removing every image no container uses (Docker's formula: the total less
    /// the unique bytes of images in use).
    pub fn reclaimable(&self) -> u64 {
        let used: u64 = self
            .images
            .iter()
            .filter(|i| i.containers > 0)
            .map(ImageUsage::unique_size)
            .sum();
        self.layers_size.saturating_sub(used)
    }
}

pub fn disk_usage(db: &Db) -> Result<DiskUsage> {
    let layers_size = db.used_layers_size()?;
    let space: HashMap<String, (u64, u64)> = db
        .image_space()?
        .into_iter()
        .map(|s| (s.image_id, (s.size, s.shared_size)))
        .collect();
    let mut first_tag: HashMap<String, (String, String)> = HashMap::new();
    for (repo, tag, id) in db.all_tags()? {
        let familiar = (familiar_repo(&repo), tag);
        let e = first_tag.entry(id).or_insert_with(|| familiar.clone());
        if familiar < *e {
            *e = familiar;
        }
    }
    let images = db
        .images()?
        .into_iter()
        .map(|i| {
            let (size, shared_size) = space.get(&i.id).copied().unwrap_or((i.size, 0));
            let (repository, tag) = first_tag
                .remove(&i.id)
                .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
            ImageUsage {
                id: i.id,
                repository,
                tag,
                created_unix: i.created_unix,
                size,
                shared_size,
                containers: 0,
            }
        })
        .collect();
    Ok(DiskUsage {
        layers_size,
        images,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_model::Digest;
    use store::metadata::{ImageRecord, LayerRecord, WhiteoutForm};

    fn layer(n: u8, size: u64) -> LayerRecord {
        LayerRecord {
            chain_id: Digest::of(&[n]),
            diff_id: Digest::of(&[n]),
            parent: None,
            blob_digest: Digest::of(&[n]),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            compressed_size: 1,
            size,
            whiteout_form: WhiteoutForm::Overlay,
        }
    }

    fn image(seed: &str, created: i64, layers: &[&LayerRecord]) -> ImageRecord {
        ImageRecord {
            id: Digest::of(seed.as_bytes()).to_string(),
            manifest_digest: Digest::of(b"m").to_string(),
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            config_size: 1,
            created: String::new(),
            created_unix: created,
            architecture: "amd64".into(),
            os: "linux".into(),
            labels: Default::default(),
            variant: None,
            size: layers.iter().map(|l| l.size).sum(),
            added_unix: 1,
            last_tag_time: None,
            layers: layers.iter().map(|l| l.chain_id.clone()).collect(),
        }
    }

    #[test]
    fn shared_layers_count_once() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(&tmp.path().join("metadata.db")).unwrap();
        assert_eq!(
            disk_usage(&db).unwrap(),
            DiskUsage {
                layers_size: 0,
                images: vec![]
            }
        );
        let (l1, l2, l3) = (layer(1, 1500), layer(2, 8), layer(3, 24));
        for l in [&l1, &l2, &l3] {
            db.insert_layer(l).unwrap();
        }
        let history = image("history", 3, &[&l1]);
        let four = image("four", 2, &[&l2, &l3]);
        let nohist = image("nohist", 1, &[&l2, &l3]);
        db.commit_pull(&history, "127.0.0.1:5000/hist/history", Some("1"), None)
            .unwrap();
        db.commit_pull(&four, "docker.io/library/four", Some("b"), None)
            .unwrap();
        db.commit_pull(&four, "docker.io/library/four", Some("a"), None)
            .unwrap();
        db.commit_pull(&nohist, "x.io/nohist", None, Some(&Digest::of(b"d")))
            .unwrap();
        let du = disk_usage(&db).unwrap();
        assert_eq!(du.layers_size, 1532);
        let rows: Vec<(&str, &str, u64, u64, u64)> = du
            .images
            .iter()
            .map(|i| {
                (
                    i.repository.as_str(),
                    i.tag.as_str(),
                    i.size,
                    i.shared_size,
                    i.unique_size(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("127.0.0.1:5000/hist/history", "1", 1500, 0, 1500),
                ("four", "a", 32, 32, 0),
                ("<none>", "<none>", 32, 32, 0),
            ]
        );
        assert_eq!(du.active_images(), 0);
        assert_eq!(du.reclaimable(), 1532);
    }
}
