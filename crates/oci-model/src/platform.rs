//! Platforms (`os/arch[/variant]`): parsing, normalization, matching and ranking with
//! containerd's `platforms` rules, and Docker's manifest-list filtering.

use crate::error::{Error, Result};
use crate::manifest::Descriptor;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An OCI platform, as found in index entries and image configs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
}

impl Platform {
    /// `os/arch` with an optional variant (empty strings mean "none").
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            architecture: architecture.to_string(),
            os: os.to_string(),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_string),
            ..Platform::default()
        }
    }

    /// The variant, or "" when there is none.
    pub fn variant_str(&self) -> &str {
        self.variant.as_deref().unwrap_or("")
    }

    fn os_version_str(&self) -> &str {
        self.os_version.as_deref().unwrap_or("")
    }

    /// True when every field is empty (Docker treats such an index entry as having no platform).
    pub fn is_empty(&self) -> bool {
        self.architecture.is_empty()
            && self.os.is_empty()
            && self.variant_str().is_empty()
            && self.os_version_str().is_empty()
            && self.os_features.is_none()
            && self.features.is_none()
    }

    /// containerd's `FormatAll`: like `Display`, with `(osversion+feature…)` after the OS.
    pub fn format_all(&self) -> String {
        if self.os.is_empty() {
            return "unknown".to_string();
        }
        let mut opts = encode_os_option(self.os_version_str());
        let mut features = self.os_features.clone().unwrap_or_default();
        features.sort();
        for f in &features {
            opts.push('+');
            opts.push_str(&encode_os_option(f));
        }
        let os = if opts.is_empty() {
            self.os.clone()
        } else {
            format!("{}({opts})", self.os)
        };
        join_non_empty(&[&os, &self.architecture, self.variant_str()])
    }
}

/// containerd's `Format`: `os/arch[/variant]`, empty parts skipped, `unknown` without an OS.
impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.os.is_empty() {
            return f.write_str("unknown");
        }
        f.write_str(&join_non_empty(&[
            &self.os,
            &self.architecture,
            self.variant_str(),
        ]))
    }
}

fn join_non_empty(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/")
}

