//! What a request needs: method and path mapped to a repository and actions, the catalog, the
//! search endpoint, or plain authentication (`/v2/`).
//!
//! `/v2/<name>/{manifests,blobs,tags,referrers}/<ref>` and `/v2/<name>/blobs/uploads/[<id>]`:
//! references, digests and session ids contain no `/`, so the name is found from the end of the
//! path; names themselves may contain `/` (and even a component called `blobs`). The path is
//! percent-decoded first so the name checked is the name the router sees, and a name outside the
//! distribution grammar is refused here (`NAME_INVALID`) before any permission check.

use super::config::ActionSet;
use crate::names::valid_repo;
use axum::http::Method;

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// `/v1/_ping`: nothing.
    Nothing,
    /// `/v2/` (and unrecognised paths): an authenticated client.
    Authenticated,
    /// `/v2/_catalog`: `registry:catalog:*`; the listing is filtered per repository later.
    Catalog,
    /// `/v1/search`: authenticated or admitted anonymous; results filtered later.
    Search,
    /// Actions on a repository. `mount_from`: the `from` repository of a cross-repository mount
    /// (`POST …/blobs/uploads/?mount=&from=`), which needs pull there too.
    Repository {
        name: String,
        actions: ActionSet,
        mount_from: Option<String>,
    },
}

/// The request's path is not valid: a repository name outside the grammar or bytes that don't
/// decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidName(pub String);

/// Maps a request to its need. `path` is the raw (percent-encoded) path, `query` the raw query.
pub fn need_of(method: &Method, path: &str, query: Option<&str>) -> Result<Need, InvalidName> {
    let decoded = percent_decode(path).ok_or_else(|| InvalidName(path.to_string()))?;
    if decoded == "/v1/_ping" {
        return Ok(Need::Nothing);
    }
    if decoded == "/v1/search" {
        return Ok(Need::Search);
    }
    let Some(rest) = decoded.strip_prefix("/v2/") else {
        return Ok(Need::Authenticated);
    };
    if rest.is_empty() {
        return Ok(Need::Authenticated);
    }
    if rest == "_catalog" {
        return Ok(Need::Catalog);
    }
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    // blobs/uploads/<id> or blobs/uploads/ (the trailing slash leaves an empty last segment).
    let (name_segs, upload_start) = if n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads"
    {
        (&segs[..n - 3], segs[n - 1].is_empty())
    } else if n >= 3
        && matches!(segs[n - 2], "manifests" | "blobs" | "tags" | "referrers")
        && !segs[n - 1].is_empty()
    {
        (
            &segs[..n - 2],
            segs[n - 2] == "blobs" && segs[n - 1] == "uploads",
        )
    } else {
        return Ok(Need::Authenticated);
    };
    let name = name_segs.join("/");
    if !valid_repo(&name) {
        return Err(InvalidName(name));
    }
    let actions = if *method == Method::GET || *method == Method::HEAD {
        ActionSet::PULL
    } else if *method == Method::DELETE {
        ActionSet::DELETE
    } else if *method == Method::POST || *method == Method::PUT || *method == Method::PATCH {
        ActionSet::PUSH
    } else {
        ActionSet::PULL
    };
    let mut mount_from = None;
    if upload_start && *method == Method::POST {
        let q = parse_query(query.unwrap_or(""));
        let has_mount = q.iter().any(|(k, _)| k == "mount");
        if let Some((_, from)) = q.iter().find(|(k, _)| k == "from")
            && has_mount
        {
            mount_from = Some(from.clone());
        }
    }
    Ok(Need::Repository {
        name,
        actions,
        mount_from,
    })
}

