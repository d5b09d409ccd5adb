//! The image configuration (Docker `application/vnd.docker.container.image.v1+json` and OCI
//! `application/vnd.oci.image.config.v1+json`). Unknown fields are kept, so nothing a newer
//! builder wrote is lost; the image ID is still the digest of the raw bytes.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::platform::Platform;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// An image config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
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
    /// RFC 3339 creation time, kept as written (see [`ImageConfig::created_unix`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Every other field (`container`, `container_config`, `id`, `parent`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The runtime defaults of an image (`config` in the image config), with Docker's keys.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// Other keys (`Hostname`, `Tty`, `Image`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The layer list of an image, as uncompressed-tar digests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub r#type: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

/// One step of the image history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageConfig {
    /// Parses config bytes. Like Docker, a config without `rootfs` is refused.
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::corrupt(format!("failed to parse image config: {e}")))?;
        match value.as_object() {
            None => {
                return Err(Error::corrupt(
                    "failed to parse image config: not a JSON object",
                ));
            }
            Some(o) if o.get("rootfs").is_none_or(Value::is_null) => {
                return Err(Error::corrupt("invalid image JSON, no RootFS key"));
            }
            Some(_) => {}
        }
        serde_json::from_value(value)
            .map_err(|e| Error::corrupt(format!("failed to parse image config: {e}")))
    }

    /// The platform the image was built for.
    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
            variant: self.variant.clone(),
            features: None,
        }
    }

    /// `created` as seconds since the Unix epoch; `None` when absent or not RFC 3339.
    pub fn created_unix(&self) -> Option<i64> {
        self.created.as_deref().and_then(parse_rfc3339)
    }

    /// The layers' ChainIDs (see [`chain_ids`]).
    pub fn chain_ids(&self) -> Vec<Digest> {
        chain_ids(&self.rootfs.diff_ids)
    }
}

