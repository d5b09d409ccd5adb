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

    /// The layers' ChainIDs (see [`chain_ids`]).
    pub fn chain_ids(&self) -> Vec<Digest> {
        chain_ids(&self.rootfs.diff_ids)
    }
}

/// The OCI ChainID of a layer with DiffID `diff_id` on top of the layer whose ChainID is
/// `parent`: the DiffID itself at the bottom, else `sha256(parent + " " + diff_id)`.
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
    }
}

/// The ChainIDs of a stack of layers, bottom first ([`chain_id`] of each on the one below).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = chain_id(out.last(), d);
        out.push(next);
    }
    out
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
        assert_eq!(c.created, None);
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
}
