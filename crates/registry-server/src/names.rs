//! What a request path carries, parsed once and validated before anything can reach the disk:
//! repository names (the distribution spec's grammar), tags, upload session ids, and the split
//! of a path into the [`Target`] both the auth middleware and the router act on.
//!
//! One parse serves both so that the name authorized is the name served. The path is split on
//! its literal `/` first, from the end (references, digests and session ids contain no `/`;
//! names may, and may even contain a component called `blobs`); each part is then
//! percent-decoded on its own. So `a%2fb` names the repository `a/b`, while an encoded `/` in
//! an upload id cannot move the split. A decoded `..` or `.` fails the name grammar, and a part
//! that does not decode keeps its `%`, which no grammar (name, tag, digest, upload id) admits.

/// Longest repository name accepted (distribution's limit).
pub const MAX_NAME_LEN: usize = oci_model::reference::NAME_TOTAL_LENGTH_MAX;

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, at most
/// [`MAX_NAME_LEN`] bytes: the reference grammar's remote name, as `oci-model` matches it.
pub fn valid_repo(name: &str) -> bool {
    name.len() <= MAX_NAME_LEN && oci_model::reference::is_remote_name(name)
}

/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// An upload session id as this server makes them: a lowercase hyphenated UUID.
pub fn valid_upload_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// A fresh random (version 4) UUID.
pub fn new_upload_id() -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 16];
    SystemRandom::new()
        .fill(&mut b)
        .expect("the system random source failed");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// What a `/v2/<name>/…` path names: borrowed pieces of the raw path from [`route`], owned and
/// decoded ones in a [`Target`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<S = String> {
    /// `/v2/<name>/tags/list`
    Tags(S),
    /// `/v2/<name>/manifests/<reference>`
    Manifest(S, S),
    /// `/v2/<name>/blobs/uploads/`
    UploadStart(S),
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload(S, S),
    /// `/v2/<name>/blobs/<digest>`
    Blob(S, S),
    /// `/v2/<name>/referrers/<digest>`
    Referrers(S, S),
}

impl<S> Route<S> {
    /// The repository name.
    pub fn name(&self) -> &S {
        match self {
            Route::Tags(n)
            | Route::Manifest(n, _)
            | Route::UploadStart(n)
            | Route::Upload(n, _)
            | Route::Blob(n, _)
            | Route::Referrers(n, _) => n,
        }
    }

    fn map<T>(self, f: impl Fn(S) -> T) -> Route<T> {
        match self {
            Route::Tags(n) => Route::Tags(f(n)),
            Route::Manifest(n, r) => Route::Manifest(f(n), f(r)),
            Route::UploadStart(n) => Route::UploadStart(f(n)),
            Route::Upload(n, id) => Route::Upload(f(n), f(id)),
            Route::Blob(n, d) => Route::Blob(f(n), f(d)),
            Route::Referrers(n, d) => Route::Referrers(f(n), f(d)),
        }
    }
}

/// Splits the raw part of a request path after `/v2/` into a route, from the end. A reference,
/// digest or id must not be empty. The name is neither decoded nor validated yet.
pub fn route(rest: &str) -> Option<Route<&str>> {
    let (head, last) = rest.rsplit_once('/')?;
    if last == "list"
        && let Some(name) = head.strip_suffix("/tags")
    {
        return Some(Route::Tags(name));
    }
    if last.is_empty()
        && let Some(name) = head.strip_suffix("/blobs/uploads")
    {
        return Some(Route::UploadStart(name));
    }
    if last == "uploads"
        && let Some(name) = head.strip_suffix("/blobs")
    {
        return Some(Route::UploadStart(name));
    }
    if last.is_empty() {
        return None;
    }
    if let Some(name) = head.strip_suffix("/blobs/uploads") {
        return Some(Route::Upload(name, last));
    }
    let (name, kind) = head.rsplit_once('/')?;
    match kind {
        "manifests" => Some(Route::Manifest(name, last)),
        "blobs" => Some(Route::Blob(name, last)),
        "referrers" => Some(Route::Referrers(name, last)),
        _ => None,
    }
}

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/v1/_ping`
    Ping,
    /// `/v1/search`
    Search,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/…` with a valid name; every part decoded.
    Repository(Route),
    /// `/v2/` itself, and every path no route matches (the router answers 404).
    Other,
}

/// A repository name outside the grammar (decoded, or raw when it does not decode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidName(pub String);

