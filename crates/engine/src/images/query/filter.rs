//! `images --filter`: Docker's keys `dangling`, `reference`, `label`, `before`, `since`, `until`.
//! Different keys AND; several `reference` values OR; several `label` values AND; several
//! `before`/`since`/`until` values AND (every bound must hold).

use super::lookup;
use super::path_match::path_match;
use oci_model::reference::Reference;
use oci_model::{Error, Result};
use store::metadata::{Db, ImageRecord};

const ACCEPTED: &[&str] = &["dangling", "label", "before", "since", "reference", "until"];

#[derive(Debug, Clone, Default)]
pub struct ImageFilter {
    pub dangling: Option<bool>,
    pub references: Vec<String>,
    /// `(key, Some(value))` for `label=k=v`, `(key, None)` for `label=k`.
    pub labels: Vec<(String, Option<String>)>,
    /// Created strictly before each of these (nanoseconds since the epoch).
    pub before: Vec<i128>,
    /// Created strictly after each of these.
    pub since: Vec<i128>,
    pub until: Vec<i128>,
}

/// The image's created time in nanoseconds (the config string, else the stored seconds).
pub fn created_nanos(image: &ImageRecord) -> i128 {
    oci_model::time::parse_rfc3339_nanos(&image.created)
        .map(|(secs, nanos)| i128::from(secs) * 1_000_000_000 + i128::from(nanos))
        .unwrap_or(image.created_unix as i128 * 1_000_000_000)
}

/// Go's `time.ParseDuration` (units ns us µs ms s m h; sign; fractions); nanoseconds.
pub fn parse_go_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." {
            return None;
        }
        let v: f64 = num.parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += v * mult;
    }
    let n = total as i128;
    Some(if neg { -n } else { n })
}

/// Docker's `timetypes.GetTimestamp` + parse: a Go duration before `now`, RFC 3339 (with or
/// without zone, seconds or fraction), a date, or Unix seconds with an optional fraction.
pub fn parse_time(value: &str, now_nanos: i128) -> Option<i128> {
    if let Some(d) = parse_go_duration(value) {
        return Some(now_nanos - d);
    }
    if let Ok(t) = value.parse::<jiff::Timestamp>() {
        return Some(t.as_nanosecond());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d",
    ] {
        let parsed = if fmt == "%Y-%m-%d" {
            jiff::civil::Date::strptime(fmt, value)
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        } else {
            jiff::civil::DateTime::strptime(fmt, value)
        };
        if let Ok(dt) = parsed
            && let Ok(z) = jiff::tz::TimeZone::system().to_timestamp(dt)
        {
            return Some(z.as_nanosecond());
        }
    }
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let s: i64 = secs.parse().ok()?;
    let mut nanos: i128 = 0;
    if !frac.is_empty() {
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nanos = format!("{frac:0<9}").parse().ok()?;
    }
    Some(s as i128 * 1_000_000_000 + nanos)
}

/// `--filter key=value` arguments as the Docker CLI passes them (`filters.ParseFlag`: key
/// lowercased, both trimmed), every key checked against `accepted` as the daemon does.
pub(crate) struct FilterArgs(Vec<(String, String)>);

impl FilterArgs {
    pub(crate) fn parse(args: &[String], accepted: &[&str]) -> Result<FilterArgs> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for a in args {
            let Some((k, v)) = a.split_once('=') else {
                return Err(Error::invalid("bad format of filter (expected name=value)"));
            };
            pairs.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        if let Some((k, _)) = pairs.iter().find(|(k, _)| !accepted.contains(&k.as_str())) {
            return Err(Error::invalid(format!("invalid filter '{k}'")));
        }
        Ok(FilterArgs(pairs))
    }

