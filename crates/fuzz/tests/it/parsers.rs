//! The parsers of what registries and users hand strata: references, manifests and indexes,
//! image configs, platforms, time stamps.

use crate::config;
use oci_model::image_config::ImageConfig;
use oci_model::reference::Reference;
use oci_model::{ErrorKind, manifest, media_type, platform};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Strings over the reference grammar's alphabet (plus a few strays), more likely to reach deep
/// into the grammar than arbitrary Unicode.
fn reference_like() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9._:/@+ -]{0,90}").unwrap()
}

/// JSON shaped like manifests, indexes and configs: their keys, nested, with values of every
/// type (so wrong types, missing fields and huge numbers all occur).
fn manifest_like() -> impl Strategy<Value = Value> {
    const KEYS: &[&str] = &[
        "schemaVersion",
        "mediaType",
        "config",
        "layers",
        "manifests",
        "digest",
        "size",
        "platform",
        "architecture",
        "os",
        "variant",
        "os.version",
        "os.features",
        "rootfs",
        "diff_ids",
        "type",
        "history",
        "created",
        "annotations",
        "urls",
        "artifactType",
        "subject",
        "Cmd",
        "Env",
        "Labels",
        "empty_layer",
        "fsLayers",
        "signatures",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop_oneof![
            Just(media_type::OCI_MANIFEST.to_string()),
            Just(media_type::OCI_INDEX.to_string()),
            Just(media_type::DOCKER_MANIFEST_V2.to_string()),
            Just(media_type::DOCKER_MANIFEST_LIST.to_string()),
            Just(format!("sha256:{}", "ab".repeat(32))),
            Just("layers".to_string()),
            Just("linux".to_string()),
            Just("amd64".to_string()),
            any::<String>(),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn references_parse_round_trip_or_fail_as_invalid(
        s in prop_oneof![any::<String>(), reference_like()]
    ) {
        match Reference::parse_normalized(&s) {
            Ok(r) => {
                let again = Reference::parse_normalized(&r.to_string()).unwrap();
                prop_assert_eq!(again.to_string(), r.to_string());
                let _ = r.familiar_string();
            }
            Err(e) => prop_assert_ne!(e.kind, ErrorKind::Internal, "{}", e),
        }
    }

    #[test]
    fn manifest_bytes_never_panic(
        bytes in prop_oneof![
            any::<Vec<u8>>(),
            manifest_like().prop_map(|v| v.to_string().into_bytes()),
        ],
        content_type in prop::option::of(prop_oneof![
            Just(media_type::OCI_MANIFEST),
            Just(media_type::OCI_INDEX),
            Just(media_type::DOCKER_MANIFEST_V2),
            Just(media_type::DOCKER_MANIFEST_LIST),
            Just("application/json"),
            Just("text/html"),
        ]),
    ) {
        if let Err(e) = manifest::parse(content_type, &bytes) {
            prop_assert_ne!(e.kind, ErrorKind::Internal, "{}", e);
        }
    }

    #[test]
    fn configs_parse_or_fail_as_corrupt(
        bytes in prop_oneof![
            any::<Vec<u8>>(),
            manifest_like().prop_map(|v| v.to_string().into_bytes()),
        ],
    ) {
        match ImageConfig::parse(&bytes) {
            Ok(c) => {
                let chains = c.chain_ids();
                prop_assert_eq!(chains.len(), c.rootfs.diff_ids.len());
                let _ = c.platform();
            }
            Err(e) => prop_assert_ne!(e.kind, ErrorKind::Internal, "{}", e),
        }
    }

    #[test]
    fn platforms_and_times_never_panic(
        s in prop_oneof![
            any::<String>(),
            proptest::string::string_regex("[a-z0-9/._-]{0,40}").unwrap(),
            proptest::string::string_regex("[0-9T:.Zz+-]{0,40}").unwrap(),
        ]
    ) {
        if let Ok(p) = platform::parse(&s) {
            prop_assert!(!p.os.is_empty());
        }
        let _ = oci_model::time::parse_rfc3339_nanos(&s);
    }
}
