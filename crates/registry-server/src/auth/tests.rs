//! The middleware and the token realm driven through a small axum router (tower's `oneshot`),
//! with the peer address set as the server's `ConnectInfo` would.

use super::*;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request as HttpRequest, StatusCode};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tower::ServiceExt;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const REMOTE: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// alice (password `apw`) and bob (`bpw`), bcrypt cost 4.
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        for (u, p) in [("alice", "apw"), ("bob", "bpw")] {
            let h = bcrypt::hash(p, 4).unwrap().replacen("$2b$", "$2y$", 1);
            text.push_str(&format!("{u}:{h}\n"));
        }
        std::fs::write(dir.path().join("htpasswd"), text).unwrap();
        Fixture { dir }
    }

    fn auth(&self, json: &str) -> Arc<Auth> {
        let cfg: AuthConfig = serde_json::from_str(json).unwrap();
        Arc::new(Auth::new(Some(&cfg), self.dir.path()).unwrap())
    }
}

/// The rules most tests use: bob may only pull team/app; everyone authenticated may do
/// everything on team/*; nobody but alice touches secret/*.
const RULES: &str = r#"[
    {"account":"bob","repository":"team/app","actions":["pull"]},
    {"account":"*","repository":"team/*","actions":["*"]},
    {"account":"alice","repository":"secret/*","actions":["*"]},
    {"account":"*","repository":"secret/*","actions":[]},
    {"account":"anonymous","repository":"secret/*","actions":[]}
]"#;

fn basic_cfg(extra: &str) -> String {
    format!(r#"{{"htpasswd":"htpasswd","access":{RULES}{extra}}}"#)
}

fn token_cfg(extra: &str) -> String {
    format!(r#"{{"htpasswd":"htpasswd","mode":"token","access":{RULES}{extra}}}"#)
}

fn app(auth: Arc<Auth>) -> Router {
    let echo = |req: Request| async move {
        let who = req.extensions().get::<Identity>().cloned();
        let mount_denied = req.extensions().get::<MountDenied>().is_some();
        format!("{who:?} mount_denied={mount_denied}")
    };
    Router::new()
        .fallback(echo)
        .layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            middleware,
        ))
        .merge(token_router(auth))
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn challenge(&self) -> &str {
        self.headers
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
    fn code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// The fixture's users with their passwords.
const ALICE: Cred = Cred::Basic("alice", "apw");
const BOB: Cred = Cred::Basic("bob", "bpw");

#[derive(Clone, Copy)]
enum Cred<'a> {
    None,
    Basic(&'a str, &'a str),
    Bearer(&'a str),
    Raw(&'a str),
}

async fn send_body(
    app: &Router,
    method: Method,
    uri: &str,
    cred: Cred<'_>,
    peer: IpAddr,
    body: &str,
) -> Answer {
    let mut b = HttpRequest::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "reg.example:5000");
    match cred {
        Cred::None => {}
        Cred::Basic(u, p) => {
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            b = b.header(header::AUTHORIZATION, format!("Basic {enc}"));
        }
        Cred::Bearer(t) => b = b.header(header::AUTHORIZATION, format!("Bearer {t}")),
        Cred::Raw(v) => b = b.header(header::AUTHORIZATION, v),
    }
    let mut req = b.body(Body::from(body.to_string())).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(peer, 40000)));
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn send(app: &Router, method: Method, uri: &str, cred: Cred<'_>, peer: IpAddr) -> Answer {
    send_body(app, method, uri, cred, peer, "").await
}

async fn get(app: &Router, uri: &str, cred: Cred<'_>, peer: IpAddr) -> Answer {
    send(app, Method::GET, uri, cred, peer).await
}

/// `POST /token` from a remote peer with a form body (the OAuth2 password grant).
async fn post_token(app: &Router, form: &str) -> Answer {
    send_body(app, Method::POST, "/token", Cred::None, REMOTE, form).await
}

/// A token from the realm (`GET /token`).
async fn token(app: &Router, query: &str, cred: Cred<'_>, peer: IpAddr) -> String {
    let a = get(app, &format!("/token?{query}"), cred, peer).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.json()["token"].as_str().unwrap().to_string()
}

fn claims_of(token: &str) -> Value {
    let mid = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(mid)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn open_registry_allows_everything() {
    let auth = Arc::new(Auth::new(None, Path::new("/")).unwrap());
    assert!(auth.is_open());
    assert!(auth.can(&Identity::Anonymous, "x", Action::Delete));
    let app = app(auth);
    for (m, uri) in [
        (Method::GET, "/v2/"),
        (Method::PUT, "/v2/a/manifests/t"),
        (Method::DELETE, "/v2/a/blobs/sha256:00"),
    ] {
        let a = send(&app, m, uri, Cred::None, REMOTE).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.body, "Some(Anonymous) mount_denied=false");
    }
    let a = get(&app, "/token", Cred::None, LOOPBACK).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "no token route: the echo fallback answers"
    );
}