    /// The values given for `key`, sorted, without repeats.
    pub(crate) fn values(&self, key: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

fn bool_value(key: &str, values: &[&str]) -> Result<Option<bool>> {
    let mut seen: Option<bool> = None;
    for v in values {
        let b = match v.to_ascii_lowercase().as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => {
                return Err(Error::invalid(format!(
                    "invalid filter '{key}=[{}]'",
                    values.join(" ")
                )));
            }
        };
        if seen.is_some_and(|s| s != b) {
            return Err(Error::invalid(format!(
                "invalid filter '{key}=[{}]'",
                values.join(" ")
            )));
        }
        seen = Some(b);
    }
    Ok(seen)
}

impl ImageFilter {
    /// Parses `key=value` arguments as the Docker CLI (`filters.ParseFlag`: key lowercased,
    /// both trimmed) and validates them as the daemon does.
    pub fn parse(args: &[String], db: &Db, now_nanos: i128) -> Result<ImageFilter> {
        let args = FilterArgs::parse(args, ACCEPTED)?;
        let values = |key: &str| args.values(key);
        let mut f = ImageFilter {
            dangling: bool_value("dangling", &values("dangling"))?,
            references: values("reference").into_iter().map(String::from).collect(),
            ..ImageFilter::default()
        };
        for r in &f.references {
            path_match(r, "").map_err(|e| Error::invalid(e.to_string()))?;
        }
        f.labels = values("label")
            .into_iter()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (l.to_string(), None),
            })
            .collect();
        for (key, out) in [("before", &mut f.before), ("since", &mut f.since)] {
            for v in values(key) {
                let id = lookup::find_image(db, v)?;
                let image = db.image(&id)?.ok_or_else(|| lookup::no_such_image(v))?;
                out.push(created_nanos(&image));
            }
        }
        for v in values("until") {
            let t = parse_time(v, now_nanos).ok_or_else(|| {
                Error::invalid(format!(
                    "invalid value for 'until' filter: failed to parse value as time or duration: {v:?}"
                ))
            })?;
            f.until.push(t);
        }
        Ok(f)
    }

    pub fn is_empty(&self) -> bool {
        self.dangling.is_none()
            && self.references.is_empty()
            && self.labels.is_empty()
            && self.before.is_empty()
            && self.since.is_empty()
            && self.until.is_empty()
    }

    /// The image-level conditions: labels and the time bounds.
    pub fn matches_image(&self, image: &ImageRecord) -> bool {
        let created = created_nanos(image);
        self.before.iter().all(|b| created < *b)
            && self.since.iter().all(|s| created > *s)
            && self.until.iter().all(|u| created < *u)
            && self.labels.iter().all(|(k, v)| match image.labels.get(k) {
                None => false,
                Some(have) => v.as_ref().is_none_or(|v| v == have),
            })
    }

    /// Whether a reference (canonical repository plus `:tag` or `@digest`) passes the
    /// `reference` filter: any pattern matching any of its four forms.
    pub fn matches_reference(&self, repo: &str, tag: Option<&str>, digest: Option<&str>) -> bool {
        if self.references.is_empty() {
            return true;
        }
        let Ok(r) = Reference::parse_normalized(repo) else {
            return false;
        };
        let familiar = r.familiar_name();
        let name = r.name();
        let suffix = match (tag, digest) {
            (Some(t), _) => format!(":{t}"),
            (None, Some(d)) => format!("@{d}"),
            (None, None) => ":latest".into(),
        };
        let forms = [
            format!("{familiar}{suffix}"),
            familiar.clone(),
            format!("{name}{suffix}"),
            name.clone(),
        ];
        self.references
            .iter()
            .any(|p| forms.iter().any(|f| path_match(p, f).unwrap_or(false)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_go_duration("10m"), Some(600_000_000_000));
        assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("x"), None);
        let now = 2_000_000_000 * 1_000_000_000i128;
        assert_eq!(parse_time("24h", now), Some(now - 86_400 * 1_000_000_000));
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", now),
            Some(1_700_000_000 * 1_000_000_000)
        );
        assert_eq!(
            parse_time("1700000000", now),
            Some(1_700_000_000 * 1_000_000_000)
        );
        assert_eq!(
            parse_time("1700000000.5", now),
            Some(1_700_000_000 * 1_000_000_000 + 500_000_000)
        );
        assert!(parse_time("2023-11-14", now).is_some());
        assert_eq!(parse_time("yesterday", now), None);
    }

    #[test]
    fn dangling_values() {
        assert_eq!(bool_value("dangling", &["true"]).unwrap(), Some(true));
        assert_eq!(bool_value("dangling", &["0"]).unwrap(), Some(false));
        assert_eq!(
            bool_value("dangling", &["maybe"]).unwrap_err().message,
            "invalid filter 'dangling=[maybe]'"
        );
        assert_eq!(
            bool_value("dangling", &["false", "true"])
                .unwrap_err()
                .message,
            "invalid filter 'dangling=[false true]'"
        );
    }

    #[test]
    fn reference_forms() {
        let f = |p: &str| ImageFilter {
            references: vec![p.to_string()],
            ..Default::default()
        };
        let m = |p: &str, repo: &str, tag: &str| f(p).matches_reference(repo, Some(tag), None);
        assert!(m("busybox", "docker.io/library/busybox", "latest"));
        assert!(m("busybox:latest", "docker.io/library/busybox", "latest"));
        assert!(m(
            "docker.io/library/busybox:latest",
            "docker.io/library/busybox",
            "latest"
        ));
        assert!(m(
            "docker.io/library/*",
            "docker.io/library/busybox",
            "latest"
        ));
        assert!(m("busy*:*libc", "docker.io/library/busybox", "uclibc"));
        assert!(!m("busy*:*libc", "docker.io/library/busybox", "latest"));
        assert!(!m("jav", "docker.io/library/java", "8"));
        assert!(m("127.0.0.1:5000/*/x", "127.0.0.1:5000/a/x", "1"));
        assert!(!m("*", "127.0.0.1:5000/a/x", "1"));
        let any = ImageFilter {
            references: vec!["nomatch".into(), "x*".into()],
            ..Default::default()
        };
        assert!(any.matches_reference("docker.io/library/xyz", Some("1"), None));
    }

    #[test]
    fn labels_and_bounds() {
        let mut image = ImageRecord {
            id: "sha256:00".into(),
            manifest_digest: String::new(),
            manifest_media_type: String::new(),
            config_size: 0,
            created: "2023-11-14T22:13:20Z".into(),
            created_unix: 1_700_000_000,
            architecture: "amd64".into(),
            os: "linux".into(),
            labels: [("a".to_string(), "1".to_string()), ("b".into(), "".into())].into(),
            variant: None,
            size: 0,
            added_unix: 0,
            last_tag_time: None,
            layers: vec![],
        };
        let lab = |l: &[(&str, Option<&str>)]| ImageFilter {
            labels: l
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(String::from)))
                .collect(),
            ..Default::default()
        };
        assert!(lab(&[("a", None)]).matches_image(&image));
        assert!(lab(&[("a", Some("1")), ("b", Some(""))]).matches_image(&image));
        assert!(!lab(&[("a", Some("2"))]).matches_image(&image));
        assert!(!lab(&[("a", None), ("c", None)]).matches_image(&image));
        let t = 1_700_000_000i128 * 1_000_000_000;
        let b = ImageFilter {
            before: vec![t + 1],
            since: vec![t - 1],
            until: vec![t + 5],
            ..Default::default()
        };
        assert!(b.matches_image(&image));
        image.created = "2023-11-14T22:13:21Z".into();
        assert!(!b.matches_image(&image));
    }
}