/// Parses a raw (percent-encoded) request path.
pub fn parse(path: &str) -> Result<Target, InvalidName> {
    match path {
        "/v1/_ping" => return Ok(Target::Ping),
        "/v1/search" => return Ok(Target::Search),
        "/v2/_catalog" => return Ok(Target::Catalog),
        _ => {}
    }
    let Some(route) = path.strip_prefix("/v2/").and_then(route) else {
        return Ok(Target::Other);
    };
    let route = route.map(|part| percent_decode(part).unwrap_or_else(|| part.to_string()));
    if !valid_repo(route.name()) {
        return Err(InvalidName(route.name().clone()));
    }
    Ok(Target::Repository(route))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_follow_the_spec_grammar() {
        for ok in [
            "a",
            "library/ubuntu",
            "a.b/c_d/e__f/g-h/i---j",
            "0/1/2",
            "x9/y8",
            "a.b_c__d---e",
            "library/alpine",
        ] {
            assert!(valid_repo(ok), "{ok}");
        }
        for bad in [
            "",
            "A",
            "Library/ubuntu",
            "..",
            "a/..",
            "../a",
            "a/./b",
            "/a",
            "a/",
            "a//b",
            "a___b",
            "a..b",
            "-a",
            "a-",
            "a.",
            "_a",
            "%2e%2e",
            "a%2fb",
            "a b",
            "a\0b",
            "a_",
            "a.-b",
        ] {
            assert!(!valid_repo(bad), "{bad:?}");
        }
        assert!(valid_repo(&"a".repeat(255)));
        assert!(!valid_repo(&"a".repeat(256)));
    }

    #[test]
    fn tags_and_upload_ids() {
        assert!(valid_tag("latest") && valid_tag("_x") && valid_tag("v1.2-rc_3"));
        assert!(!valid_tag("") && !valid_tag(".") && !valid_tag("..") && !valid_tag("-a"));
        assert!(!valid_tag("a/b") && !valid_tag(&"a".repeat(129)));
        let id = new_upload_id();
        assert!(valid_upload_id(&id), "{id}");
        assert_ne!(id, new_upload_id());
        assert!(!valid_upload_id("../../../../etc/passwd-xxxxxxxxxxxxxxx"));
        assert!(!valid_upload_id(&id.to_uppercase()));
    }

    #[test]
    fn routes_are_split_from_the_end() {
        for (path, want) in [
            ("a/b/tags/list", Some(Route::Tags("a/b"))),
            ("a/manifests/latest", Some(Route::Manifest("a", "latest"))),
            (
                "blobs/blobs/sha256:00",
                Some(Route::Blob("blobs", "sha256:00")),
            ),
            ("a/b/blobs/uploads/", Some(Route::UploadStart("a/b"))),
            ("a/b/blobs/uploads", Some(Route::UploadStart("a/b"))),
            ("a/blobs/uploads/1234", Some(Route::Upload("a", "1234"))),
            (
                "a/referrers/sha256:00",
                Some(Route::Referrers("a", "sha256:00")),
            ),
            ("a/tags/list/x", None),
            ("a", None),
            ("a/other/x", None),
            ("a/manifests/", None),
            ("a/blobs/", None),
        ] {
            assert_eq!(route(path), want, "{path}");
        }
    }

    #[test]
    fn paths_are_split_then_decoded() {
        let repo = |r: Route<&str>| Ok(Target::Repository(r.map(str::to_string)));
        assert_eq!(parse("/v1/_ping"), Ok(Target::Ping));
        assert_eq!(parse("/v1/search"), Ok(Target::Search));
        assert_eq!(parse("/v2/_catalog"), Ok(Target::Catalog));
        for other in [
            "/v2",
            "/v2/",
            "/",
            "/v1/other",
            "/v2/a/b",
            "/v2/a/manifests/",
        ] {
            assert_eq!(parse(other), Ok(Target::Other), "{other}");
        }
        for (path, want) in [
            ("/v2/a%2fb/manifests/v%31", Route::Manifest("a/b", "v1")),
            // An encoded `/` in the last part cannot move the split.
            (
                "/v2/a/blobs/uploads/..%2f..%2fetc",
                Route::Upload("a", "../../etc"),
            ),
            // A part that does not decode stays raw; the `%` fails its grammar later.
            ("/v2/a/manifests/%ff", Route::Manifest("a", "%ff")),
        ] {
            assert_eq!(parse(path), repo(want), "{path}");
        }
        for (path, name) in [
            ("/v2/a%/manifests/latest", "a%"),
            ("/v2/a%ff/manifests/latest", "a%ff"),
            ("/v2/%2e%2e/tags/list", ".."),
            ("/v2/a%2f..%2fb/blobs/uploads/", "a/../b"),
            ("/v2/A/manifests/latest", "A"),
        ] {
            assert_eq!(parse(path), Err(InvalidName(name.into())), "{path}");
        }
    }
}