/// Percent-decodes `s` (no `+` handling); `None` for a bad escape or non-UTF-8 result.
pub fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses `application/x-www-form-urlencoded` text (a query string or a form body) into pairs,
/// keeping repeated keys. Undecodable pairs are skipped.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((
                percent_decode(&k.replace('+', " "))?,
                percent_decode(&v.replace('+', " "))?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str, actions: ActionSet) -> Need {
        Need::Repository {
            name: name.into(),
            actions,
            mount_from: None,
        }
    }

    #[test]
    fn paths_to_needs() {
        let get = Method::GET;
        assert_eq!(need_of(&get, "/v2/", None), Ok(Need::Authenticated));
        assert_eq!(need_of(&get, "/v2", None), Ok(Need::Authenticated));
        assert_eq!(
            need_of(&get, "/v2/_catalog", Some("n=10")),
            Ok(Need::Catalog)
        );
        assert_eq!(need_of(&get, "/v1/search", Some("q=x")), Ok(Need::Search));
        assert_eq!(need_of(&get, "/v1/_ping", None), Ok(Need::Nothing));
        assert_eq!(need_of(&get, "/v1/other", None), Ok(Need::Authenticated));
        assert_eq!(
            need_of(&get, "/v2/a/b/manifests/latest", None),
            Ok(repo("a/b", ActionSet::PULL))
        );
        assert_eq!(
            need_of(&Method::HEAD, "/v2/a/blobs/sha256:00", None),
            Ok(repo("a", ActionSet::PULL))
        );
        assert_eq!(
            need_of(&get, "/v2/x/blobs/y/tags/list", None),
            Ok(repo("x/blobs/y", ActionSet::PULL))
        );
        assert_eq!(
            need_of(&get, "/v2/a/referrers/sha256:00", Some("artifactType=x")),
            Ok(repo("a", ActionSet::PULL))
        );
        assert_eq!(
            need_of(&Method::PUT, "/v2/a/b/manifests/v1", None),
            Ok(repo("a/b", ActionSet::PUSH))
        );
        assert_eq!(
            need_of(&Method::POST, "/v2/a/b/blobs/uploads/", None),
            Ok(repo("a/b", ActionSet::PUSH))
        );
        assert_eq!(
            need_of(&Method::PATCH, "/v2/a/blobs/uploads/0f-12", None),
            Ok(repo("a", ActionSet::PUSH))
        );
        assert_eq!(
            need_of(&get, "/v2/a/blobs/uploads/0f-12", None),
            Ok(repo("a", ActionSet::PULL))
        );
        assert_eq!(
            need_of(&Method::DELETE, "/v2/a/manifests/sha256:00", None),
            Ok(repo("a", ActionSet::DELETE))
        );
        assert_eq!(
            need_of(&Method::DELETE, "/v2/a/blobs/uploads/0f", None),
            Ok(repo("a", ActionSet::DELETE))
        );
        // Unknown shapes need authentication only (the router answers 404).
        assert_eq!(need_of(&get, "/v2/a/b", None), Ok(Need::Authenticated));
        assert_eq!(
            need_of(&get, "/v2/a/manifests/", None),
            Ok(Need::Authenticated)
        );
        assert_eq!(need_of(&get, "/", None), Ok(Need::Authenticated));
    }

    #[test]
    fn mounts() {
        let post = Method::POST;
        assert_eq!(
            need_of(
                &post,
                "/v2/dst/blobs/uploads/",
                Some("mount=sha256%3A00&from=src%2Fx")
            ),
            Ok(Need::Repository {
                name: "dst".into(),
                actions: ActionSet::PUSH,
                mount_from: Some("src/x".into())
            })
        );
        // `from` without `mount`, or on another method: no mount.
        assert_eq!(
            need_of(&post, "/v2/dst/blobs/uploads/", Some("from=src")),
            Ok(repo("dst", ActionSet::PUSH))
        );
        assert_eq!(
            need_of(
                &Method::PUT,
                "/v2/dst/blobs/uploads/",
                Some("mount=a&from=src")
            ),
            Ok(repo("dst", ActionSet::PUSH))
        );
    }

    #[test]
    fn encoded_and_invalid_names() {
        let get = Method::GET;
        assert_eq!(
            need_of(&get, "/v2/a%2fb/manifests/latest", None),
            Ok(repo("a/b", ActionSet::PULL))
        );
        for bad in [
            "/v2/a/../b/manifests/latest",
            "/v2/a/%2e%2e/b/manifests/latest",
            "/v2/A/manifests/latest",
            "/v2//a/manifests/latest",
            "/v2/a-/manifests/latest",
            "/v2/a%/manifests/latest",
            "/v2/a%ff/manifests/latest",
        ] {
            assert!(need_of(&get, bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn query_parsing() {
        assert_eq!(
            parse_query("scope=a%3Ab&scope=c+d&x&=y"),
            vec![
                ("scope".to_string(), "a:b".to_string()),
                ("scope".to_string(), "c d".to_string()),
                ("x".to_string(), String::new()),
                (String::new(), "y".to_string()),
            ]
        );
    }
}