#[tokio::test]
async fn basic_mode_credentials_and_challenges() {
    let f = Fixture::new();
    let app = app(f.auth(&basic_cfg("")));

    // /v2/ needs credentials even from loopback, so `login` checks them.
    let a = get(&app, "/v2/", Cred::None, LOOPBACK).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.challenge(), r#"Basic realm="strata-registry""#);
    assert_eq!(a.code(), "UNAUTHORIZED");
    assert_eq!(a.json()["errors"][0]["message"], "authentication required");
    assert_eq!(
        a.json()["errors"][0]["detail"],
        Value::Null,
        "distribution's detail for /v2/"
    );
    assert!(a.body.contains(r#""detail":null"#));
    assert_eq!(a.headers["Docker-Distribution-API-Version"], "registry/2.0");
    let a = get(&app, "/v2/", ALICE, REMOTE).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (StatusCode::OK, r#"Some(User("alice")) mount_denied=false"#)
    );
    for bad in [
        Cred::Basic("alice", "bpw"),
        Cred::Basic("nobody", "apw"),
        Cred::Raw("Basic !!!notbase64"),
        Cred::Raw("Basic bm9jb2xvbg=="),
    ] {
        let a = get(&app, "/v2/a/manifests/t", bad, LOOPBACK).await;
        assert_eq!(
            a.status,
            StatusCode::UNAUTHORIZED,
            "wrong credentials are never anonymous"
        );
        assert_eq!(a.challenge(), r#"Basic realm="strata-registry""#);
    }
    // An empty user name (containers/image without credentials) is anonymous.
    let a = get(&app, "/v2/a/manifests/t", Cred::Basic("", ""), LOOPBACK).await;
    assert_eq!(a.body, "Some(Anonymous) mount_denied=false");
    let a = get(&app, "/v2/a/manifests/t", Cred::Basic("", ""), REMOTE).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // A Bearer header in Basic mode counts as no credentials.
    let a = get(&app, "/v2/a/manifests/t", Cred::Bearer("x"), LOOPBACK).await;
    assert_eq!(a.body, "Some(Anonymous) mount_denied=false");

    // Anonymous pull from loopback; not from elsewhere; never a write.
    let a = get(&app, "/v2/a/manifests/t", Cred::None, LOOPBACK).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (StatusCode::OK, "Some(Anonymous) mount_denied=false")
    );
    let a = get(&app, "/v2/a/manifests/t", Cred::None, REMOTE).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = send(&app, Method::PUT, "/v2/a/manifests/t", Cred::None, LOOPBACK).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.challenge(), r#"Basic realm="strata-registry""#);
    assert_eq!(
        a.json()["errors"][0]["detail"],
        json!([
            {"Type":"repository","Class":"","Name":"a","Action":"pull"},
            {"Type":"repository","Class":"","Name":"a","Action":"push"}
        ])
    );
    let a = send(
        &app,
        Method::DELETE,
        "/v2/a/manifests/t",
        Cred::None,
        LOOPBACK,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);

    // Catalog and search: any admitted client (filtered later); /v1/_ping: anyone.
    let a = get(&app, "/v2/_catalog", Cred::None, LOOPBACK).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = get(&app, "/v2/_catalog", Cred::None, REMOTE).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = get(&app, "/v1/search?q=x", Cred::None, LOOPBACK).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = get(&app, "/v1/search?q=x", BOB, REMOTE).await;
    assert_eq!(a.body, r#"Some(User("bob")) mount_denied=false"#);
    let a = get(&app, "/v1/_ping", Cred::None, REMOTE).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn basic_mode_rules() {
    let f = Fixture::new();
    let app = app(f.auth(&basic_cfg("")));
    let cases = [
        // (credentials, method, uri, status)
        (BOB, Method::GET, "/v2/team/app/manifests/t", StatusCode::OK),
        (
            BOB,
            Method::PUT,
            "/v2/team/app/manifests/t",
            StatusCode::FORBIDDEN,
        ),
        (
            BOB,
            Method::POST,
            "/v2/team/app/blobs/uploads/",
            StatusCode::FORBIDDEN,
        ),
        (
            BOB,
            Method::DELETE,
            "/v2/team/app/manifests/t",
            StatusCode::FORBIDDEN,
        ),
        (
            BOB,
            Method::PUT,
            "/v2/team/other/manifests/t",
            StatusCode::OK,
        ),
        (
            BOB,
            Method::PATCH,
            "/v2/team/x/y/blobs/uploads/u1",
            StatusCode::OK,
        ),
        (
            BOB,
            Method::GET,
            "/v2/secret/x/manifests/t",
            StatusCode::FORBIDDEN,
        ),
        (
            ALICE,
            Method::DELETE,
            "/v2/secret/x/manifests/t",
            StatusCode::OK,
        ),
        // No rule matches: pull only.
        (BOB, Method::GET, "/v2/other/manifests/t", StatusCode::OK),
        (
            BOB,
            Method::PUT,
            "/v2/other/manifests/t",
            StatusCode::FORBIDDEN,
        ),
        (
            Cred::None,
            Method::GET,
            "/v2/secret/x/manifests/t",
            StatusCode::UNAUTHORIZED,
        ),
        (
            Cred::None,
            Method::GET,
            "/v2/team/app/tags/list",
            StatusCode::OK,
        ),
    ];
    for (cred, m, uri, want) in cases {
        let a = send(&app, m.clone(), uri, cred, LOOPBACK).await;
        assert_eq!(a.status, want, "{m} {uri}: {}", a.body);
        if want == StatusCode::FORBIDDEN {
            assert_eq!(a.code(), "DENIED");
            assert_eq!(
                a.json()["errors"][0]["message"],
                "requested access to the resource is denied"
            );
            assert!(a.headers.get(header::WWW_AUTHENTICATE).is_none());
        }
    }

    // Without an access list, users may do everything.
    let app = app_from(&f, r#"{"htpasswd":"htpasswd"}"#);
    let a = send(&app, Method::DELETE, "/v2/any/manifests/t", BOB, REMOTE).await;
    assert_eq!(a.status, StatusCode::OK);
}

fn app_from(f: &Fixture, json: &str) -> Router {
    app(f.auth(json))
}

#[tokio::test]
async fn anonymous_settings_and_peers() {
    let f = Fixture::new();
    let pull_status = |app: Router, peer: IpAddr| async move {
        get(&app, "/v2/a/manifests/t", Cred::None, peer)
            .await
            .status
    };
    let loopback = app_from(&f, &basic_cfg(""));
    assert_eq!(
        pull_status(loopback.clone(), IpAddr::V6(Ipv6Addr::LOCALHOST)).await,
        StatusCode::OK
    );
    let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
    assert_eq!(pull_status(loopback.clone(), mapped).await, StatusCode::OK);
    assert_eq!(
        pull_status(loopback.clone(), "127.9.9.9".parse().unwrap()).await,
        StatusCode::OK
    );
    assert_eq!(
        pull_status(loopback.clone(), "::2".parse().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
    // No ConnectInfo at all: not loopback.
    let req = HttpRequest::get("/v2/a/manifests/t")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        loopback.clone().oneshot(req).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let all = app_from(&f, &basic_cfg(r#","anonymous":"all""#));
    assert_eq!(pull_status(all.clone(), REMOTE).await, StatusCode::OK);
    let a = send(&all, Method::PUT, "/v2/a/manifests/t", Cred::None, REMOTE).await;
    assert_eq!(
        a.status,
        StatusCode::UNAUTHORIZED,
        "no write without credentials"
    );

    let none = app_from(&f, &basic_cfg(r#","anonymous":"none""#));
    assert_eq!(
        pull_status(none.clone(), LOOPBACK).await,
        StatusCode::UNAUTHORIZED
    );
    let a = get(&none, "/v2/a/manifests/t", BOB, LOOPBACK).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn bcrypt_runs_once_per_user_and_password() {
    let f = Fixture::new();
    let auth = f.auth(&basic_cfg(""));
    let app = app(auth.clone());
    for i in 0..10 {
        let uri = format!("/v2/team/app/blobs/sha256:{i:064}");
        let a = get(&app, &uri, BOB, REMOTE).await;
        assert_eq!(a.status, StatusCode::OK);
    }
    assert_eq!(auth.bcrypt_runs(), 1);
    let a = get(&app, "/v2/", Cred::Basic("bob", "nope"), REMOTE).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(auth.bcrypt_runs(), 2);
}

#[tokio::test]
async fn invalid_names_are_refused_before_auth() {
    let f = Fixture::new();
    let app = app_from(&f, &basic_cfg(""));
    for uri in [
        "/v2/team/../secret/x/manifests/t",
        "/v2/team/%2e%2e/secret/manifests/t",
        "/v2/Team/manifests/t",
    ] {
        let a = get(&app, uri, ALICE, LOOPBACK).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(a.code(), "NAME_INVALID");
    }
    // An encoded slash is the name the router will see, checked as such.
    let a = send(
        &app,
        Method::PUT,
        "/v2/team%2Fapp/manifests/t",
        BOB,
        LOOPBACK,
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn mounts_need_pull_on_the_source() {
    let f = Fixture::new();
    let app = app_from(&f, &basic_cfg(""));
    let mount = |from: &str| format!("/v2/team/x/blobs/uploads/?mount=sha256:00&from={from}");
    let a = send(&app, Method::POST, &mount("team/app"), BOB, REMOTE).await;
    assert_eq!(a.body, r#"Some(User("bob")) mount_denied=false"#);
    let a = send(&app, Method::POST, &mount("secret/y"), BOB, REMOTE).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "a mount bob may not read falls back to an upload"
    );
    assert_eq!(a.body, r#"Some(User("bob")) mount_denied=true"#);
    let a = send(&app, Method::POST, &mount("..%2Fx"), BOB, REMOTE).await;
    assert_eq!(a.body, r#"Some(User("bob")) mount_denied=true"#);
    // The destination still needs push.
    let a = send(
        &app,
        Method::POST,
        "/v2/team/app/blobs/uploads/?mount=sha256:00&from=team/x",
        BOB,
        REMOTE,
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn token_mode_challenges() {
    let f = Fixture::new();
    let app = app_from(&f, &token_cfg(""));
    let a = get(&app, "/v2/", Cred::None, LOOPBACK).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.challenge(),
        r#"Bearer realm="http://reg.example:5000/token",service="strata-registry""#
    );
    assert_eq!(a.code(), "UNAUTHORIZED");

    let a = get(&app, "/v2/a/b/manifests/t", Cred::None, REMOTE).await;
    assert_eq!(
        a.challenge(),
        r#"Bearer realm="http://reg.example:5000/token",service="strata-registry",scope="repository:a/b:pull""#
    );
    let a = send(
        &app,
        Method::PATCH,
        "/v2/a/blobs/uploads/u",
        Cred::None,
        LOOPBACK,
    )
    .await;
    assert!(
        a.challenge().ends_with(r#"scope="repository:a:pull,push""#),
        "{}",
        a.challenge()
    );
    let a = send(
        &app,
        Method::DELETE,
        "/v2/a/manifests/t",
        Cred::None,
        LOOPBACK,
    )
    .await;
    assert!(
        a.challenge().ends_with(r#"scope="repository:a:delete""#),
        "{}",
        a.challenge()
    );
    let a = get(&app, "/v2/_catalog", Cred::None, REMOTE).await;
    assert!(
        a.challenge().ends_with(r#"scope="registry:catalog:*""#),
        "{}",
        a.challenge()
    );
    let a = get(&app, "/v1/search?q=a", Cred::None, REMOTE).await;
    assert!(
        a.challenge()
            .ends_with(r#"scope="registry:catalog:search""#),
        "{}",
        a.challenge()
    );
    let a = send(
        &app,
        Method::POST,
        "/v2/a/blobs/uploads/?mount=sha256:00&from=b/c",
        Cred::None,
        LOOPBACK,
    )
    .await;
    assert!(
        a.challenge()
            .ends_with(r#"scope="repository:a:pull,push repository:b/c:pull""#),
        "{}",
        a.challenge()
    );

    // Anonymous pull from loopback needs no token at all.
    let a = get(&app, "/v2/a/manifests/t", Cred::None, LOOPBACK).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (StatusCode::OK, "Some(Anonymous) mount_denied=false")
    );

    // A configured realm is used as is.
    let app = app_from(
        &f,
        &token_cfg(r#","token":{"realm":"https://auth.example/t","service":"svc"}"#),
    );
    let a = get(&app, "/v2/", Cred::None, LOOPBACK).await;
    assert_eq!(
        a.challenge(),
        r#"Bearer realm="https://auth.example/t",service="svc""#
    );
}

#[tokio::test]
async fn token_realm_grants_the_intersection() {
    let f = Fixture::new();
    let app = app_from(&f, &token_cfg(""));

    let a = get(&app, "/token?service=strata-registry&scope=repository:team/app:pull,push&scope=repository:secret/x:pull&scope=repository:team/y:push%20registry:catalog:*",
        BOB,
        REMOTE,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/json");
    let j = a.json();
    assert_eq!(j["token"], j["access_token"]);
    assert_eq!(j["expires_in"], 300);
    let issued = j["issued_at"].as_str().unwrap();
    assert!(
        issued.len() == 20 && issued.ends_with('Z') && issued.as_bytes()[10] == b'T',
        "{issued}"
    );
    let c = claims_of(j["token"].as_str().unwrap());
    assert_eq!(c["iss"], "strata-registry");
    assert_eq!(c["sub"], "bob");
    assert_eq!(c["aud"], "strata-registry");
    assert_eq!(c["exp"].as_u64().unwrap(), c["iat"].as_u64().unwrap() + 300);
    assert_eq!(c["nbf"], c["iat"]);
    assert_eq!(c["jti"].as_str().unwrap().len(), 32);
    assert_eq!(
        c["access"],
        json!([
            {"type":"repository","name":"team/app","actions":["pull"]},
            {"type":"repository","name":"team/y","actions":["push"]},
            {"type":"registry","name":"catalog","actions":["*"]}
        ])
    );
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(j["token"].as_str().unwrap().split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header, json!({"alg":"HS256","typ":"JWT"}));

    // The token at work: pull yes, push answered with insufficient_scope.
    let t = j["token"].as_str().unwrap();
    let a = get(&app, "/v2/team/app/manifests/t", Cred::Bearer(t), REMOTE).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (StatusCode::OK, r#"Some(User("bob")) mount_denied=false"#)
    );
    let a = send(
        &app,
        Method::PUT,
        "/v2/team/app/manifests/t",
        Cred::Bearer(t),
        REMOTE,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.challenge(),
        r#"Bearer realm="http://reg.example:5000/token",service="strata-registry",scope="repository:team/app:pull,push",error="insufficient_scope""#
    );
    assert_eq!(a.code(), "UNAUTHORIZED");
    let a = get(&app, "/v2/", Cred::Bearer(t), REMOTE).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = get(&app, "/v2/_catalog", Cred::Bearer(t), REMOTE).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = get(&app, "/v2/secret/x/manifests/t", Cred::Bearer(t), REMOTE).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.challenge().ends_with(r#"error="insufficient_scope""#));

    // A scope-less token (what `login` asks for) opens /v2/ only.
    let t = token(&app, "service=strata-registry", ALICE, REMOTE).await;
    assert_eq!(claims_of(&t)["access"], json!([]));
    let a = get(&app, "/v2/", Cred::Bearer(&t), REMOTE).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (StatusCode::OK, r#"Some(User("alice")) mount_denied=false"#)
    );
    let a = get(&app, "/v2/_catalog", Cred::Bearer(&t), REMOTE).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(
        a.challenge()
            .ends_with(r#"scope="registry:catalog:*",error="insufficient_scope""#)
    );
    // ... but from loopback anonymous rights still apply alongside it.
    let a = get(&app, "/v2/_catalog", Cred::Bearer(&t), LOOPBACK).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = get(&app, "/v2/a/manifests/t", Cred::Bearer(&t), LOOPBACK).await;
    assert_eq!(a.body, r#"Some(User("alice")) mount_denied=false"#);
}

#[tokio::test]
async fn token_realm_credentials_and_anonymous() {
    let f = Fixture::new();
    let app = app_from(&f, &token_cfg(""));
    for bad in [
        Cred::Basic("bob", "apw"),
        Cred::Basic("eve", "x"),
        Cred::Raw("Basic ???"),
    ] {
        let a = get(&app, "/token?scope=repository:a:pull", bad, LOOPBACK).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            a.json(),
            json!({"details":"incorrect username or password"})
        );
    }
    // Anonymous from loopback: pull only, whatever is asked; an anonymous token opens /v2/.
    let t = token(
        &app,
        "scope=repository:a:pull,push,delete&scope=repository:secret/z:pull",
        Cred::None,
        LOOPBACK,
    )
    .await;
    let c = claims_of(&t);
    assert_eq!(c["sub"], "");
    assert_eq!(
        c["access"],
        json!([{"type":"repository","name":"a","actions":["pull"]}])
    );
    let a = get(&app, "/v2/", Cred::Bearer(&t), LOOPBACK).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (StatusCode::OK, "Some(Anonymous) mount_denied=false")
    );
    let t = token(
        &app,
        "scope=repository:a:pull",
        Cred::Basic("", ""),
        LOOPBACK,
    )
    .await;
    assert_eq!(claims_of(&t)["sub"], "");
    // Anonymous from elsewhere: no token.
    let a = get(&app, "/token?scope=repository:a:pull", Cred::None, REMOTE).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.json(), json!({"details":"authentication required"}));
    // Another service: refused.
    let a = get(&app, "/token?service=other", Cred::None, LOOPBACK).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    // Unknown scope types and bad names are dropped.
    let t = token(
        &app,
        "scope=plugin:x:pull&scope=repository:A:pull&scope=garbage",
        ALICE,
        REMOTE,
    )
    .await;
    assert_eq!(claims_of(&t)["access"], json!([]));
    // Duplicate scopes merge.
    let t = token(
        &app,
        "scope=repository:team/a:pull&scope=repository:team/a:push,pull",
        ALICE,
        REMOTE,
    )
    .await;
    assert_eq!(
        claims_of(&t)["access"],
        json!([{"type":"repository","name":"team/a","actions":["pull","push"]}])
    );
}

#[tokio::test]
async fn token_post_password_grant() {
    let f = Fixture::new();
    let app = app_from(&f, &token_cfg(""));
    let a = post_token(&app, "grant_type=password&username=bob&password=bpw&service=strata-registry&client_id=x&scope=repository%3Ateam%2Fapp%3Apull%2Cpush")
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let j = a.json();
    assert_eq!(j["scope"], "repository:team/app:pull");
    assert_eq!(j["expires_in"], 300);
    let t = j["access_token"].as_str().unwrap();
    let a = get(&app, "/v2/team/app/manifests/t", Cred::Bearer(t), REMOTE).await;
    assert_eq!(a.status, StatusCode::OK);

    let a = post_token(&app, "grant_type=password&username=bob&password=x").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = post_token(&app, "grant_type=password&username=bob").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = post_token(&app, "grant_type=refresh_token&refresh_token=x").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = post_token(&app, "").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_tokens_are_invalid_token() {
    let f = Fixture::new();
    let auth = f.auth(&token_cfg(""));
    let app = app(auth.clone());
    let access = || {
        vec![AccessEntry {
            kind: "repository".into(),
            name: "team/app".into(),
            actions: vec!["pull".into()],
        }]
    };
    let bob = Identity::User("bob".into());
    let good = auth.sign_token(&bob, access(), 60);
    let a = get(
        &app,
        "/v2/team/app/manifests/t",
        Cred::Bearer(&good),
        REMOTE,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);

    // Same config, other process key: forged.
    let other = f.auth(&token_cfg(""));
    let forged = other.sign_token(&bob, access(), 60);
    // Expired: a lifetime of 0 ends now.
    let expired = auth.sign_token(&bob, access(), 0);
    // Tampered claims with the original signature.
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    let mut c = claims_of(&good);
    c["access"][0]["actions"] = json!(["pull", "push"]);
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c.to_string());
    let tampered = parts.join(".");
    for (what, t) in [
        ("forged", forged.as_str()),
        ("expired", expired.as_str()),
        ("tampered", tampered.as_str()),
        ("garbage", "not-a-token"),
    ] {
        // Even from loopback, where anonymous pull would be allowed: a bad token is an error.
        let a = get(&app, "/v2/team/app/manifests/t", Cred::Bearer(t), LOOPBACK).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            a.challenge(),
            r#"Bearer realm="http://reg.example:5000/token",service="strata-registry",scope="repository:team/app:pull",error="invalid_token""#,
            "{what}"
        );
        assert_eq!(a.code(), "UNAUTHORIZED");
        let a = get(&app, "/v2/", Cred::Bearer(t), LOOPBACK).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(
            a.challenge()
                .ends_with(r#"service="strata-registry",error="invalid_token""#)
        );
    }
}

#[tokio::test]
async fn persisted_key_and_audience() {
    let f = Fixture::new();
    let with_service = |svc: &str| {
        f.auth(&token_cfg(&format!(
            r#","token":{{"service":"{svc}","key":"token.key"}}"#
        )))
    };
    let a1 = with_service("one");
    let key_path = f.dir.path().join("token.key");
    let md = std::fs::metadata(&key_path).unwrap();
    assert_eq!(md.len(), 32);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(md.permissions().mode() & 0o777, 0o600);

    // Same key file, same service: a token survives a "restart".
    let again = with_service("one");
    let t = a1.sign_token(&Identity::User("bob".into()), vec![], 60);
    let a = get(&app(again), "/v2/", Cred::Bearer(&t), REMOTE).await;
    assert_eq!(a.status, StatusCode::OK);
    // Same key, other service: wrong audience.
    let a = send(
        &app(with_service("two")),
        Method::GET,
        "/v2/",
        Cred::Bearer(&t),
        REMOTE,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.challenge().contains(r#"error="invalid_token""#));

    std::fs::write(&key_path, b"short").unwrap();
    let cfg: AuthConfig =
        serde_json::from_str(&token_cfg(r#","token":{"key":"token.key"}"#)).unwrap();
    let err = Auth::new(Some(&cfg), f.dir.path()).err().unwrap().message;
    assert!(err.contains("holds 5 bytes"), "{err}");
}

#[tokio::test]
async fn token_mode_mounts() {
    let f = Fixture::new();
    let app = app_from(&f, &token_cfg(""));
    let t = token(&app, "scope=repository:team/x:pull,push&scope=repository:secret/y:pull&scope=repository:team/app:pull", BOB, REMOTE).await;
    // (source, peer, mount_denied, why)
    let cases = [
        ("team/app", REMOTE, false, "granted"),
        ("secret/y", REMOTE, true, "bob may not pull secret/*"),
        ("team/z", REMOTE, true, "not in the token"),
        ("team/z", LOOPBACK, false, "anonymous may pull it here"),
    ];
    for (from, peer, denied, why) in cases {
        let uri = format!("/v2/team/x/blobs/uploads/?mount=sha256:00&from={from}");
        let a = send(&app, Method::POST, &uri, Cred::Bearer(&t), peer).await;
        assert_eq!(
            a.body,
            format!(r#"Some(User("bob")) mount_denied={denied}"#),
            "{from}: {why}"
        );
    }
}

#[test]
fn config_errors() {
    let f = Fixture::new();
    let new = |json: &str| {
        let cfg: AuthConfig = serde_json::from_str(json).unwrap();
        Auth::new(Some(&cfg), f.dir.path())
            .err()
            .map(|e| {
                assert_eq!(e.kind, oci_model::ErrorKind::InvalidArgument, "{e}");
                e.message
            })
            .unwrap_or_default()
    };
    assert!(new(r#"{"htpasswd":"missing"}"#).starts_with("auth: reading htpasswd file"));
    std::fs::write(f.dir.path().join("md5"), "u:$apr1$x$y\n").unwrap();
    assert!(new(r#"{"htpasswd":"md5"}"#).contains("only bcrypt"));
    assert!(new(r#"{"token":{"expiry":10}}"#).contains("at least 60"));
    assert!(new(r#"{"token":{"realm":"ftp://x"}}"#).contains("not an http(s) URL"));
    assert!(new(r#"{"token":{"service":"a\"b"}}"#).contains("contains"));
    assert_eq!(
        new(r#"{}"#),
        "",
        "an empty auth section: no users, anonymous pull"
    );
}
