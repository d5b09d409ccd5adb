//! `search`: repositories of a registry matching a term, as Docker's daemon finds them
//! (docker-image-semantics §5.2, moby 28 `daemon/pkg/registry/search.go`).
//!
//! - The term names the registry the way Docker splits it: a first `/`-component containing `.`
//!   or `:`, or `localhost`, is the registry (`127.0.0.1:5000/ubu` → `127.0.0.1:5000`, query
//!   `ubu`); otherwise Docker Hub (`docker.io`, a leading `library/` dropped from the query).
//! - Filters are validated first, with the daemon's errors: `is-official` and `is-automated` are
//!   booleans (`true`/`false`/`1`/`0`), `stars` an integer (the largest given wins);
//!   `is-automated=true` yields nothing (Docker Hub no longer has automated builds).
//! - The limit defaults to 25 (0 means the default); outside [1, 100] it is refused.
//! - The registry's `/v1/search` answers first; filters apply to what it returned (so fewer than
//!   `limit` rows may come back, as with Docker). A registry without `/v1/search` (404) is
//!   searched through `/v2/_catalog` instead: repository names containing the query
//!   (case-insensitive), shown with the registry in front so they can be pulled as printed, and a
//!   notice saying so.

use super::query::filter::FilterArgs;
use oci_model::{Error, Result};
use registry_client::RegistryClient;
use registry_client::resolve;
use registry_client::search::SearchResult;

/// Results asked for when no limit is given.
pub const DEFAULT_LIMIT: i64 = 25;
/// The largest limit a registry is asked for.
pub const MAX_LIMIT: i64 = 100;

const ACCEPTED_FILTERS: &[&str] = &["is-automated", "is-official", "stars"];

/// Validated `--filter` arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    pub is_official: Option<bool>,
    pub is_automated: Option<bool>,
    /// The minimum star count (the largest `stars=` given).
    pub stars: Option<i64>,
}

/// One row of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRow {
    pub name: String,
    pub description: String,
    pub star_count: i64,
    pub is_official: bool,
}

/// What a search found.
#[derive(Debug, Clone, Default)]
pub struct SearchOutcome {
    pub rows: Vec<SearchRow>,
    /// Set when the registry has no search API and its catalog was matched instead: a line for
    /// stderr.
    pub notice: Option<String>,
}

/// Docker's `splitReposSearchTerm`: (registry, query).
pub fn split_term(term: &str) -> (String, String) {
    let (first, rest) = match term.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (term, None),
    };
    match rest {
        Some(rest) if first.contains('.') || first.contains(':') || first == "localhost" => {
            let registry = if first == "index.docker.io" {
                "docker.io"
            } else {
                first
            };
            (registry.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), term.to_string()),
    }
}

/// `filters.Args.GetBoolOrDefault`: exactly one truth value among the (sorted, distinct) values.
fn bool_filter(key: &str, values: &[&str]) -> Result<Option<bool>> {
    if values.is_empty() {
        return Ok(None);
    }
    let is_false = values.iter().any(|v| matches!(*v, "0" | "false"));
    let is_true = values.iter().any(|v| matches!(*v, "1" | "true"));
    if is_false == is_true {
        return Err(Error::invalid(format!(
            "invalid filter '{key}=[{}]'",
            values.join(" ")
        )));
    }
    Ok(Some(is_true))
}

/// Go's `strconv.Atoi` error text for `s`.
fn atoi_error(s: &str) -> String {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let why = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        "value out of range"
    } else {
        "invalid syntax"
    };
    format!("strconv.Atoi: parsing {s:?}: {why}")
}

impl SearchFilter {
    /// Parses `key=value` arguments as the docker CLI does (key lowercased, both trimmed) and
    /// validates them as the daemon does, in its order.
    pub fn parse(args: &[String]) -> Result<SearchFilter> {
        let args = FilterArgs::parse(args, ACCEPTED_FILTERS)?;
        let values = |key: &str| args.values(key);
        let mut f = SearchFilter {
            is_automated: bool_filter("is-automated", &values("is-automated"))?,
            ..SearchFilter::default()
        };
        if f.is_automated == Some(true) {
            // The daemon answers "nothing" here before looking at the other filters.
            return Ok(f);
        }
        f.is_official = bool_filter("is-official", &values("is-official"))?;
        for v in values("stars") {
            let n: i64 = v.parse().map_err(|_| {
                Error::invalid(format!("invalid filter 'stars={v}': {}", atoi_error(v)))
            })?;
            f.stars = Some(f.stars.map_or(n, |s| s.max(n)));
        }
        Ok(f)
    }

    fn keeps(&self, r: &SearchResult) -> bool {
        self.is_official.is_none_or(|o| o == r.is_official)
            && self.stars.is_none_or(|s| r.star_count >= s)
    }
}

/// The limit to ask for: 0 → [`DEFAULT_LIMIT`], else within [1, [`MAX_LIMIT`]].
pub fn check_limit(limit: i64) -> Result<u32> {
    let limit = if limit == 0 { DEFAULT_LIMIT } else { limit };
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::invalid(format!(
            "limit {limit} is outside the range of [1, {MAX_LIMIT}]"
        )));
    }
    Ok(limit as u32)
}

fn row(r: SearchResult) -> SearchRow {
    SearchRow {
        name: r.name,
        description: r.description,
        star_count: r.star_count,
        is_official: r.is_official,
    }
}

