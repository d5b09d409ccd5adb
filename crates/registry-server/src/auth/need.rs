//! What a request needs: its method and [`Target`] mapped to a repository and actions, the
//! catalog, the search endpoint, or plain authentication (`/v2/` and paths no route matches).
//!
//! The target comes from the one path parser ([`crate::names::parse`]) the router uses too, so
//! the repository authorized is the repository served; its name is already valid.

use super::config::ActionSet;
use crate::names::{InvalidName, Route, Target, percent_decode};
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

/// Maps a request to its need. `path` is the raw (percent-encoded) path, `query` the raw query.
/// The middleware maps the target already parsed for the request instead (`need`).
pub fn need_of(method: &Method, path: &str, query: Option<&str>) -> Result<Need, InvalidName> {
    crate::names::parse(path).map(|target| need(method, &target, query))
}

/// Maps a request's method, parsed target and raw query to its need.
pub fn need(method: &Method, target: &Target, query: Option<&str>) -> Need {
    let route = match target {
        Target::Ping => return Need::Nothing,
        Target::Search => return Need::Search,
        Target::Catalog => return Need::Catalog,
        Target::Other => return Need::Authenticated,
        Target::Repository(route) => route,
    };
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
    if matches!(route, Route::UploadStart(_)) && *method == Method::POST {
        let q = parse_query(query.unwrap_or(""));
        let has_mount = q.iter().any(|(k, _)| k == "mount");
        if let Some((_, from)) = q.iter().find(|(k, _)| k == "from")
            && has_mount
        {
            mount_from = Some(from.clone());
        }
    }
    Need::Repository {
        name: route.name().clone(),
        actions,
        mount_from,
    }
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