fn encode_os_option(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '%' => out.push_str("%25"),
            '+' => out.push_str("%2B"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-decoding of an OS version or feature (Go's `url.PathUnescape`).
fn decode_os_option(v: &str) -> std::result::Result<String, String> {
    if !v.contains('%') {
        return Ok(v.to_string());
    }
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
            let Some(h) = hex else {
                let end = (i + 3).min(b.len());
                return Err(format!(
                    "invalid URL escape {:?}",
                    String::from_utf8_lossy(&b[i..end])
                ));
            };
            let s = std::str::from_utf8(h).expect("hex digits are ASCII");
            out.push(u8::from_str_radix(s, 16).expect("checked hex"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("invalid UTF-8 in {v:?}"))
}

const OS_PATTERN: &str = r"^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$";
const SPECIFIER_PATTERN: &str = r"^[A-Za-z0-9_.-]+$";

/// Go's `%q` for the ASCII strings used in messages.
fn quote(s: &str) -> String {
    format!("{s:?}")
}

fn invalid_argument(msg: String) -> Error {
    Error::invalid(format!("{msg}: invalid argument"))
}

fn is_os_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_option_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'%' | b'-')
}

/// Matches [`OS_PATTERN`]: returns (os, os version, raw "+a+b" features).
fn match_os_component(part: &str) -> Option<(&str, &str, &str)> {
    let b = part.as_bytes();
    let name_end = b
        .iter()
        .position(|&c| !is_os_name_char(c))
        .unwrap_or(b.len());
    if name_end == 0 {
        return None;
    }
    let (name, rest) = part.split_at(name_end);
    if rest.is_empty() {
        return Some((name, "", ""));
    }
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    let version_end = inner.find('+').unwrap_or(inner.len());
    let (version, features) = inner.split_at(version_end);
    if !version.bytes().all(is_option_char) {
        return None;
    }
    if !features.is_empty() {
        let ok = features[1..]
            .split('+')
            .all(|f| !f.is_empty() && f.bytes().all(is_option_char));
        if !ok {
            return None;
        }
    }
    Some((name, version, features))
}

fn is_specifier_component(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn is_known_os(os: &str) -> bool {
    matches!(
        os,
        "aix"
            | "android"
            | "darwin"
            | "dragonfly"
            | "freebsd"
            | "hurd"
            | "illumos"
            | "ios"
            | "js"
            | "linux"
            | "nacl"
            | "netbsd"
            | "openbsd"
            | "plan9"
            | "solaris"
            | "windows"
            | "zos"
    )
}

fn is_known_arch(arch: &str) -> bool {
    matches!(
        arch,
        "386"
            | "amd64"
            | "amd64p32"
            | "arm"
            | "armbe"
            | "arm64"
            | "arm64be"
            | "ppc64"
            | "ppc64le"
            | "loong64"
            | "mips"
            | "mipsle"
            | "mips64"
            | "mips64le"
            | "mips64p32"
            | "mips64p32le"
            | "ppc"
            | "riscv"
            | "riscv64"
            | "s390"
            | "s390x"
            | "sparc"
            | "sparc64"
            | "wasm"
    )
}

/// containerd's `Parse`: `os[(osversion+feature…)][/arch[/variant]]`, or a lone OS or
/// architecture completed from the host.
pub fn parse(specifier: &str) -> Result<Platform> {
    if specifier.contains('*') {
        return Err(invalid_argument(format!(
            "{}: wildcards not yet supported",
            quote(specifier)
        )));
    }
    let parts: Vec<&str> = specifier.splitn(4, '/').collect();
    let mut p = Platform::default();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some((os, version, features)) = match_os_component(part) else {
                return Err(invalid_argument(format!(
                    "{} is an invalid OS component of {}: OSAndVersion specifier component must match {}",
                    quote(part),
                    quote(specifier),
                    quote(OS_PATTERN)
                )));
            };
            p.os = normalize_os(os);
            let version = decode_os_option(version).map_err(|e| {
                Error::invalid(format!(
                    "{} has an invalid OS version {}: {e}",
                    quote(specifier),
                    quote(version)
                ))
            })?;
            p.os_version = Some(version).filter(|v| !v.is_empty());
            if !features.is_empty() {
                let mut decoded = Vec::new();
                for f in features[1..].split('+') {
                    decoded.push(decode_os_option(f).map_err(|e| {
                        Error::invalid(format!(
                            "{} has an invalid OS feature {}: {e}",
                            quote(specifier),
                            quote(f)
                        ))
                    })?);
                }
                p.os_features = Some(decoded);
            }
        } else if !is_specifier_component(part) {
            return Err(invalid_argument(format!(
                "{} is an invalid component of {}: platform specifier component must match {}",
                quote(part),
                quote(specifier),
                quote(SPECIFIER_PATTERN)
            )));
        }
    }
    match parts.len() {
        1 => {
            if is_known_os(&p.os) {
                let h = host();
                p.architecture = h.architecture;
                if p.architecture == "arm" && h.variant.as_deref() != Some("v7") {
                    p.variant = h.variant;
                }
                return Ok(p);
            }
            let (arch, variant) = normalize_arch(parts[0], "");
            p.architecture = arch;
            p.variant = two_part_variant(&p.architecture, variant);
            if is_known_arch(&p.architecture) {
                p.os = host().os;
                return Ok(p);
            }
            Err(invalid_argument(format!(
                "{}: unknown operating system or architecture",
                quote(specifier)
            )))
        }
        2 => {
            let (arch, variant) = normalize_arch(parts[1], "");
            p.architecture = arch;
            p.variant = two_part_variant(&p.architecture, variant);
            Ok(p)
        }
        3 => {
            let (arch, mut variant) = normalize_arch(parts[1], parts[2]);
            if arch == "arm64" && variant.is_empty() {
                variant = "v8".to_string();
            }
            p.architecture = arch;
            p.variant = Some(variant).filter(|v| !v.is_empty());
            Ok(p)
        }
        _ => Err(invalid_argument(format!(
            "{}: cannot parse platform specifier",
            quote(specifier)
        ))),
    }
}

/// With no explicit variant, `arm/v7` is written as plain `arm`.
fn two_part_variant(arch: &str, variant: String) -> Option<String> {
    if variant.is_empty() || (arch == "arm" && variant == "v7") {
        None
    } else {
        Some(variant)
    }
}

fn normalize_os(os: &str) -> String {
    if os.is_empty() {
        return host().os;
    }
    let os = os.to_lowercase();
    if os == "macos" {
        "darwin".to_string()
    } else {
        os
    }
}

fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_lowercase();
    let variant = variant.to_lowercase();
    match arch.as_str() {
        "i386" => ("386".into(), String::new()),
        "x86_64" | "x86-64" | "amd64" => (
            "amd64".into(),
            if variant == "v1" {
                String::new()
            } else {
                variant
            },
        ),
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".into(),
                _ => variant,
            };
            ("arm64".into(), v)
        }
        "armhf" => ("arm".into(), "v7".into()),
        "armel" => ("arm".into(), "v6".into()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".into(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".into(), v)
        }
        _ => (arch, variant),
    }
}

