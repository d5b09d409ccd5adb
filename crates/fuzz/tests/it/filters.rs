//! Docker's `--filter key=value` grammar for images, over a real (empty) store.

use crate::config;
use engine::images::query::filter::ImageFilter;
use oci_model::ErrorKind;
use proptest::prelude::*;

fn filter_arg() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("dangling"),
        Just("reference"),
        Just("label"),
        Just("before"),
        Just("since"),
        Just("until"),
        Just("DANGLING"),
        Just(" label "),
        Just("bogus"),
        Just(""),
    ];
    let value = prop_oneof![
        Just("true".to_string()),
        Just("false".to_string()),
        Just("1".to_string()),
        Just("10m".to_string()),
        Just("2024-01-27T00:30:56Z".to_string()),
        Just("a=b".to_string()),
        Just("[".to_string()),
        proptest::string::string_regex("[a-z*?\\[\\]/:=.0-9-]{0,20}").unwrap(),
        any::<String>(),
    ];
    prop_oneof![
        (key, value).prop_map(|(k, v)| format!("{k}={v}")),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn image_filters_parse_or_fail_as_invalid(args in prop::collection::vec(filter_arg(), 0..4)) {
        let tmp = tempfile::tempdir().unwrap();
        let store = store::Store::open(&tmp.path().join("store"), Default::default()).unwrap();
        if let Err(e) = ImageFilter::parse(&args, store.db(), 1_700_000_000_000_000_000) {
            prop_assert!(
                matches!(e.kind, ErrorKind::InvalidArgument | ErrorKind::NotFound),
                "{:?}: {}", e.kind, e
            );
        }
    }
}
