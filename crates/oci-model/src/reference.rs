//! Image references: the `distribution/reference` grammar plus Docker's normalization
//! (`ParseNormalizedNamed`, familiar names, `TagNameOnly`).
//!
//! The grammar is matched by hand rather than with regular expressions; every rule below
//! corresponds to one production of the reference grammar:
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain '/'] remote-name
//! domain           := host [':' port-number]
//! host             := domain-name | '[' IPv6 hex and ':' ']'
//! domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! path-component   := [a-z0-9]+ ( ( '.' | '_' | '__' | '-'+ ) [a-z0-9]+ )*
//! tag              := [\w][\w.-]{0,127}
//! digest           := algorithm ':' hex{32,}
//! ```

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use std::fmt;
use std::str::FromStr;

/// Docker Hub's canonical domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The legacy Docker Hub domain, rewritten to [`DEFAULT_DOMAIN`].
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Namespace of Docker Hub's official images.
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag [`Reference::with_default_tag`] adds.
pub const DEFAULT_TAG: &str = "latest";
/// Maximum length of the repository path (the domain is not counted).
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A parsed, normalized image reference: `domain/path[:tag][@digest]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Docker's `ParseNormalizedNamed`: `alpine` → `docker.io/library/alpine` (no tag added).
    pub fn parse_normalized(s: &str) -> Result<Reference> {
        if is_identifier(s) {
            return Err(Error::invalid(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote = match remainder.find(':') {
            Some(i) => &remainder[..i],
            None => remainder.as_str(),
        };
        if remote.to_lowercase() != remote {
            return Err(Error::invalid(format!(
                "invalid reference format: repository name ({remote}) must be lowercase"
            )));
        }
        parse_any(&format!("{domain}/{remainder}"))
    }

    /// Docker's `TagNameOnly`: adds the `latest` tag iff the reference has neither tag nor digest.
    pub fn with_default_tag(mut self) -> Reference {
        if self.is_name_only() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// `docker.io`, `localhost:5000`, `[::1]:5000`. Empty only in the corner case where the
    /// first component looked like a host to Docker's splitter but is not a valid one
    /// (e.g. `a_b.c/x`); `distribution/reference` then keeps the whole input as the path.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry, e.g. `library/alpine`.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// True when the reference has neither a tag nor a digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The full repository name: `docker.io/library/alpine`.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The short form Docker shows: `alpine`, `user/app`, `localhost:5000/a/b`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            if let Some(rest) = self.path.strip_prefix(OFFICIAL_REPO_PREFIX)
                && !rest.contains('/')
            {
                return rest.to_string();
            }
            return self.path.clone();
        }
        self.name()
    }

    /// Familiar name plus `:tag` and `@digest` (both when both are present).
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        self.push_suffix(&mut s);
        s
    }

    /// The same name with a new tag and no digest. Fails with `invalid tag format`.
    pub fn with_tag(&self, tag: &str) -> Result<Reference> {
        if !is_tag(tag) {
            return Err(Error::invalid("invalid tag format"));
        }
        Ok(Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.name_only()
        })
    }

    /// The same name with a digest and no tag.
    pub fn with_digest(&self, d: Digest) -> Reference {
        Reference {
            digest: Some(d),
            ..self.name_only()
        }
    }

    /// The name without tag or digest.
    pub fn name_only(&self) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }

    /// What to ask the registry for: the digest if there is one (so `name:tag@digest` pulls by
    /// digest), else the tag; `None` for a name-only reference.
    pub fn registry_reference(&self) -> Option<String> {
        match (&self.digest, &self.tag) {
            (Some(d), _) => Some(d.to_string()),
            (None, Some(t)) => Some(t.clone()),
            (None, None) => None,
        }
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Reference> {
        Reference::parse_normalized(s)
    }
}

/// `^[a-f0-9]{64}$`: a bare image ID, which Docker refuses as a repository name.
fn is_identifier(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Docker's `splitDockerDomain`: decides whether the first `/`-separated component is a registry
/// host, and canonicalizes Docker Hub names.
fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remote) = match name.split_once('/') {
        None => {
            return (
                DEFAULT_DOMAIN.to_string(),
                format!("{OFFICIAL_REPO_PREFIX}{name}"),
            );
        }
        Some((first, rest)) => {
            if first == "localhost" || first.contains(['.', ':']) || first.to_lowercase() != first {
                (first.to_string(), rest.to_string())
            } else {
                (DEFAULT_DOMAIN.to_string(), name.to_string())
            }
        }
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remote.contains('/') {
        remote = format!("{OFFICIAL_REPO_PREFIX}{remote}");
    }
    (domain, remote)
}

/// `distribution/reference.Parse` for a string that must carry a name.
fn parse_any(s: &str) -> Result<Reference> {
    let Some(m) = match_reference(s) else {
        if s.is_empty() {
            return Err(Error::invalid(
                "repository name must have at least one component",
            ));
        }
        if match_reference(&s.to_lowercase()).is_some() {
            return Err(Error::invalid("repository name must be lowercase"));
        }
        return Err(Error::invalid("invalid reference format"));
    };
    if m.path.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(Error::invalid(format!(
            "repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        )));
    }
    let digest = match m.digest {
        Some(d) => Some(parse_reference_digest(d)?),
        None => None,
    };
    Ok(Reference {
        domain: m.domain.to_string(),
        path: m.path.to_string(),
        tag: m.tag.map(str::to_string),
        digest,
    })
}

/// Validates a digest that matched the grammar (go-digest's `Parse` rules); only sha256 is
/// usable here.
fn parse_reference_digest(d: &str) -> Result<Digest> {
    let (algo, hex) = d.split_once(':').expect("digest grammar guarantees a ':'");
    if algo == "sha256" {
        if hex.len() != 64 {
            return Err(Error::invalid("invalid checksum digest length"));
        }
        return Digest::from_hex(hex).map_err(|_| Error::invalid("invalid checksum digest format"));
    }
    let known_form = algo.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'+' | b'_' | b'-')
    });
    if !known_form {
        return Err(Error::invalid("invalid checksum digest format"));
    }
    Err(Error::new(
        ErrorKind::Unsupported,
        format!("unsupported digest algorithm: {algo} (only sha256 digests are supported)"),
    ))
}

struct RefMatch<'a> {
    domain: &'a str,
    path: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

/// Matches `^(name)(?::(tag))?(?:@(digest))?$` and splits the name like `anchoredNameRegexp`
/// (a leading valid `domain/` is always taken as the domain).
fn match_reference(s: &str) -> Option<RefMatch<'_>> {
    // Neither name nor tag nor digest may contain '@'.
    let (before, digest) = match s.split_once('@') {
        Some((b, d)) => (b, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest
        && !is_digest_pattern(d)
    {
        return None;
    }
    // Every ':' inside a name (port, IPv6) is followed by a '/', so a ':' with no '/' after it
    // must start the tag.
    let (name, tag) = match before.rfind(':') {
        Some(i) if !before[i + 1..].contains('/') => (&before[..i], Some(&before[i + 1..])),
        _ => (before, None),
    };
    if let Some(t) = tag
        && !is_tag(t)
    {
        return None;
    }
    let (domain, path) = split_name(name)?;
    Some(RefMatch {
        domain,
        path,
        tag,
        digest,
    })
}

/// `anchoredNameRegexp`: `^(?:(domainAndPort)/)?(remoteName)$`, preferring a domain.
fn split_name(name: &str) -> Option<(&str, &str)> {
    if let Some((first, rest)) = name.split_once('/')
        && is_domain_and_port(first)
        && is_remote_name(rest)
    {
        return Some((first, rest));
    }
    if is_remote_name(name) {
        Some(("", name))
    } else {
        None
    }
}

/// `remote-name`: one or more path components joined by `/` (the path of a repository name,
/// no domain). No length limit; callers apply [`NAME_TOTAL_LENGTH_MAX`] where it matters.
pub fn is_remote_name(s: &str) -> bool {
    s.split('/').all(is_path_component)
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && is_lower_alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// `host optionalPort` where host is a domain name or a bracketed IPv6 address.
fn is_domain_and_port(s: &str) -> bool {
    let (host, port) = if s.starts_with('[') {
        match s.find(']') {
            Some(i) => (&s[..=i], &s[i + 1..]),
            None => return false,
        }
    } else {
        match s.find(':') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        }
    };
    let port_ok = port.is_empty()
        || (port.len() > 1
            && port.starts_with(':')
            && port[1..].bytes().all(|b| b.is_ascii_digit()));
    port_ok && is_host(host)
}

fn is_host(s: &str) -> bool {
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    }
    s.split('.').all(is_domain_component)
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn is_domain_component(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        }
        _ => false,
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `[\w][\w.-]{0,127}`
fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && is_word(b[0])
        && b[1..].iter().all(|&c| is_word(c) || c == b'.' || c == b'-')
}

/// `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`
fn is_digest_pattern(s: &str) -> bool {
    let Some((algo, hex)) = s.split_once(':') else {
        return false;
    };
    let algo_ok = algo.split(['-', '_', '+', '.']).all(|c| {
        let b = c.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    });
    algo_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn parse(s: &str) -> Reference {
        Reference::parse_normalized(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> Error {
        match Reference::parse_normalized(s) {
            Ok(r) => panic!("{s} parsed as {r}"),
            Err(e) => e,
        }
    }

    /// input, domain, path, tag, has digest, canonical Display, familiar string
    type Case<'a> = (
        String,
        &'a str,
        &'a str,
        Option<&'a str>,
        bool,
        String,
        String,
    );

    #[test]
    fn normalization_table() {
        let d = format!("sha256:{HEX}");
        // input, domain, path, tag, digest?, canonical Display, familiar string
        let mut cases: Vec<Case> = vec![
            (
                "alpine".into(),
                "docker.io",
                "library/alpine",
                None,
                false,
                "docker.io/library/alpine".into(),
                "alpine".into(),
            ),
            (
                "alpine:3.20".into(),
                "docker.io",
                "library/alpine",
                Some("3.20"),
                false,
                "docker.io/library/alpine:3.20".into(),
                "alpine:3.20".into(),
            ),
            (
                "user/app:1".into(),
                "docker.io",
                "user/app",
                Some("1"),
                false,
                "docker.io/user/app:1".into(),
                "user/app:1".into(),
            ),
            (
                "docker.io/alpine".into(),
                "docker.io",
                "library/alpine",
                None,
                false,
                "docker.io/library/alpine".into(),
                "alpine".into(),
            ),
            (
                "docker.io/library/alpine".into(),
                "docker.io",
                "library/alpine",
                None,
                false,
                "docker.io/library/alpine".into(),
                "alpine".into(),
            ),
            (
                "index.docker.io/user/app".into(),
                "docker.io",
                "user/app",
                None,
                false,
                "docker.io/user/app".into(),
                "user/app".into(),
            ),
            (
                "index.docker.io/alpine".into(),
                "docker.io",
                "library/alpine",
                None,
                false,
                "docker.io/library/alpine".into(),
                "alpine".into(),
            ),
            (
                "docker.io/library/a/b".into(),
                "docker.io",
                "library/a/b",
                None,
                false,
                "docker.io/library/a/b".into(),
                "library/a/b".into(),
            ),
            // bare "localhost" / "example.com" are Docker Hub repositories, not domains
            (
                "localhost".into(),
                "docker.io",
                "library/localhost",
                None,
                false,
                "docker.io/library/localhost".into(),
                "localhost".into(),
            ),
            (
                "example.com".into(),
                "docker.io",
                "library/example.com",
                None,
                false,
                "docker.io/library/example.com".into(),
                "example.com".into(),
            ),
            (
                "localhost:5000".into(),
                "docker.io",
                "library/localhost",
                Some("5000"),
                false,
                "docker.io/library/localhost:5000".into(),
                "localhost:5000".into(),
            ),
            (
                "my-host/app".into(),
                "docker.io",
                "my-host/app",
                None,
                false,
                "docker.io/my-host/app".into(),
                "my-host/app".into(),
            ),
            // separators
            (
                "a_b/c__d/e.f/g-h/i---j".into(),
                "docker.io",
                "a_b/c__d/e.f/g-h/i---j",
                None,
                false,
                "docker.io/a_b/c__d/e.f/g-h/i---j".into(),
                "a_b/c__d/e.f/g-h/i---j".into(),
            ),
            // tag grammar: \w start, then \w . -
            (
                "alpine:_x.Y-z".into(),
                "docker.io",
                "library/alpine",
                Some("_x.Y-z"),
                false,
                "docker.io/library/alpine:_x.Y-z".into(),
                "alpine:_x.Y-z".into(),
            ),
            (
                format!("ubuntu:24.04@{d}"),
                "docker.io",
                "library/ubuntu",
                Some("24.04"),
                true,
                format!("docker.io/library/ubuntu:24.04@{d}"),
                format!("ubuntu:24.04@{d}"),
            ),
            (
                format!("ubuntu@{d}"),
                "docker.io",
                "library/ubuntu",
                None,
                true,
                format!("docker.io/library/ubuntu@{d}"),
                format!("ubuntu@{d}"),
            ),
        ];
        // Names already canonical as written: Display and the familiar string are the input.
        let written: Vec<(String, &str, &str, Option<&str>, bool)> = vec![
            ("localhost/app".into(), "localhost", "app", None, false),
            (
                format!("localhost:5000/a/b@{d}"),
                "localhost:5000",
                "a/b",
                None,
                true,
            ),
            (
                "myregistry.local:5000/testing/test-image".into(),
                "myregistry.local:5000",
                "testing/test-image",
                None,
                false,
            ),
            ("example:5000/x".into(), "example:5000", "x", None, false),
            ("127.0.0.1/x:t".into(), "127.0.0.1", "x", Some("t"), false),
            ("[::1]:5000/x".into(), "[::1]:5000", "x", None, false),
            (
                "[2001:db8::1]/x/y:v1".into(),
                "[2001:db8::1]",
                "x/y",
                Some("v1"),
                false,
            ),
            // an uppercase first component can only be a host
            ("Foo/bar".into(), "Foo", "bar", None, false),
            (
                "REGISTRY.Example.COM/team/app".into(),
                "REGISTRY.Example.COM",
                "team/app",
                None,
                false,
            ),
            // a first component with '.' that is not a valid host: reference.Parse keeps it in the path
            ("a_b.c/foo".into(), "", "a_b.c/foo", None, false),
        ];
        cases.extend(
            written
                .into_iter()
                .map(|(input, domain, path, tag, has_digest)| {
                    let display = input.clone();
                    (input.clone(), domain, path, tag, has_digest, display, input)
                }),
        );
        for (input, domain, path, tag, has_digest, display, familiar) in cases {
            let r = parse(&input);
            assert_eq!(r.domain(), domain, "{input}");
            assert_eq!(r.path(), path, "{input}");
            assert_eq!(r.tag(), tag, "{input}");
            assert_eq!(r.digest().is_some(), has_digest, "{input}");
            assert_eq!(r.to_string(), display, "{input}");
            assert_eq!(r.familiar_string(), familiar, "{input}");
            assert_eq!(input.parse::<Reference>().unwrap(), r);
        }
    }

    #[test]
    fn error_table() {
        let d = format!("sha256:{HEX}");
        let cases: Vec<(String, &str)> = vec![
            (
                HEX.into(),
                "invalid repository name (e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855), cannot specify 64-byte hexadecimal strings",
            ),
            (
                "Alpine".into(),
                "invalid reference format: repository name (library/Alpine) must be lowercase",
            ),
            (
                "Alpine:Latest".into(),
                "invalid reference format: repository name (library/Alpine) must be lowercase",
            ),
            (
                "user/App".into(),
                "invalid reference format: repository name (user/App) must be lowercase",
            ),
            (
                "localhost:5000/Foo:1".into(),
                "invalid reference format: repository name (Foo) must be lowercase",
            ),
            (
                "docker.io/Foo".into(),
                "invalid reference format: repository name (library/Foo) must be lowercase",
            ),
            // Parse's own uppercase rule: invalid as written, valid once lowercased
            ("Foo_bar/baz".into(), "repository name must be lowercase"),
            (
                "a@sha256:0123456789abcdef0123456789abcdef".into(),
                "invalid checksum digest length",
            ),
            (
                format!("a@sha256:{}", HEX.to_uppercase()),
                "invalid checksum digest format",
            ),
            (
                format!("a/{}", "b".repeat(254)),
                "repository name must not be more than 255 characters",
            ),
        ];
        // Everything else is plainly "invalid reference format".
        let plain = [
            "",
            "alpine:",
            "alpine@",
            "alpine:bad$tag",
            "alpine:.x",
            "alpine:-x",
            &format!("alpine:{}", "a".repeat(129)),
            "a___b",
            "a..b",
            "a._b",
            "-ab",
            "ab-",
            "a//b",
            "a/b/",
            "/a",
            "example.com:port/a",
            "-bad.com/a",
            "[::1/a",
            "[]:5000/a",
            "[::g]/a",
            // without '.' or ':' a bracketed first component is not taken as a host
            "[a]/b",
            "example.com:/a",
            "a b",
            &format!("a@{d}@{d}"),
            "a@sha256:abc",
            "a@sha256",
            "a@1sha:0123456789abcdef0123456789abcdef",
            &format!("a@sha256:{}g", "0".repeat(63)),
        ];
        let plain = plain.map(|i| (i.to_string(), "invalid reference format"));
        for (input, msg) in cases.into_iter().chain(plain) {
            let e = err(&input);
            assert_eq!(e.message, msg, "{input}");
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{input}");
        }
    }

    #[test]
    fn length_limit_applies_to_the_path_only() {
        // docker.io/ + library/ + 247 = exactly 255 characters of path
        let ok = "a".repeat(255 - "library/".len());
        assert_eq!(parse(&ok).path().len(), 255);
        assert!(err(&format!("{ok}a")).message.contains("255"));
        // a long domain does not count
        let host = format!("{}.example.com", "h".repeat(60));
        let p = format!("{host}/{}", "x".repeat(255));
        assert_eq!(parse(&p).path().len(), 255);
        assert!(
            err(&format!("{host}/{}", "x".repeat(256)))
                .message
                .contains("255")
        );
    }

    #[test]
    fn only_exactly_64_hex_is_refused_as_a_name() {
        assert_eq!(
            parse(&"a".repeat(65)).path(),
            format!("library/{}", "a".repeat(65))
        );
        assert_eq!(parse(&HEX[..63]).path(), format!("library/{}", &HEX[..63]));
        assert!(
            err(&"a".repeat(64))
                .message
                .contains("cannot specify 64-byte hexadecimal strings")
        );
        // with a tag it is an ordinary repository name
        assert_eq!(parse(&format!("{HEX}:1")).tag(), Some("1"));
    }

    #[test]
    fn tag_length_limit_is_128() {
        let t128 = format!("a{}", "b".repeat(127));
        assert_eq!(parse(&format!("alpine:{t128}")).tag(), Some(t128.as_str()));
        assert!(Reference::parse_normalized(&format!("alpine:{t128}c")).is_err());
    }

    #[test]
    fn other_digest_algorithms_are_refused_clearly() {
        let e = err(&format!("alpine@sha512:{}", "ab".repeat(64)));
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(
            e.message.contains("sha512") && e.message.contains("only sha256"),
            "{}",
            e.message
        );
        // not a go-digest algorithm form at all
        assert_eq!(
            err(&format!("alpine:1@SHA256:{HEX}")).message,
            "invalid checksum digest format"
        );
        // without a tag, Docker's lowercase pre-check sees everything up to the first ':'
        assert_eq!(
            err(&format!("alpine@SHA256:{HEX}")).message,
            "invalid reference format: repository name (library/alpine@SHA256) must be lowercase"
        );
    }

    #[test]
    fn default_tag_and_derivations() {
        let d = Digest::parse(&format!("sha256:{HEX}")).unwrap();
        let r = parse("alpine").with_default_tag();
        assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
        assert_eq!(r.registry_reference().as_deref(), Some("latest"));
        assert_eq!(parse("alpine:3").with_default_tag().tag(), Some("3"));
        let by_digest = parse(&format!("alpine@{d}")).with_default_tag();
        assert_eq!(by_digest.tag(), None);
        assert!(!by_digest.is_name_only());

        let both = parse(&format!("ubuntu:24.04@{d}"));
        assert_eq!(both.registry_reference(), Some(d.to_string()));
        assert_eq!(both.name(), "docker.io/library/ubuntu");
        assert_eq!(both.familiar_name(), "ubuntu");

        let n = both.name_only();
        assert!(n.is_name_only());
        assert_eq!(n.registry_reference(), None);
        let t = both.with_tag("v2").unwrap();
        assert_eq!(t.to_string(), "docker.io/library/ubuntu:v2");
        assert_eq!(
            both.with_tag("-x").unwrap_err().message,
            "invalid tag format"
        );
        assert_eq!(
            both.with_tag(&"a".repeat(129)).unwrap_err().message,
            "invalid tag format"
        );
        let wd = t.with_digest(d.clone());
        assert_eq!(wd.to_string(), format!("docker.io/library/ubuntu@{d}"));
        assert_eq!(wd.digest(), Some(&d));
    }

    #[test]
    fn familiar_form_quirk_matches_docker() {
        // docker.io/a.b/c is a valid canonical name, but its familiar form "a.b/c" names host a.b
        let r = parse("docker.io/a.b/c");
        assert_eq!((r.domain(), r.path()), ("docker.io", "a.b/c"));
        assert_eq!(r.familiar_string(), "a.b/c");
        assert_eq!(parse(&r.to_string()), r);
        assert_eq!(parse("a.b/c").domain(), "a.b");
    }

    #[test]
    fn domain_splitting_rules() {
        assert_eq!(
            split_docker_domain("alpine"),
            ("docker.io".into(), "library/alpine".into())
        );
        assert_eq!(
            split_docker_domain("localhost/x"),
            ("localhost".into(), "x".into())
        );
        assert_eq!(
            split_docker_domain("index.docker.io/x"),
            ("docker.io".into(), "library/x".into())
        );
        assert_eq!(split_docker_domain("a.b/x/y"), ("a.b".into(), "x/y".into()));
        assert_eq!(split_docker_domain("a:1/x"), ("a:1".into(), "x".into()));
        assert_eq!(split_docker_domain("aB/x"), ("aB".into(), "x".into()));
        assert_eq!(
            split_docker_domain("ab/x"),
            ("docker.io".into(), "ab/x".into())
        );
    }

    fn path_component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,5}(([._]|__|-{1,3})[a-z0-9]{1,5}){0,3}"
    }

    fn domain() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            Just(Some("localhost".to_string())),
            Just(Some("docker.io".to_string())),
            Just(Some("index.docker.io".to_string())),
            "[a-z0-9]{1,8}(\\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?){1,3}(:[0-9]{1,5})?"
                .prop_map(Some),
            "[a-z]{1,8}:[0-9]{1,5}".prop_map(Some),
            "\\[[0-9a-f]{0,4}:[0-9a-f:]{0,10}\\](:[0-9]{1,5})?".prop_map(Some),
            "[A-Z][A-Za-z0-9]{0,6}".prop_map(Some),
        ]
    }

    fn tag() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}".prop_map(Some)
        ]
    }

    fn digest() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            "[0-9a-f]{64}".prop_map(|h| Some(format!("sha256:{h}")))
        ]
    }

    proptest! {
        #[test]
        fn generated_valid_references_parse_and_round_trip(
            domain in domain(),
            path in prop::collection::vec(path_component(), 1..4),
            tag in tag(),
            digest in digest(),
        ) {
            let mut s = match &domain {
                Some(d) => format!("{d}/{}", path.join("/")),
                None => path.join("/"),
            };
            if let Some(t) = &tag { s = format!("{s}:{t}"); }
            if let Some(d) = &digest { s = format!("{s}@{d}"); }
            prop_assume!(!is_identifier(&s));
            let r = Reference::parse_normalized(&s).unwrap();
            prop_assert_eq!(r.tag(), tag.as_deref());
            prop_assert_eq!(r.digest().map(|d| d.to_string()), digest.clone());
            let first_is_host = path.len() > 1 && path[0].contains('.');
            if domain.is_some() || !first_is_host {
                prop_assert!(r.path().ends_with(&path.join("/")));
            }
            if let Some(d) = &domain && d != "docker.io" && d != "index.docker.io" {
                prop_assert_eq!(r.domain(), d.as_str());
                prop_assert_eq!(r.path(), path.join("/"));
            }
            prop_assert_eq!(&Reference::parse_normalized(&r.to_string()).unwrap(), &r);
            // Docker quirk: a Hub path whose first component looks like a host ("a.b/c",
            // "localhost/c") loses its domain in the familiar form. Hub namespaces cannot
            // look like that, so the familiar form round-trips for every real Hub name.
            let hub_path_looks_like_host = r.domain() == "docker.io"
                && r.path().split_once('/').is_some_and(|(first, _)| first == "localhost" || first.contains(['.', ':']));
            if !hub_path_looks_like_host {
                prop_assert_eq!(&Reference::parse_normalized(&r.familiar_string()).unwrap(), &r);
            }
            prop_assert_eq!(&Reference::parse_normalized(&r.name()).unwrap(), &r.name_only());
        }

        #[test]
        fn parser_never_panics_and_output_re_parses(s in "[a-zA-Z0-9:/@._\\-\\[\\]]{0,40}") {
            if let Ok(r) = Reference::parse_normalized(&s) {
                prop_assert_eq!(&Reference::parse_normalized(&r.to_string()).unwrap(), &r);
            }
        }
    }
}