/// containerd's `Normalize`: canonical OS, architecture and variant (`aarch64` → `arm64`,
/// `arm64/v8` → `arm64`, `arm` → `arm/v7`, …), OS features sorted and deduplicated.
pub fn normalize(p: &Platform) -> Platform {
    let mut n = p.clone();
    n.os = normalize_os(&p.os);
    let (arch, variant) = normalize_arch(&p.architecture, p.variant_str());
    n.architecture = arch;
    n.variant = Some(variant).filter(|v| !v.is_empty());
    if let Some(f) = &mut n.os_features
        && !f.is_empty()
    {
        f.sort();
        f.dedup();
    }
    n
}

/// The platform this binary runs containers for: Linux on the compiled architecture.
pub fn host() -> Platform {
    let big_endian = cfg!(target_endian = "big");
    let (arch, variant) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "x86" => ("386", None),
        "aarch64" => ("arm64", None),
        "arm" => ("arm", Some("v7")),
        "powerpc64" if big_endian => ("ppc64", None),
        "powerpc64" => ("ppc64le", None),
        "powerpc" => ("ppc", None),
        "s390x" => ("s390x", None),
        "riscv64" => ("riscv64", None),
        "loongarch64" => ("loong64", None),
        "mips" if big_endian => ("mips", None),
        "mips" => ("mipsle", None),
        "mips64" if big_endian => ("mips64", None),
        "mips64" => ("mips64le", None),
        "sparc64" => ("sparc64", None),
        "wasm32" => ("wasm", None),
        other => (other, None),
    };
    Platform::new("linux", arch, variant)
}

/// An ordered platform matcher (containerd's `Only`): the wanted platform first, then the
/// platforms it can also run, in order of preference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher {
    vector: Vec<Platform>,
}

/// containerd's `Only(p)`.
pub fn only(p: &Platform) -> Matcher {
    Matcher {
        vector: platform_vector(&normalize(p))
            .iter()
            .map(normalize)
            .collect(),
    }
}

/// containerd's `OnlyStrict(p)`: the platform itself, no fallbacks.
pub fn only_strict(p: &Platform) -> Matcher {
    Matcher {
        vector: vec![normalize(p)],
    }
}

fn with_variant(p: &Platform, arch: &str, variant: &str) -> Platform {
    Platform {
        architecture: arch.to_string(),
        variant: Some(variant.to_string()).filter(|v| !v.is_empty()),
        features: None,
        ..p.clone()
    }
}

fn parse_version(v: &str) -> Option<i64> {
    v.strip_prefix('v').unwrap_or(v).parse().ok()
}