/// Searches the registry `term` names for at most `limit` repositories (0: the default), then
/// applies `filter`.
pub async fn search(
    client: &RegistryClient,
    term: &str,
    limit: i64,
    filter: &SearchFilter,
) -> Result<SearchOutcome> {
    if term.contains("://") {
        return Err(Error::invalid(format!(
            "invalid repository name: repository name ({term}) should not have a scheme"
        )));
    }
    if filter.is_automated == Some(true) {
        return Ok(SearchOutcome::default());
    }
    let (registry, mut query) = split_term(term);
    if registry.starts_with('-') || registry.ends_with('-') {
        return Err(Error::invalid(format!(
            "invalid index name ({registry}). Cannot begin or end with a hyphen."
        )));
    }
    if registry == "docker.io"
        && let Some(rest) = query.strip_prefix("library/")
    {
        query = rest.to_string();
    }
    let n = check_limit(limit)?;
    let answer = client
        .search_v1(&registry, &query, n)
        .await
        .map_err(resolve::registry_error)?;
    if let Some(answer) = answer {
        let rows = answer
            .results
            .into_iter()
            .filter(|r| filter.keeps(r))
            .map(row)
            .collect();
        return Ok(SearchOutcome { rows, notice: None });
    }
    let names = client
        .catalog(&registry)
        .await
        .map_err(resolve::registry_error)?;
    let wanted = query.to_lowercase();
    let rows = names
        .into_iter()
        .filter(|name| name.to_lowercase().contains(&wanted))
        .take(n as usize)
        .map(|name| SearchResult {
            name: format!("{registry}/{name}"),
            ..SearchResult::default()
        })
        .filter(|r| filter.keeps(r))
        .map(row)
        .collect();
    Ok(SearchOutcome {
        rows,
        notice: Some(format!(
            "{registry} does not support the search API (/v1/search): matching repository names from its catalog (/v2/_catalog) instead"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(args: &[&str]) -> Result<SearchFilter> {
        SearchFilter::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn terms_split_like_docker() {
        let s = |t: &str| split_term(t);
        assert_eq!(
            s("127.0.0.1:5000/ubu"),
            ("127.0.0.1:5000".into(), "ubu".into())
        );
        assert_eq!(s("localhost/a/b"), ("localhost".into(), "a/b".into()));
        assert_eq!(s("ubuntu"), ("docker.io".into(), "ubuntu".into()));
        assert_eq!(s("user/app"), ("docker.io".into(), "user/app".into()));
        assert_eq!(
            s("index.docker.io/library/alpine"),
            ("docker.io".into(), "library/alpine".into())
        );
        assert_eq!(
            s("reg.example:5000"),
            ("docker.io".into(), "reg.example:5000".into())
        );
    }

    #[test]
    fn filters_validated_like_the_daemon() {
        assert_eq!(f(&[]).unwrap(), SearchFilter::default());
        let got = f(&["IS-OFFICIAL = true ", "stars=3", "stars=10"]).unwrap();
        assert_eq!(got.is_official, Some(true));
        assert_eq!(got.stars, Some(10));
        assert_eq!(
            f(&["nope"]).unwrap_err().message,
            "bad format of filter (expected name=value)"
        );
        assert_eq!(f(&["foo=1"]).unwrap_err().message, "invalid filter 'foo'");
        assert_eq!(
            f(&["is-official=maybe"]).unwrap_err().message,
            "invalid filter 'is-official=[maybe]'"
        );
        assert_eq!(
            f(&["is-official=true", "is-official=0"])
                .unwrap_err()
                .message,
            "invalid filter 'is-official=[0 true]'"
        );
        assert_eq!(
            f(&["stars=abc"]).unwrap_err().message,
            "invalid filter 'stars=abc': strconv.Atoi: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            f(&["stars=99999999999999999999"]).unwrap_err().message,
            "invalid filter 'stars=99999999999999999999': strconv.Atoi: parsing \"99999999999999999999\": value out of range"
        );
        // is-automated=true answers nothing before the other filters are looked at.
        assert_eq!(
            f(&["is-automated=true", "is-official=maybe"])
                .unwrap()
                .is_automated,
            Some(true)
        );
        assert!(f(&["is-automated=TRUE"]).is_err());
    }

    #[test]
    fn limits() {
        assert_eq!(check_limit(0).unwrap(), 25);
        assert_eq!(check_limit(1).unwrap(), 1);
        assert_eq!(check_limit(100).unwrap(), 100);
        assert_eq!(
            check_limit(101).unwrap_err().message,
            "limit 101 is outside the range of [1, 100]"
        );
        assert_eq!(
            check_limit(-3).unwrap_err().message,
            "limit -3 is outside the range of [1, 100]"
        );
    }

    #[test]
    fn filter_keeps() {
        let r = SearchResult {
            name: "a".into(),
            star_count: 5,
            is_official: true,
            ..SearchResult::default()
        };
        let keep = |args: &[&str]| f(args).unwrap().keeps(&r);
        assert!(keep(&[]));
        assert!(keep(&["stars=5"]));
        assert!(!keep(&["stars=6"]));
        assert!(keep(&["is-official=1"]));
        assert!(!keep(&["is-official=false"]));
        assert!(keep(&["is-automated=false"]));
    }
}
