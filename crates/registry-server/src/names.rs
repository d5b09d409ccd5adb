//! Validation of everything a request path carries before it can reach the disk: repository
//! names (the distribution spec's grammar), tags, upload session ids; and the split of a
//! `/v2/<name>/<kind>/<ref>` path into its route.
//!
//! Paths are matched on the raw (still percent-encoded) request path, so `%2e%2e` or `%2f`
//! stay literal and fail the name grammar; `..` fails it too.

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

/// What a `/v2/…` path below the base names. The name is not validated yet.
#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/v2/<name>/tags/list`
    Tags(&'a str),
    /// `/v2/<name>/manifests/<reference>`
    Manifest(&'a str, &'a str),
    /// `/v2/<name>/blobs/uploads/`
    UploadStart(&'a str),
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload(&'a str, &'a str),
    /// `/v2/<name>/blobs/<digest>`
    Blob(&'a str, &'a str),
    /// `/v2/<name>/referrers/<digest>`
    Referrers(&'a str, &'a str),
}

/// Splits the part of a request path after `/v2/` into a route. Checks from the end, so a name
/// may itself contain components like `blobs` or `tags`.
pub fn route(rest: &str) -> Option<Route<'_>> {
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
        assert_eq!(route("a/b/tags/list"), Some(Route::Tags("a/b")));
        assert_eq!(
            route("a/manifests/latest"),
            Some(Route::Manifest("a", "latest"))
        );
        assert_eq!(
            route("blobs/blobs/sha256:00"),
            Some(Route::Blob("blobs", "sha256:00"))
        );
        assert_eq!(route("a/b/blobs/uploads/"), Some(Route::UploadStart("a/b")));
        assert_eq!(route("a/b/blobs/uploads"), Some(Route::UploadStart("a/b")));
        assert_eq!(
            route("a/blobs/uploads/1234"),
            Some(Route::Upload("a", "1234"))
        );
        assert_eq!(
            route("a/referrers/sha256:00"),
            Some(Route::Referrers("a", "sha256:00"))
        );
        assert_eq!(route("a/tags/list/x"), None);
        assert_eq!(route("a"), None);
        assert_eq!(route("a/other/x"), None);
    }
}