fn platform_vector(p: &Platform) -> Vec<Platform> {
    let mut vector = vec![p.clone()];
    match p.architecture.as_str() {
        "amd64" => {
            if let Some(v) = parse_version(p.variant_str())
                && v > 1
            {
                for n in (1..v).rev() {
                    vector.push(with_variant(p, "amd64", &format!("v{n}")));
                }
            }
            vector.push(with_variant(p, "386", ""));
        }
        "arm" => {
            if let Some(v) = parse_version(p.variant_str())
                && v > 5
            {
                for n in (5..v).rev() {
                    vector.push(with_variant(p, "arm", &format!("v{n}")));
                }
            }
        }
        "arm64" => {
            let mut variant = p.variant_str().to_string();
            if variant.is_empty() {
                variant = "v8".into();
            }
            let (major_s, minor_s) = match variant.split_once('.') {
                Some((a, b)) => (a, Some(b)),
                None => (variant.as_str(), None),
            };
            if let Some(mut major) = parse_version(major_s)
                && major >= 8
            {
                let mut minor = 0;
                if variant.len() == 4
                    && let Some(m) = minor_s.and_then(|m| m.parse::<i64>().ok())
                {
                    minor = m;
                }
                let name = |major: i64, minor: i64| {
                    if minor == 0 {
                        format!("v{major}")
                    } else {
                        format!("v{major}.{minor}")
                    }
                };
                if major == 9 {
                    for m in (0..minor).rev() {
                        vector.push(with_variant(p, "arm64", &name(9, m)));
                    }
                    // v9.x descends from v8.(x+5)
                    minor += 5;
                    major = 8;
                    vector.push(with_variant(p, "arm64", &format!("v8.{minor}")));
                }
                for m in (0..minor).rev() {
                    vector.push(with_variant(p, "arm64", &name(major, m)));
                }
            }
            if variant.starts_with("v8.") || variant.starts_with("v9.") {
                variant = "v8".into();
            }
            vector.extend(platform_vector(&with_variant(p, "arm", &variant)));
        }
        _ => {}
    }
    vector
}

/// Windows OS versions match on major.minor.build.
fn windows_build(v: &str) -> Vec<&str> {
    v.split('.').take(3).collect()
}

fn matches_one(want: &Platform, candidate: &Platform) -> bool {
    let c = normalize(candidate);
    if want.os != c.os || want.architecture != c.architecture || want.variant != c.variant {
        return false;
    }
    if want.os == "windows"
        && !want.os_version_str().is_empty()
        && windows_build(want.os_version_str()) != windows_build(c.os_version_str())
    {
        return false;
    }
    let wanted_features = want.os_features.as_deref().unwrap_or_default();
    c.os_features
        .as_deref()
        .unwrap_or_default()
        .iter()
        .all(|f| wanted_features.contains(f))
}

impl Matcher {
    /// The platforms this matcher accepts, most preferred first (normalized).
    pub fn candidates(&self) -> &[Platform] {
        &self.vector
    }

    pub fn matches(&self, p: &Platform) -> bool {
        self.rank(p).is_some()
    }

    /// Position of the first acceptable platform `p` matches: 0 is the best; `None` = no match.
    pub fn rank(&self, p: &Platform) -> Option<usize> {
        self.vector.iter().position(|want| matches_one(want, p))
    }
}

/// Docker's `withDefault`: fills an empty OS, or an empty architecture (with its variant),
/// from the host.
pub fn with_default(wanted: &Platform) -> Platform {
    let h = host();
    let mut p = wanted.clone();
    if p.os.is_empty() {
        p.os = h.os;
    }
    if p.architecture.is_empty() {
        p.architecture = h.architecture;
        p.variant = h.variant;
    }
    p
}

