//! `image prune`: removes dangling images (no tag), or with `all` every image no container
//! uses, as Docker's classic `ImagesPrune`: each of an image's references is removed without
//! force (the last one deletes the image), an image without references is removed by ID, and
//! images that cannot be removed (a conflict, or gone meanwhile) are skipped silently.
//! Filters: `until=<time or duration>`, `label=<k>[=<v>]`, `label!=<k>[=<v>]`.

use super::query::filter::{created_nanos, parse_time};
use super::remove::{RemoveEvent, remove_counting};
use oci_model::{Error, ErrorKind, Result};
use store::Store;
use store::metadata::ImageRecord;

const ACCEPTED: &[&str] = &["dangling", "label", "label!", "until"];

/// Parsed `--filter` values of `image prune`.
#[derive(Debug, Default, Clone)]
pub struct PruneFilter {
    /// Images created strictly before every one of these (nanoseconds) are candidates.
    pub until: Vec<i128>,
    /// `label=k` / `label=k=v`: all must match.
    pub labels: Vec<(String, Option<String>)>,
    /// `label!=k` / `label!=k=v`: none may match.
    pub not_labels: Vec<(String, Option<String>)>,
    /// `dangling=false` is what `-a` sends; an explicit value overrides `all`.
    pub dangling: Option<bool>,
}

fn label_pair(v: &str) -> (String, Option<String>) {
    match v.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (v.to_string(), None),
    }
}

impl PruneFilter {
    /// Parses `key=value` arguments (key lowercased and trimmed, as the Docker CLI does).
    pub fn parse(args: &[String], now_nanos: i128) -> Result<PruneFilter> {
        let mut f = PruneFilter::default();
        for a in args {
            let Some((k, v)) = a.split_once('=') else {
                return Err(Error::invalid("bad format of filter (expected name=value)"));
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if !ACCEPTED.contains(&k.as_str()) {
                return Err(Error::invalid(format!("invalid filter '{k}'")));
            }
            match k.as_str() {
                "label" => f.labels.push(label_pair(v)),
                "label!" => f.not_labels.push(label_pair(v)),
                "until" => f.until.push(parse_time(v, now_nanos).ok_or_else(|| {
                    Error::invalid(format!("failed to parse value as time or duration: {v:?}"))
                })?),
                _ => {
                    f.dangling = Some(match v.to_ascii_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(Error::invalid(format!("invalid filter 'dangling={v}'")));
                        }
                    })
                }
            }
        }
        Ok(f)
    }

    fn matches(&self, image: &ImageRecord) -> bool {
        let has = |(k, v): &(String, Option<String>)| match (image.labels.get(k), v) {
            (Some(_), None) => true,
            (Some(have), Some(want)) => have == want,
            (None, _) => false,
        };
        let created = created_nanos(image);
        self.until.iter().all(|u| created < *u)
            && self.labels.iter().all(has)
            && !self.not_labels.iter().any(has)
    }
}

/// What `image prune` removed.
#[derive(Debug, Default, Clone)]
pub struct PruneReport {
    pub events: Vec<RemoveEvent>,
    /// Unpacked bytes of the layers removed (Docker's `SpaceReclaimed`).
    pub reclaimed: u64,
}

fn skippable(e: &Error) -> bool {
    matches!(e.kind, ErrorKind::NotFound | ErrorKind::Conflict)
}

/// Prunes images: dangling ones, or with `all` every image without a container.
pub fn prune(store: &Store, all: bool, filter: &PruneFilter) -> Result<PruneReport> {
    let dangling_only = filter.dangling.unwrap_or(!all);
    let mut report = PruneReport::default();
    let images = store.db().images_summary()?;
    for image in images {
        if !filter.matches(&image) || !store.db().containers_using_image(&image.id)?.is_empty() {
            continue;
        }
        let tags = store.db().tags_for(&image.id)?;
        if dangling_only && !tags.is_empty() {
            continue;
        }
        let mut names: Vec<String> = tags
            .into_iter()
            .map(|(repo, tag)| format!("{repo}:{tag}"))
            .chain(
                store
                    .db()
                    .repo_digests_for(&image.id)?
                    .into_iter()
                    .map(|(repo, d)| format!("{repo}@{d}")),
            )
            .collect();
        names.sort();
        if names.is_empty() {
            names.push(image.id.clone());
        }
        for name in names {
            match remove_counting(store, &name, false, false) {
                Ok(r) => {
                    report.events.extend(r.events);
                    report.reclaimed += r.reclaimed;
                }
                Err(e) if skippable(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(report)
}
