//! Repository metadata (description, stars, official) kept in the registry's storage, and
//! Docker Hub's search API over it: `GET /v1/search?q=&n=&page=`.

use crate::auth::Action;
use crate::error::ApiError;
use crate::state::{AppState, identity, query};
use crate::storage::{Backend, Link};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use oci_model::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io;
use std::sync::Arc;

/// The metadata object's key among a repository's `Meta` links.
const META_KEY: &str = "repo.json";
/// Results per page when the client does not say.
pub const DEFAULT_PAGE_SIZE: usize = 25;
/// The most results per page.
pub const MAX_PAGE_SIZE: usize = 100;

/// What `strata registry repo set` records about a repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RepoMeta {
    pub description: String,
    pub stars: u64,
    pub official: bool,
}

/// A repository's metadata (defaults when none was set).
pub fn get_meta(b: &dyn Backend, repo: &str) -> io::Result<RepoMeta> {
    Ok(b.link_get(repo, &Link::Meta, META_KEY)?
        .and_then(|v| serde_json::from_slice(&v).ok())
        .unwrap_or_default())
}

/// Changes the given fields of a repository's metadata; returns the result.
pub fn set_meta(
    b: &dyn Backend,
    repo: &str,
    description: Option<String>,
    stars: Option<u64>,
    official: Option<bool>,
) -> io::Result<RepoMeta> {
    if !crate::names::valid_repo(repo) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid repository name {repo:?}: repository names must be lowercase"),
        ));
    }
    let mut meta = get_meta(b, repo)?;
    if let Some(d) = description {
        meta.description = d;
    }
    if let Some(s) = stars {
        meta.stars = s;
    }
    if let Some(o) = official {
        meta.official = o;
    }
    let bytes = serde_json::to_vec(&meta).map_err(io::Error::other)?;
    b.link_put(repo, &Link::Meta, META_KEY, &bytes)?;
    Ok(meta)
}

/// One search hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub name: String,
    pub meta: RepoMeta,
}

/// Every repository whose name or description contains `term` (case-insensitively), the most
/// starred first, then by name.
pub fn find(b: &dyn Backend, term: &str) -> io::Result<Vec<Hit>> {
    let term = term.to_lowercase();
    let mut hits = Vec::new();
    for name in b.repo_list()? {
        let meta = get_meta(b, &name)?;
        if name.to_lowercase().contains(&term) || meta.description.to_lowercase().contains(&term) {
            hits.push(Hit { name, meta });
        }
    }
    hits.sort_by(|a, b| {
        b.meta
            .stars
            .cmp(&a.meta.stars)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(hits)
}

fn number(
    q: &std::collections::HashMap<String, String>,
    key: &str,
) -> Result<Option<usize>, ApiError> {
    match q.get(key).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) => v.parse::<usize>().map(Some).map_err(|_| {
            ApiError::new(ErrorCode::PaginationNumberInvalid)
                .message(format!("invalid {key}: {v:?}"))
                .status(StatusCode::BAD_REQUEST)
        }),
    }
}

/// `GET /v1/search?q=TERM&n=PAGE_SIZE&page=N` with Docker Hub's response shape. Only the
/// repositories the caller may pull are listed.
pub async fn search(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let q = query(&req);
    let who = identity(&req);
    drop(req);
    let result = async {
        let term = q.get("q").cloned().unwrap_or_default();
        let page_size = number(&q, "n")?
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE);
        let page = number(&q, "page")?.unwrap_or(1).max(1);
        let t = term.clone();
        let hits = st.blocking(move |b| find(b, &t)).await?;
        let hits: Vec<Hit> = hits
            .into_iter()
            .filter(|h| st.auth.can(&who, &h.name, Action::Pull))
            .collect();
        let total = hits.len();
        let results: Vec<_> = hits
            .into_iter()
            .skip((page - 1).saturating_mul(page_size))
            .take(page_size)
            .map(|h| {
                json!({
                    "name": h.name,
                    "description": h.meta.description,
                    "star_count": h.meta.stars,
                    "is_official": h.meta.official,
                    "is_automated": false,
                })
            })
            .collect();
        let body = json!({
            "num_pages": total.div_ceil(page_size),
            "num_results": total,
            "page_size": page_size,
            "page": page,
            "query": term,
            "results": results,
        });
        Ok::<_, ApiError>(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response(),
        )
    }
    .await;
    result.unwrap_or_else(|e| e.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::fs::FsBackend;

    #[test]
    fn metadata_merges_and_search_matches_names_and_descriptions() {
        let dir = tempfile::tempdir().unwrap();
        let b = FsBackend::new(dir.path()).unwrap();
        for r in ["library/ubuntu", "team/tools", "other"] {
            b.link_put(r, &Link::Layer, &"0".repeat(64), b"").unwrap();
        }
        set_meta(
            &b,
            "team/tools",
            Some("Ubuntu-based toolbox".into()),
            Some(3),
            None,
        )
        .unwrap();
        let m = set_meta(&b, "team/tools", None, None, Some(true)).unwrap();
        assert_eq!(
            m,
            RepoMeta {
                description: "Ubuntu-based toolbox".into(),
                stars: 3,
                official: true
            }
        );
        let names: Vec<String> = find(&b, "UBUNTU")
            .unwrap()
            .into_iter()
            .map(|h| h.name)
            .collect();
        assert_eq!(names, ["team/tools", "library/ubuntu"]);
        assert_eq!(find(&b, "").unwrap().len(), 3);
        assert!(set_meta(&b, "Bad", None, None, None).is_err());
    }
}