/// Docker's classic `filterManifests`: entries whose platform matches `wanted` (after
/// [`with_default`]), plus entries without a platform, stable-sorted by preference with the
/// platform-less entries last. Attestation entries (`unknown/unknown`) never match.
pub fn select<'a>(wanted: &Platform, entries: &'a [Descriptor]) -> Vec<&'a Descriptor> {
    let m = only(&with_default(wanted));
    let mut keyed: Vec<(usize, &Descriptor)> = entries
        .iter()
        .filter_map(|d| match d.platform.as_ref().filter(|p| !p.is_empty()) {
            None => Some((usize::MAX, d)),
            Some(p) => m.rank(p).map(|r| (r, d)),
        })
        .collect();
    keyed.sort_by_key(|(rank, _)| *rank);
    keyed.into_iter().map(|(_, d)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::error::ErrorKind;

    fn p(os: &str, arch: &str, variant: &str) -> Platform {
        Platform::new(os, arch, Some(variant))
    }

    #[test]
    fn parse_table() {
        let cases = [
            ("linux/amd64", p("linux", "amd64", "")),
            ("linux/x86_64", p("linux", "amd64", "")),
            ("linux/x86-64", p("linux", "amd64", "")),
            ("Linux/AMD64", p("linux", "amd64", "")),
            ("linux/i386", p("linux", "386", "")),
            ("linux/arm64", p("linux", "arm64", "")),
            ("linux/aarch64", p("linux", "arm64", "")),
            ("linux/arm64/v8", p("linux", "arm64", "v8")),
            ("linux/arm64/8", p("linux", "arm64", "v8")),
            ("linux/arm64/v8.0", p("linux", "arm64", "v8")),
            ("linux/aarch64/v9.0", p("linux", "arm64", "v9")),
            ("linux/arm64/9", p("linux", "arm64", "v9")),
            ("linux/arm64/v8.2", p("linux", "arm64", "v8.2")),
            ("linux/arm", p("linux", "arm", "")),
            ("linux/arm/v7", p("linux", "arm", "v7")),
            ("linux/arm/7", p("linux", "arm", "v7")),
            ("linux/arm/v6", p("linux", "arm", "v6")),
            ("linux/arm/5", p("linux", "arm", "v5")),
            ("linux/armhf", p("linux", "arm", "")),
            ("linux/armel", p("linux", "arm", "v6")),
            ("linux/amd64/v1", p("linux", "amd64", "")),
            ("linux/amd64/v3", p("linux", "amd64", "v3")),
            ("macos/arm64", p("darwin", "arm64", "")),
            ("windows/amd64", p("windows", "amd64", "")),
            ("linux/s390x", p("linux", "s390x", "")),
            ("freebsd/riscv64", p("freebsd", "riscv64", "")),
            ("plan9/weird", p("plan9", "weird", "")),
        ];
        for (s, want) in cases {
            assert_eq!(parse(s).unwrap(), want, "{s}");
        }
    }

    #[test]
    fn parse_single_component_uses_host() {
        let h = host();
        let linux = parse("linux").unwrap();
        assert_eq!(
            (linux.os.as_str(), linux.architecture.as_str()),
            ("linux", h.architecture.as_str())
        );
        let arm64 = parse("aarch64").unwrap();
        assert_eq!(
            (arm64.os.as_str(), arm64.architecture.as_str()),
            (h.os.as_str(), "arm64")
        );
        let armhf = parse("armhf").unwrap();
        assert_eq!(
            (armhf.architecture.as_str(), armhf.variant.as_deref()),
            ("arm", None)
        );
        assert_eq!(parse("armel").unwrap().variant.as_deref(), Some("v6"));
    }

    #[test]
    fn parse_os_version_and_features() {
        let w = parse("windows(10.0.17763+win32k)/amd64").unwrap();
        assert_eq!(w.os, "windows");
        assert_eq!(w.os_version.as_deref(), Some("10.0.17763"));
        assert_eq!(w.os_features, Some(vec!["win32k".to_string()]));
        assert_eq!(w.format_all(), "windows(10.0.17763+win32k)/amd64");
        assert_eq!(w.to_string(), "windows/amd64");
        let enc = parse("linux(1%2B2)/amd64").unwrap();
        assert_eq!(enc.os_version.as_deref(), Some("1+2"));
        assert_eq!(enc.format_all(), "linux(1%2B2)/amd64");
        let e = parse("linux(%zz)/amd64").unwrap_err();
        assert!(
            e.message
                .starts_with("\"linux(%zz)/amd64\" has an invalid OS version \"%zz\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn parse_errors() {
        let cases = [
            (
                "linux/*",
                "\"linux/*\": wildcards not yet supported: invalid argument",
            ),
            (
                "foo",
                "\"foo\": unknown operating system or architecture: invalid argument",
            ),
            (
                "x y/amd64",
                r#""x y" is an invalid OS component of "x y/amd64": OSAndVersion specifier component must match "^([A-Za-z0-9_-]+)(?:\\(([A-Za-z0-9_.%-]*)((?:\\+[A-Za-z0-9_.%-]+)*)\\))?$": invalid argument"#,
            ),
            (
                "linux/am d64",
                r#""am d64" is an invalid component of "linux/am d64": platform specifier component must match "^[A-Za-z0-9_.-]+$": invalid argument"#,
            ),
            (
                "linux//v7",
                r#""" is an invalid component of "linux//v7": platform specifier component must match "^[A-Za-z0-9_.-]+$": invalid argument"#,
            ),
            (
                "linux/arm/v7/x",
                "\"linux/arm/v7/x\": cannot parse platform specifier: invalid argument",
            ),
            (
                "",
                r#""" is an invalid OS component of "": OSAndVersion specifier component must match "^([A-Za-z0-9_-]+)(?:\\(([A-Za-z0-9_.%-]*)((?:\\+[A-Za-z0-9_.%-]+)*)\\))?$": invalid argument"#,
            ),
        ];
        for (s, msg) in cases {
            let e = parse(s).unwrap_err();
            assert_eq!(e.message, msg, "{s}");
            assert_eq!(e.kind, ErrorKind::InvalidArgument);
        }
    }

    #[test]
    fn format() {
        assert_eq!(p("linux", "arm", "v7").to_string(), "linux/arm/v7");
        assert_eq!(p("linux", "amd64", "").to_string(), "linux/amd64");
        assert_eq!(p("", "amd64", "").to_string(), "unknown");
        assert_eq!(p("", "amd64", "").format_all(), "unknown");
        assert_eq!(p("linux", "", "v7").to_string(), "linux/v7");
        for s in [
            "linux/amd64",
            "linux/arm64/v8",
            "linux/arm/v6",
            "windows/amd64",
        ] {
            assert_eq!(parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn normalization_rules() {
        let cases = [
            (p("Linux", "x86_64", "v1"), p("linux", "amd64", "")),
            (p("linux", "amd64", "v2"), p("linux", "amd64", "v2")),
            (p("linux", "i386", "whatever"), p("linux", "386", "")),
            (p("linux", "aarch64", "v8"), p("linux", "arm64", "")),
            (p("linux", "arm64", "8"), p("linux", "arm64", "")),
            (p("linux", "arm64", "v8.0"), p("linux", "arm64", "")),
            (p("linux", "arm64", "9.0"), p("linux", "arm64", "v9")),
            (p("linux", "arm64", "v9.0"), p("linux", "arm64", "v9")),
            (p("linux", "arm64", "v8.1"), p("linux", "arm64", "v8.1")),
            (p("linux", "armhf", ""), p("linux", "arm", "v7")),
            (p("linux", "armel", ""), p("linux", "arm", "v6")),
            (p("linux", "arm", ""), p("linux", "arm", "v7")),
            (p("linux", "arm", "7"), p("linux", "arm", "v7")),
            (p("linux", "arm", "5"), p("linux", "arm", "v5")),
            (p("linux", "arm", "6"), p("linux", "arm", "v6")),
            (p("linux", "arm", "8"), p("linux", "arm", "v8")),
            (p("macos", "arm64", ""), p("darwin", "arm64", "")),
            (p("", "amd64", ""), p("linux", "amd64", "")),
            (p("linux", "S390X", ""), p("linux", "s390x", "")),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(&input), want, "{input:?}");
        }
        let mut f = p("windows", "amd64", "");
        f.os_features = Some(vec!["b".into(), "a".into(), "b".into()]);
        assert_eq!(
            normalize(&f).os_features,
            Some(vec!["a".into(), "b".into()])
        );
    }

    fn vector(s: &str) -> Vec<String> {
        only(&parse(s).unwrap())
            .candidates()
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn preference_vectors() {
        assert_eq!(vector("linux/amd64"), ["linux/amd64", "linux/386"]);
        assert_eq!(
            vector("linux/amd64/v3"),
            [
                "linux/amd64/v3",
                "linux/amd64/v2",
                "linux/amd64",
                "linux/386"
            ]
        );
        assert_eq!(
            vector("linux/arm/v7"),
            ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]
        );
        assert_eq!(
            vector("linux/arm"),
            ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]
        );
        assert_eq!(vector("linux/arm/v5"), ["linux/arm/v5"]);
        // Every arm64 vector ends in plain arm64, then 32-bit arm from v8 down.
        let arm64 = [
            "linux/arm64",
            "linux/arm/v8",
            "linux/arm/v7",
            "linux/arm/v6",
            "linux/arm/v5",
        ];
        assert_eq!(vector("linux/arm64"), arm64);
        assert_eq!(vector("linux/arm64/v8"), vector("linux/arm64"));
        assert_eq!(
            vector("linux/arm64/v8.2"),
            [&["linux/arm64/v8.2", "linux/arm64/v8.1"][..], &arm64].concat()
        );
        let v9_1 = [
            "linux/arm64/v9.1",
            "linux/arm64/v9",
            "linux/arm64/v8.6",
            "linux/arm64/v8.5",
            "linux/arm64/v8.4",
            "linux/arm64/v8.3",
            "linux/arm64/v8.2",
            "linux/arm64/v8.1",
        ];
        assert_eq!(vector("linux/arm64/v9.1"), [&v9_1[..], &arm64].concat());
        assert_eq!(vector("linux/s390x"), ["linux/s390x"]);
        assert_eq!(vector("linux/ppc64le"), ["linux/ppc64le"]);
    }

    #[test]
    fn matching() {
        let m = only(&parse("linux/arm64").unwrap());
        assert!(m.matches(&p("linux", "arm64", "v8")));
        assert!(m.matches(&p("linux", "aarch64", "")));
        assert!(m.matches(&p("linux", "arm", "v7")));
        assert!(m.matches(&p("linux", "arm", "")));
        assert!(!m.matches(&p("linux", "amd64", "")));
        assert!(!m.matches(&p("windows", "arm64", "")));
        assert!(!m.matches(&p("unknown", "unknown", "")));
        assert_eq!(m.rank(&p("linux", "arm64", "v8")), Some(0));
        assert!(
            m.rank(&p("linux", "arm", "v7")).unwrap() > m.rank(&p("linux", "arm", "v8")).unwrap()
        );

        let amd = only(&p("linux", "amd64", ""));
        assert_eq!(amd.rank(&p("linux", "x86_64", "")), Some(0));
        assert_eq!(amd.rank(&p("linux", "386", "")), Some(1));
        assert!(!amd.matches(&p("linux", "amd64", "v2")));
        assert!(!only_strict(&p("linux", "amd64", "")).matches(&p("linux", "386", "")));

        let arm6 = only(&p("linux", "arm", "v6"));
        assert!(!arm6.matches(&p("linux", "arm", "v7")));
        assert!(arm6.matches(&p("linux", "arm", "v5")));

        // other architectures: exact match only
        let s390 = only(&p("linux", "s390x", ""));
        assert!(s390.matches(&p("linux", "s390x", "")));
        assert!(!s390.matches(&p("linux", "ppc64le", "")));

        // candidate os.features must be a subset of the wanted ones
        let mut want = p("windows", "amd64", "");
        want.os_features = Some(vec!["win32k".into()]);
        let mut cand = p("windows", "amd64", "");
        assert!(only(&want).matches(&cand));
        cand.os_features = Some(vec!["win32k".into()]);
        assert!(only(&want).matches(&cand));
        cand.os_features = Some(vec!["win32k".into(), "other".into()]);
        assert!(!only(&want).matches(&cand));
        assert!(!only(&p("windows", "amd64", "")).matches(&cand));

        // windows compares the OS build
        let mut wv = p("windows", "amd64", "");
        wv.os_version = Some("10.0.17763".into());
        let mut cv = p("windows", "amd64", "");
        cv.os_version = Some("10.0.17763.1234".into());
        assert!(only(&wv).matches(&cv));
        cv.os_version = Some("10.0.20348.1".into());
        assert!(!only(&wv).matches(&cv));
    }

    fn desc(n: u8, platform: Option<Platform>) -> Descriptor {
        Descriptor {
            media_type: crate::media_type::OCI_MANIFEST.into(),
            digest: Digest::of(&[n]),
            size: n as u64,
            urls: None,
            annotations: None,
            platform,
            artifact_type: None,
            data: None,
        }
    }

    fn sizes(v: Vec<&Descriptor>) -> Vec<u64> {
        v.into_iter().map(|d| d.size).collect()
    }

    #[test]
    fn select_filters_and_orders() {
        let entries = vec![
            desc(1, Some(p("linux", "arm", "v6"))),
            desc(2, None),
            desc(3, Some(p("linux", "arm", "v7"))),
            desc(4, Some(p("unknown", "unknown", ""))),
            desc(5, Some(p("linux", "arm64", "v8"))),
            desc(6, Some(p("linux", "amd64", ""))),
            desc(7, Some(Platform::default())),
            desc(8, Some(p("linux", "386", ""))),
            desc(9, Some(p("linux", "arm64", ""))),
        ];
        // arm64: arm64 entries first (stable), then arm/v7, arm/v6, then platform-less entries
        assert_eq!(
            sizes(select(&p("linux", "arm64", ""), &entries)),
            [5, 9, 3, 1, 2, 7]
        );
        assert_eq!(
            sizes(select(&p("linux", "amd64", ""), &entries)),
            [6, 8, 2, 7]
        );
        assert_eq!(
            sizes(select(&p("linux", "arm", "v7"), &entries)),
            [3, 1, 2, 7]
        );
        assert_eq!(sizes(select(&p("linux", "s390x", ""), &entries)), [2, 7]);
        // amd64 falls back to 386 when it is all there is
        let only386 = vec![
            desc(1, Some(p("linux", "386", ""))),
            desc(2, Some(p("unknown", "unknown", ""))),
        ];
        assert_eq!(sizes(select(&p("linux", "amd64", ""), &only386)), [1]);
        // an empty wanted platform means the host
        let h = host();
        let hosted = vec![
            desc(1, Some(p("linux", "made-up", ""))),
            desc(2, Some(h.clone())),
        ];
        assert_eq!(sizes(select(&Platform::default(), &hosted)), [2]);
    }

    #[test]
    fn host_is_linux_with_a_go_arch_name() {
        let h = host();
        assert_eq!(h.os, "linux");
        assert!(is_known_arch(&h.architecture), "{}", h.architecture);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(h.architecture, "amd64");
        }
        if cfg!(target_arch = "aarch64") {
            assert_eq!(h.architecture, "arm64");
        }
    }

    #[test]
    fn serde_uses_oci_field_names() {
        let j = r#"{"architecture":"amd64","os":"windows","os.version":"10.0.17763.5458","os.features":["win32k"],"variant":"v2"}"#;
        let p: Platform = serde_json::from_str(j).unwrap();
        assert_eq!(p.os_version.as_deref(), Some("10.0.17763.5458"));
        assert_eq!(serde_json::to_string(&p).unwrap(), j);
        let bare: Platform =
            serde_json::from_str(r#"{"architecture":"arm64","os":"linux"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"architecture":"arm64","os":"linux"}"#
        );
    }
}
