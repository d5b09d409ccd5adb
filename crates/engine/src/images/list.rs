//! The rows of `strata images`: one per repository:tag, `<none>` for dangling images, newest first.
//! Read from the metadata database in three queries, whatever the number of images.

use super::query::familiar_repo;
use super::query::filter::ImageFilter;
use oci_model::Result;
use std::collections::HashMap;
use std::sync::Arc;
use store::metadata::{Db, ImageRecord};

#[derive(Debug, Clone)]
pub struct ImageRow {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    /// Shared by the rows of one image (one per repository:tag).
    pub image: Arc<ImageRecord>,
}

/// All rows. `all` keeps dangling images (no tag and no digest), as `-a` does.
pub fn rows(db: &Db, all: bool) -> Result<Vec<ImageRow>> {
    rows_filtered(db, all, &ImageFilter::default())
}

/// The rows that pass `filter`: image-level conditions first, then only the references that
/// match the `reference` patterns are kept (an image left without any is dropped).
/// `dangling=true` lists only untagged images (with or without `-a`); `dangling=false` hides them.
pub fn rows_filtered(db: &Db, all: bool, filter: &ImageFilter) -> Result<Vec<ImageRow>> {
    let images = db.images_summary()?;
    // Thousands of rows name a few repositories: parse each name once.
    let mut familiar: HashMap<String, String> = HashMap::new();
    let mut familiar_of = |repo: &str| -> String {
        familiar
            .entry(repo.to_string())
            .or_insert_with(|| familiar_repo(repo))
            .clone()
    };
    let mut tags: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (repo, tag, id) in db.all_tags()? {
        if filter.matches_reference(&repo, Some(&tag), None) {
            tags.entry(id).or_default().push((familiar_of(&repo), tag));
        }
    }
    let mut digests: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (repo, digest, id) in db.all_repo_digests()? {
        let digest = digest.to_string();
        if filter.matches_reference(&repo, None, Some(&digest)) {
            digests
                .entry(id)
                .or_default()
                .push((familiar_of(&repo), digest));
        }
    }
    let mut out = Vec::new();
    for image in images {
        if !filter.matches_image(&image) {
            continue;
        }
        let image = Arc::new(image);
        let t = tags.remove(&image.id).unwrap_or_default();
        let d = digests.remove(&image.id).unwrap_or_default();
        if filter.dangling == Some(true) && !t.is_empty() {
            continue;
        }
        if t.is_empty() && d.is_empty() {
            let wanted = (all || filter.dangling == Some(true))
                && filter.dangling != Some(false)
                && filter.references.is_empty();
            if wanted {
                out.push(ImageRow {
                    repository: "<none>".into(),
                    tag: "<none>".into(),
                    digest: "<none>".into(),
                    image,
                });
            }
            continue;
        }
        let mut rows: Vec<ImageRow> = Vec::new();
        for (repo, tag) in &t {
            let digest = d
                .iter()
                .find(|(r, _)| r == repo)
                .map(|(_, d)| d.clone())
                .unwrap_or_else(|| "<none>".into());
            rows.push(ImageRow {
                repository: repo.clone(),
                tag: tag.clone(),
                digest,
                image: image.clone(),
            });
        }
        for (repo, digest) in &d {
            if !t.iter().any(|(r, _)| r == repo) {
                rows.push(ImageRow {
                    repository: repo.clone(),
                    tag: "<none>".into(),
                    digest: digest.clone(),
                    image: image.clone(),
                });
            }
        }
        rows.sort_by(|a, b| (&a.repository, &a.tag).cmp(&(&b.repository, &b.tag)));
        out.extend(rows);
    }
    Ok(out)
}