/// OCI ChainIDs: `chain[0] = diff[0]`, `chain[n] = sha256(chain[n-1] + " " + diff[n])`.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => Digest::of(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds → `YYYY-MM-DDTHH:MM:SSZ` (UTC, no fraction); the date is the inverse of
/// [`days_from_civil`].
pub fn rfc3339_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` → Unix seconds (fraction dropped).
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let o = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF1: &str = "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
    const DIFF2: &str = "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";
    const DIFF3: &str = "sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6";

    fn docker_config() -> String {
        format!(
            r##"{{"architecture":"arm64","variant":"v8","os":"linux",
"config":{{"Hostname":"","User":"nobody","Tty":false,"ExposedPorts":{{"80/tcp":{{}}}},
"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
"Cmd":["/bin/sh"],"Entrypoint":null,"Volumes":{{"/data":{{}}}},"WorkingDir":"/srv","Labels":{{"maintainer":"me"}},
"StopSignal":"SIGQUIT","ArgsEscaped":true,"Healthcheck":{{"Test":["CMD","true"],"Interval":30000000000}},
"OnBuild":null,"Shell":["/bin/bash","-c"],"Image":"sha256:abc"}},
"container":"b1c2","container_config":{{"Cmd":["/bin/sh","-c","#(nop) CMD [\"/bin/sh\"]"]}},
"created":"2024-01-27T00:30:56.150969528Z","docker_version":"20.10.23",
"history":[{{"created":"2024-01-27T00:30:55Z","created_by":"ADD file:x in / "}},
 {{"created":"2024-01-27T00:30:56Z","created_by":"CMD [\"/bin/sh\"]","empty_layer":true}}],
"rootfs":{{"type":"layers","diff_ids":["{DIFF1}","{DIFF2}"]}}}}"##
        )
    }

    #[test]
    fn parses_a_docker_config_and_keeps_unknown_fields() {
        let c = ImageConfig::parse(docker_config().as_bytes()).unwrap();
        assert_eq!(c.platform().to_string(), "linux/arm64/v8");
        let cc = c.config.as_ref().unwrap();
        assert_eq!(cc.user.as_deref(), Some("nobody"));
        assert_eq!(cc.entrypoint, None);
        assert_eq!(cc.cmd.as_deref(), Some(&["/bin/sh".to_string()][..]));
        assert!(cc.exposed_ports.as_ref().unwrap().contains_key("80/tcp"));
        assert!(cc.volumes.as_ref().unwrap().contains_key("/data"));
        assert_eq!(cc.working_dir.as_deref(), Some("/srv"));
        assert_eq!(cc.labels.as_ref().unwrap()["maintainer"], "me");
        assert_eq!(cc.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(cc.args_escaped, Some(true));
        assert_eq!(
            cc.healthcheck.as_ref().unwrap()["Interval"],
            30_000_000_000u64
        );
        assert_eq!(cc.shell.as_ref().unwrap().len(), 2);
        assert_eq!(cc.extra["Image"], "sha256:abc");
        assert_eq!(cc.extra["Tty"], false);
        assert_eq!(c.extra["container"], "b1c2");
        assert!(c.extra.contains_key("container_config"));
        assert_eq!(c.docker_version.as_deref(), Some("20.10.23"));
        assert_eq!(c.history.len(), 2);
        assert_eq!(c.history[1].empty_layer, Some(true));
        assert_eq!(c.rootfs.r#type, "layers");
        assert_eq!(c.rootfs.diff_ids.len(), 2);

        // a re-serialization keeps every field (it is never used for digests)
        let again = ImageConfig::parse(&serde_json::to_vec(&c).unwrap()).unwrap();
        assert_eq!(again, c);
        let v: Value = serde_json::to_value(&c).unwrap();
        assert_eq!(v["config"]["Hostname"], "");
        assert_eq!(v["os"], "linux");
    }

    #[test]
    fn parses_a_minimal_oci_config() {
        let j = format!(
            r#"{{"architecture":"amd64","os":"windows","os.version":"10.0.20348.2227","os.features":["win32k"],
"rootfs":{{"type":"layers","diff_ids":["{DIFF1}"]}}}}"#
        );
        let c = ImageConfig::parse(j.as_bytes()).unwrap();
        let p = c.platform();
        assert_eq!(p.os_version.as_deref(), Some("10.0.20348.2227"));
        assert_eq!(p.os_features.as_deref(), Some(&["win32k".to_string()][..]));
        assert!(c.config.is_none());
        assert!(c.history.is_empty());
        assert_eq!(c.created_unix(), None);
    }

    #[test]
    fn rejects_bad_configs() {
        assert_eq!(
            ImageConfig::parse(br#"{"architecture":"amd64","os":"linux"}"#)
                .unwrap_err()
                .message,
            "invalid image JSON, no RootFS key"
        );
        assert_eq!(
            ImageConfig::parse(br#"{"os":"linux","rootfs":null}"#)
                .unwrap_err()
                .message,
            "invalid image JSON, no RootFS key"
        );
        assert!(ImageConfig::parse(b"not json").is_err());
        assert!(
            ImageConfig::parse(br#"{"rootfs":{"type":"layers","diff_ids":["md5:00"]}}"#).is_err()
        );
        assert!(ImageConfig::parse(br#"{"rootfs":{},"config":{"Cmd":"not a list"}}"#).is_err());
    }

    #[test]
    fn chain_ids_follow_the_oci_definition() {
        let diffs: Vec<Digest> = [DIFF1, DIFF2, DIFF3]
            .iter()
            .map(|d| Digest::parse(d).unwrap())
            .collect();
        // sha256("sha256:ca97…48bb sha256:3e23…009d") and sha256("<that> sha256:2e7d…efc6"),
        // computed independently with Python's hashlib.
        let want = [
            DIFF1,
            "sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676",
            "sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106",
        ];
        let got: Vec<String> = chain_ids(&diffs).iter().map(Digest::to_string).collect();
        assert_eq!(got, want);
        assert!(chain_ids(&[]).is_empty());
        assert_eq!(chain_ids(&diffs[..1]), diffs[..1]);
    }

    #[test]
    fn rfc3339_utc_formats_and_round_trips() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339_utc(4_107_542_399), "2100-02-28T23:59:59Z");
        for secs in [0, 951_825_600, 1_706_315_456, 4_107_542_399] {
            assert_eq!(parse_rfc3339(&rfc3339_utc(secs)), Some(secs as i64));
        }
    }

    #[test]
    fn created_times() {
        let at = |s: &str| parse_rfc3339(s);
        assert_eq!(at("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(at("2024-01-27T00:30:56.150969528Z"), Some(1_706_315_456));
        assert_eq!(at("2024-01-27T02:30:56+02:00"), Some(1_706_315_456));
        assert_eq!(at("2024-01-26T23:30:56-01:00"), Some(1_706_315_456));
        assert_eq!(at("2000-02-29T12:00:00Z"), Some(951_825_600));
        assert_eq!(at("0001-01-01T00:00:00Z"), Some(-62_135_596_800));
        for bad in [
            "",
            "2024-01-27",
            "2024-13-01T00:00:00Z",
            "2024-01-27T00:30:56",
            "2024-01-27T00:30:56.Z",
            "2024-01-27T00:30:56Zjunk",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
        let c = ImageConfig::parse(docker_config().as_bytes()).unwrap();
        assert_eq!(c.created_unix(), Some(1_706_315_456));
    }
}
