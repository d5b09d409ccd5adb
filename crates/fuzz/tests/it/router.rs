//! The registry server's router (path parsing, auth-free dispatch, handlers) under arbitrary
//! requests: never a panic, never a 500.

use crate::config;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};
use proptest::prelude::*;
use std::net::SocketAddr;
use tower::ServiceExt;

fn path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("v2".to_string()),
        Just("library".to_string()),
        Just("a".to_string()),
        Just("blobs".to_string()),
        Just("manifests".to_string()),
        Just("uploads".to_string()),
        Just("tags".to_string()),
        Just("list".to_string()),
        Just("referrers".to_string()),
        Just("_catalog".to_string()),
        Just("..".to_string()),
        Just("%2f".to_string()),
        Just("%2e%2e".to_string()),
        Just(format!("sha256:{}", "ab".repeat(32))),
        Just("sha256:zz".to_string()),
        Just("latest".to_string()),
        Just(String::new()),
        proptest::string::string_regex("[a-zA-Z0-9._%:-]{1,12}").unwrap(),
    ];
    (
        prop::collection::vec(segment, 0..7),
        prop::option::of(proptest::string::string_regex("[a-z0-9=&%_.-]{0,24}").unwrap()),
    )
        .prop_map(|(segs, q)| {
            let mut p = format!("/v2/{}", segs.join("/"));
            if let Some(q) = q {
                p.push('?');
                p.push_str(&q);
            }
            p
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_requests_get_a_client_error_not_a_crash(
        method in prop::sample::select(vec![
            Method::GET, Method::HEAD, Method::PUT, Method::POST, Method::PATCH, Method::DELETE,
            Method::OPTIONS,
        ]),
        path in path(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        content_type in prop::option::of(prop::sample::select(vec![
            "application/vnd.oci.image.manifest.v1+json",
            "application/octet-stream",
            "application/json",
        ])),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let (app, _state) =
            registry_server::server::build(&registry_server::Options::new(tmp.path())).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut req = Request::builder().method(method.clone()).uri(path.as_str());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let Ok(mut req) = req.body(Body::from(body)) else {
            return Ok(()); // not a valid URI: hyper would refuse it before the router
        };
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let resp = rt.block_on(app.oneshot(req)).unwrap();
        prop_assert!(
            !resp.status().is_server_error(),
            "{} {} -> {}", method, path, resp.status()
        );
    }

    #[test]
    fn the_path_parser_never_panics(s in any::<String>()) {
        let _ = registry_server::names::parse(&s);
    }
}
