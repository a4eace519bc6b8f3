//! Authentication of webhook calls over real TLS: Basic, static Bearer and
//! Entra ID access tokens (RS256 JWTs signed here with a generated RSA key,
//! verified by the receiver against a JWKS served by a local HTTP server).
//! Refusals are `401` with `WWW-Authenticate`, happen before the body is
//! read, and store nothing.

#![cfg(feature = "receiver")]

use crate::receiver_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use receiver_support::*;
use serde_json::json;
use tradecloud::inbox::ListFilter;

const ORDER: &str = "/tradecloud/order";

async fn stored_count(rx: &TestReceiver) -> usize {
    rx.inbox.list(ListFilter::default()).await.unwrap().len()
}

async fn assert_refused(rx: &TestReceiver, response: reqwest::Response, scheme: &str, case: &str) {
    assert_eq!(response.status(), 401, "{case}");
    let challenge = response
        .headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("{case}: challenge"))
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.starts_with(&format!("{scheme} realm=")),
        "{case}: {challenge}"
    );
    let body = response.text().await.unwrap();
    // Never says which part was wrong.
    for word in [
        "password",
        "user",
        "expired",
        "signature",
        "audience",
        "issuer",
        "kid",
    ] {
        assert!(!body.to_lowercase().contains(word), "{case}: {body}");
    }
    assert_eq!(stored_count(rx).await, 0, "{case}: nothing stored");
}

#[tokio::test]
async fn receiver_basic_auth_accepts_the_right_pair_only() {
    let rx = start(&basic_config("max_body_bytes = 1000")).await;
    let body = fixture("order-webhook/order-event.json");
    let send = |auth: Option<String>, body: Vec<u8>| {
        let mut request = rx
            .client
            .post(rx.url(ORDER))
            .header("content-type", "application/json")
            .body(body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    let basic = |pair: &str| Some(format!("Basic {}", STANDARD.encode(pair)));
    for (case, auth) in [
        ("missing", None),
        ("wrong password", basic(&format!("{USER}:{PASSWORD}x"))),
        ("empty password", basic(&format!("{USER}:"))),
        ("wrong user", basic(&format!("x{USER}:{PASSWORD}"))),
        ("no colon", basic(USER)),
        ("not base64", Some("Basic ***".into())),
        (
            "bearer with the password",
            Some(format!("Bearer {PASSWORD}")),
        ),
    ] {
        // An over-size body: authentication comes first, so 401 and not 413.
        let response = send(auth, body.clone()).await.unwrap();
        assert_refused(&rx, response, "Basic", case).await;
    }
    let small = br#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":"o1"}}"#.to_vec();
    // An invalid body from an unauthenticated sender is not kept either.
    let response = send(basic("intruder:secret"), b"{".to_vec()).await.unwrap();
    assert_refused(&rx, response, "Basic", "invalid body, wrong credentials").await;
    let response = send(basic(&format!("{USER}:{PASSWORD}")), small)
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let metrics = rx.metrics.encode();
    assert!(
        metrics.contains("tradecloud_webhook_rejected_total{reason=\"unauthorized\"} 8"),
        "{metrics}"
    );
    rx.stop().await;
}

#[tokio::test]
async fn receiver_bearer_auth_accepts_the_token_only() {
    let token = "kP3x-static-token-0123456789";
    let rx = start(&format!(
        "[server]\n[auth]\nmethod = \"bearer\"\ntoken = \"{token}\"\n"
    ))
    .await;
    let send = |auth: Option<String>| {
        let mut request = rx
            .client
            .post(rx.url(ORDER))
            .header("content-type", "application/json")
            .body(fixture("order-webhook/order-event.json"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    for (case, auth) in [
        ("missing", None),
        ("wrong", Some(format!("Bearer {token}x"))),
        ("prefix", Some(format!("Bearer {}", &token[..10]))),
        (
            "basic",
            Some(format!("Basic {}", STANDARD.encode(format!("x:{token}")))),
        ),
        ("empty", Some("Bearer ".into())),
    ] {
        assert_refused(&rx, send(auth).await.unwrap(), "Bearer", case).await;
    }
    assert_eq!(
        send(Some(format!("Bearer {token}")))
            .await
            .unwrap()
            .status(),
        202
    );
    rx.stop().await;
}

// ---- Entra ID -------------------------------------------------------------

const TENANT: &str = "3f6e1a2b-0000-4c1d-9e8f-123456789abc";
const AUDIENCE: &str = "api://tradecloud-webhook";
const CLIENT_ID: &str = "0d8f7a6b-tradecloud-client";

struct SigningKey {
    kid: String,
    key: KeyPair,
}

impl SigningKey {
    fn generate(kid: &str) -> Self {
        SigningKey {
            kid: kid.into(),
            key: KeyPair::generate(KeySize::Rsa2048).unwrap(),
        }
    }

    fn jwk(&self) -> serde_json::Value {
        let components: PublicKeyComponents<Vec<u8>> = self.key.public_key().into();
        json!({
            "kty": "RSA", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&components.n), "e": URL_SAFE_NO_PAD.encode(&components.e),
        })
    }

    /// An RS256 JWT, signed here (independently of the receiver's JWT library).
    fn sign(&self, header: serde_json::Value, claims: serde_json::Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn token(&self, claims: serde_json::Value) -> String {
        self.sign(
            json!({"typ": "JWT", "alg": "RS256", "kid": self.kid}),
            claims,
        )
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn v2_claims() -> serde_json::Value {
    json!({
        "aud": AUDIENCE,
        "iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
        "iat": now() - 10, "nbf": now() - 10, "exp": now() + 3600,
        "azp": CLIENT_ID, "tid": TENANT, "sub": "service-principal", "roles": ["Webhook.Send"],
    })
}

/// A JWKS endpoint on loopback (plain HTTP) serving whatever keys are set.
async fn jwks_server(
    keys: Arc<Mutex<Vec<serde_json::Value>>>,
    hits: Arc<Mutex<usize>>,
) -> SocketAddr {
    let app = axum::Router::new().route(
        "/keys",
        axum::routing::get(move || {
            let keys = keys.clone();
            let hits = hits.clone();
            async move {
                *hits.lock().unwrap() += 1;
                axum::Json(json!({ "keys": *keys.lock().unwrap() }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn entra_config(jwks: &str, extra: &str) -> String {
    format!(
        "[server]\n[auth]\nmethod = \"entra\"\ntenant_id = \"{TENANT}\"\naudience = \"{AUDIENCE}\"\njwks_url = \"{jwks}\"\n\
         allowed_client_ids = [\"{CLIENT_ID}\"]\njwks_min_refresh_secs = 0\n{extra}"
    )
}

#[tokio::test]
async fn receiver_entra_accepts_valid_tokens_and_refuses_the_rest() {
    let key = SigningKey::generate("key-1");
    let impostor = SigningKey::generate("key-1"); // same kid, other key
    let keys = Arc::new(Mutex::new(vec![key.jwk()]));
    let hits = Arc::new(Mutex::new(0));
    let jwks = jwks_server(keys.clone(), hits.clone()).await;
    let rx = start(&entra_config(&format!("http://{jwks}/keys"), "")).await;
    let body = br#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":"o1"}}"#.to_vec();
    let send = |auth: Option<String>| {
        let mut request = rx
            .client
            .post(rx.url(ORDER))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    let with = |patch: serde_json::Value| {
        let mut claims = v2_claims();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    let bearer = |token: String| Some(format!("Bearer {token}"));
    let refused: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("not a JWT", bearer("abc.def".into())),
        (
            "expired",
            bearer(key.token(with(json!({"exp": now() - 600, "nbf": now() - 4000})))),
        ),
        (
            "not yet valid",
            bearer(key.token(with(json!({"nbf": now() + 600})))),
        ),
        (
            "wrong audience",
            bearer(key.token(with(json!({"aud": "api://something-else"})))),
        ),
        (
            "wrong issuer",
            bearer(key.token(with(
                json!({"iss": "https://login.microsoftonline.com/other-tenant/v2.0"}),
            ))),
        ),
        ("no expiry", bearer(key.token(with(json!({"exp": null}))))),
        (
            "client not allowed",
            bearer(key.token(with(json!({"azp": "someone-else"})))),
        ),
        (
            "no client id",
            bearer(key.token(with(json!({"azp": null})))),
        ),
        ("wrongly signed", bearer(impostor.token(v2_claims()))),
        (
            "unknown key id",
            bearer(SigningKey::generate("key-9").token(v2_claims())),
        ),
        (
            "alg none",
            bearer(format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": "key-1"}).to_string()),
                URL_SAFE_NO_PAD.encode(v2_claims().to_string())
            )),
        ),
        (
            "HS256 with the public key",
            bearer(key.sign(json!({"alg": "HS256", "kid": "key-1"}), v2_claims())),
        ),
        (
            "tampered claims",
            bearer({
                let token = key.token(v2_claims());
                let parts: Vec<&str> = token.split('.').collect();
                let forged = URL_SAFE_NO_PAD
                    .encode(with(json!({"azp": CLIENT_ID, "roles": ["Admin"]})).to_string());
                format!("{}.{}.{}", parts[0], forged, parts[2])
            }),
        ),
        (
            "basic scheme",
            Some(format!("Basic {}", STANDARD.encode("a:b"))),
        ),
    ];
    for (case, auth) in refused {
        assert_refused(&rx, send(auth).await.unwrap(), "Bearer", case).await;
    }
    // v2.0 and v1.0 tokens of the tenant, from the allowed application.
    assert_eq!(
        send(bearer(key.token(v2_claims()))).await.unwrap().status(),
        202
    );
    let v1 = with(
        json!({"iss": format!("https://sts.windows.net/{TENANT}/"), "azp": null, "appid": CLIENT_ID}),
    );
    let body_v1 = br#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":"o2"}}"#.to_vec();
    let response = rx
        .client
        .post(rx.url(ORDER))
        .header("content-type", "application/json")
        .bearer_auth(key.token(v1))
        .body(body_v1)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);

    // Key rotation: a token signed with a new key is accepted once the JWKS has it.
    let rotated = SigningKey::generate("key-2");
    keys.lock().unwrap().push(rotated.jwk());
    let response = rx
        .client
        .post(rx.url(ORDER))
        .header("content-type", "application/json")
        .bearer_auth(rotated.token(v2_claims()))
        .body(br#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":"o3"}}"#.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert!(
        *hits.lock().unwrap() >= 2,
        "the JWKS was fetched again for the unknown key id"
    );
    rx.stop().await;
}

#[tokio::test]
async fn receiver_entra_answers_503_when_the_jwks_cannot_be_fetched() {
    // A port with nothing listening.
    let closed = format!("127.0.0.1:{}", crate::port_support::free_port());
    let rx = start(&entra_config(&format!("http://{closed}/keys"), "")).await;
    let key = SigningKey::generate("key-1");
    let response = rx
        .client
        .post(rx.url(ORDER))
        .header("content-type", "application/json")
        .bearer_auth(key.token(v2_claims()))
        .body(br#"{"eventName":"OrderIssuedByBuyer"}"#.to_vec())
        .send()
        .await
        .unwrap();
    // Tradecloud retries a 503; a 401 would lose the event.
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    // Without a token it is a plain 401.
    let response = rx
        .client
        .post(rx.url(ORDER))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    rx.stop().await;
}

/// POST an order event (order `o{n}`) with the Bearer `token`.
fn post_with_token(
    rx: &TestReceiver,
    token: String,
    n: usize,
) -> impl std::future::Future<Output = reqwest::Response> {
    let request = rx
        .client
        .post(rx.url(ORDER))
        .header("content-type", "application/json")
        .bearer_auth(token)
        .body(format!(
            r#"{{"eventName":"OrderIssuedByBuyer","orderEvent":{{"orderId":"o{n}"}}}}"#
        ));
    async move { request.send().await.unwrap() }
}

/// A JWKS endpoint that answers `503` while `up` is false.
async fn flaky_jwks_server(
    keys: Arc<Mutex<Vec<serde_json::Value>>>,
    hits: Arc<Mutex<usize>>,
    up: Arc<AtomicBool>,
) -> SocketAddr {
    let app = axum::Router::new().route(
        "/keys",
        axum::routing::get(move || {
            let (keys, hits, up) = (keys.clone(), hits.clone(), up.clone());
            async move {
                *hits.lock().unwrap() += 1;
                if !up.load(Ordering::SeqCst) {
                    return axum::response::IntoResponse::into_response((
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "down",
                    ));
                }
                axum::response::IntoResponse::into_response(axum::Json(
                    json!({ "keys": *keys.lock().unwrap() }),
                ))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The JWKS endpoint fails, then recovers, then fails again: the receiver
/// fetches once per backoff period (never once per request), answers 503
/// only while it has no key at all, and keeps using its cached keys while
/// the endpoint is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_entra_backs_off_while_the_jwks_fails_and_recovers() {
    let key = SigningKey::generate("key-1");
    let keys = Arc::new(Mutex::new(vec![key.jwk()]));
    let hits = Arc::new(Mutex::new(0));
    let up = Arc::new(AtomicBool::new(false));
    let jwks = flaky_jwks_server(keys, hits.clone(), up.clone()).await;
    // Keys go stale after 1 s, so that later requests try to refresh them.
    let rx = start(&entra_config(
        &format!("http://{jwks}/keys"),
        "jwks_max_age_secs = 1\njwks_backoff_max_secs = 2\n",
    ))
    .await;
    let token = key.token(v2_claims());
    let send = |token: String, n: usize| post_with_token(&rx, token, n);

    // Down, nothing cached: a burst of requests gets 503 + Retry-After (a
    // retry can succeed), and the JWKS is not fetched per request.
    let started = Instant::now();
    let mut burst = tokio::task::JoinSet::new();
    for n in 0..16 {
        burst.spawn(send(token.clone(), n));
    }
    while let Some(response) = burst.join_next().await {
        let response = response.unwrap();
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("retry-after"));
    }
    for n in 16..24 {
        assert_eq!(send(token.clone(), n).await.status(), 503);
    }
    let fetches_while_down = *hits.lock().unwrap();
    assert!(
        (1..=2).contains(&fetches_while_down),
        "24 requests in {:?} fetched the failing JWKS {fetches_while_down} times",
        started.elapsed()
    );

    // Recovered: accepted once the backoff (0.5-1 s after one failure) has passed.
    up.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut n = 100;
    loop {
        n += 1;
        let status = send(token.clone(), n).await.status();
        if status == 202 {
            break;
        }
        assert_eq!(status, 503);
        assert!(Instant::now() < deadline, "not accepted after recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the retry waited for the backoff"
    );
    let fetches_until_recovered = *hits.lock().unwrap();
    assert!(
        fetches_until_recovered <= fetches_while_down + 2,
        "{fetches_until_recovered} fetches"
    );

    // Down again, keys cached but stale: requests are accepted with the
    // cached key, and the JWKS is tried once, then only after the backoff.
    up.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for n in 200..210 {
        assert_eq!(send(token.clone(), n).await.status(), 202);
    }
    let fetches = *hits.lock().unwrap() - fetches_until_recovered;
    assert!(
        (1..=2).contains(&fetches),
        "{fetches} fetches for 10 requests"
    );
    // A key id that is not cached meanwhile gets 503, not 401: it may be a
    // rotated key that only the unreachable JWKS knows.
    let stranger = SigningKey::generate("key-9");
    assert_eq!(send(stranger.token(v2_claims()), 300).await.status(), 503);
    rx.stop().await;
}

/// Issue 9, item 1: Entra ID rotates its signing key while the JWKS cannot
/// be reached. The new key's tokens get 503 + Retry-After (Tradecloud
/// retries) until the JWKS is back, never 401 (which would lose the event).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_entra_key_rotation_during_a_jwks_outage_is_503_not_401() {
    let old = SigningKey::generate("key-1");
    let keys = Arc::new(Mutex::new(vec![old.jwk()]));
    let hits = Arc::new(Mutex::new(0));
    let up = Arc::new(AtomicBool::new(true));
    let jwks = flaky_jwks_server(keys.clone(), hits.clone(), up.clone()).await;
    let rx = start(&entra_config(&format!("http://{jwks}/keys"), "")).await;
    let send = |token: String, n: usize| post_with_token(&rx, token, n);
    let with = |patch: serde_json::Value| {
        let mut claims = v2_claims();
        for (k, v) in patch.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };

    assert_eq!(send(old.token(v2_claims()), 1).await.status(), 202, "valid");
    let expired = old.token(with(json!({"exp": now() - 600, "nbf": now() - 4000})));
    assert_eq!(send(expired, 2).await.status(), 401, "expired");
    let audience = old.token(with(json!({"aud": "api://something-else"})));
    assert_eq!(send(audience, 3).await.status(), 401, "wrong audience");

    // The key is rotated while the JWKS is down.
    up.store(false, Ordering::SeqCst);
    let new = SigningKey::generate("key-2");
    keys.lock().unwrap().push(new.jwk());
    let fetches = *hits.lock().unwrap();
    let response = send(new.token(v2_claims()), 4).await;
    assert_eq!(response.status(), 503, "rotated key, JWKS down");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(*hits.lock().unwrap(), fetches + 1, "one fetch was tried");
    // Again (within the backoff of 0.5-1 s, or after it): 503 again.
    let response = send(new.token(v2_claims()), 5).await;
    assert_eq!(response.status(), 503, "during the backoff");
    assert!(response.headers().contains_key("retry-after"));
    // The old key stays good meanwhile.
    assert_eq!(send(old.token(v2_claims()), 6).await.status(), 202);

    // The JWKS is back, with the new key: accepted once the backoff has passed.
    up.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut n = 100;
    loop {
        n += 1;
        let status = send(new.token(v2_claims()), n).await.status();
        if status == 202 {
            break;
        }
        assert_eq!(status, 503, "never 401 while the JWKS was down");
        assert!(Instant::now() < deadline, "not accepted after recovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Only the accepted events were stored.
    assert_eq!(stored_count(&rx).await, 3);
    // A key id that the fetched JWKS lacks is refused (401).
    let stranger = SigningKey::generate("key-9");
    assert_eq!(send(stranger.token(v2_claims()), 7).await.status(), 401);
    rx.stop().await;
}

/// `/readyz`: its status and its JSON body.
async fn readyz(rx: &TestReceiver) -> (u16, serde_json::Value) {
    let response = rx.client.get(rx.url("/readyz")).send().await.unwrap();
    (response.status().as_u16(), json(response).await)
}

/// A JWKS endpoint on loopback that can be taken away: every answer closes
/// its connection, so that once the returned task is aborted (its listener
/// closed) nothing answers at that address.
async fn jwks_server_that_goes_away(
    keys: Vec<serde_json::Value>,
    hits: Arc<Mutex<usize>>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new().route(
        "/keys",
        axum::routing::get(move || {
            let (keys, hits) = (keys.clone(), hits.clone());
            async move {
                *hits.lock().unwrap() += 1;
                (
                    [(axum::http::header::CONNECTION, "close")],
                    axum::Json(json!({ "keys": keys })),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, task)
}

/// `/readyz` with Entra ID follows the signing keys: ready once they are
/// fetched (`/readyz` fetches them before the first token); once the JWKS
/// endpoint has gone away, still ready while cached keys check tokens, with
/// a warning naming the JWKS; not ready without any key (every token would
/// get 503), saying why, and ready again once the JWKS answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_entra_readiness_follows_the_jwks() {
    let key = SigningKey::generate("key-1");
    let hits = Arc::new(Mutex::new(0));
    let (jwks, server) = jwks_server_that_goes_away(vec![key.jwk()], hits.clone()).await;
    let jwks_url = format!("http://{jwks}/keys");
    // Keys go stale after 1 s, so that they are fetched again.
    let rx = start(&entra_config(
        &jwks_url,
        "jwks_max_age_secs = 1\njwks_backoff_max_secs = 2\n",
    ))
    .await;
    let (status, body) = readyz(&rx).await;
    assert_eq!((status, body.get("warning")), (200, None), "{body}");
    assert_eq!(*hits.lock().unwrap(), 1, "/readyz fetched the keys");
    assert_eq!(
        post_with_token(&rx, key.token(v2_claims()), 1)
            .await
            .status(),
        202
    );

    // The JWKS endpoint goes away; the cached key is out of date.
    server.abort();
    let _ = server.await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = readyz(&rx).await;
    assert_eq!(status, 200, "{body}");
    let warning = body["warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains("cannot be fetched again")
            && warning.contains(&jwks_url)
            && warning.contains("1 cached key"),
        "{body}"
    );
    assert_eq!(*hits.lock().unwrap(), 1);
    // The cached key still checks tokens.
    assert_eq!(
        post_with_token(&rx, key.token(v2_claims()), 2)
            .await
            .status(),
        202
    );
    rx.stop().await;

    // A receiver that has no key yet, with the JWKS away: not ready, and why.
    let up = Arc::new(AtomicBool::new(false));
    let flaky = flaky_jwks_server(Arc::new(Mutex::new(vec![key.jwk()])), hits, up.clone()).await;
    for url in [jwks_url, format!("http://{flaky}/keys")] {
        let rx = start(&entra_config(&url, "jwks_backoff_max_secs = 2\n")).await;
        let (status, body) = readyz(&rx).await;
        assert_eq!(status, 503, "{body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("signing keys cannot be fetched")
                && detail.contains(&url)
                && detail.contains("[auth] jwks_url")
                && detail.contains("503"),
            "{body}"
        );
        if url.contains(&flaky.to_string()) {
            assert!(detail.contains("JWKS answered 503"), "{body}");
            // The JWKS is back: ready once the backoff has passed.
            up.store(true, Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let (status, body) = readyz(&rx).await;
                if status == 200 {
                    assert_eq!(body.get("warning"), None, "{body}");
                    break;
                }
                assert!(Instant::now() < deadline, "not ready again: {body}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(
                post_with_token(&rx, key.token(v2_claims()), 3)
                    .await
                    .status(),
                202
            );
        }
        rx.stop().await;
    }
}

/// `tradecloud doctor` with a static Bearer token sends one request with
/// it, `auth.given`'s: the receiver keys the proofs of the probes without
/// it with the token's digest from the start. The request that goes first
/// for an access token (which an Entra ID receiver knows only once it has
/// accepted it) is not sent for a token that cannot be one: not a JWT.
#[cfg(feature = "doctor")]
#[tokio::test]
async fn doctor_sends_a_static_bearer_token_once() {
    let token = "kP3x-static-token-0123456789";
    let rx = start(&format!(
        "[server]\n[auth]\nmethod = \"bearer\"\ntoken = \"{token}\"\n"
    ))
    .await;
    let mut options = tradecloud::doctor::Options::new(rx.url(ORDER));
    options.credentials = tradecloud::doctor::Credentials::Bearer(token.into());
    let report = tradecloud::doctor::run(&options).await;
    for id in ["auth.missing", "auth.wrong", "auth.given", "route.post"] {
        assert_eq!(
            report.check(id).unwrap().status,
            tradecloud::doctor::Status::Pass,
            "{id}: {}",
            report.render_text()
        );
    }
    let metrics = rx.metrics.encode();
    // The request with the token is refused with 415 (nothing stored); the
    // two without it carry the doctor's proof.
    for line in [
        r#"tradecloud_webhook_responses_total{status="415"} 1"#,
        r#"tradecloud_webhook_responses_total{status="401"} 2"#,
        r#"tradecloud_webhook_rejected_total{reason="doctor_probe"} 3"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}: {metrics}");
    }
    assert!(!metrics.contains(r#"reason="unauthorized""#), "{metrics}");
    assert_eq!(stored_count(&rx).await, 0);
    rx.stop().await;
}

/// The proof header of `tradecloud doctor`'s probes, made here the way its
/// docs say: HMAC-SHA256 of `tradecloud-doctor-probe v1\nT\nN` keyed with
/// the SHA-256 of `secret`.
#[cfg(feature = "doctor")]
fn doctor_proof(secret: &str) -> String {
    use aws_lc_rs::{digest, hmac};
    let nonce = format!(
        "{:032x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let key = hmac::Key::new(
        hmac::HMAC_SHA256,
        digest::digest(&digest::SHA256, secret.as_bytes()).as_ref(),
    );
    let tag = hmac::sign(
        &key,
        format!("tradecloud-doctor-probe v1\n{}\n{nonce}", now()).as_bytes(),
    );
    let mac: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("v1 t={},n={nonce},mac={mac}", now())
}

/// `tradecloud doctor` against an Entra ID receiver, with the client
/// credentials of the portal: its probes without the token are not failed
/// logins. Only the holder of a token the receiver accepted can prove a
/// probe: a proof keyed with a guess, or with a valid token the receiver
/// never accepted, is a failed login.
#[cfg(feature = "doctor")]
#[tokio::test]
async fn doctor_probes_of_an_entra_receiver_are_not_failed_logins() {
    let key = SigningKey::generate("key-1");
    let keys = Arc::new(Mutex::new(vec![key.jwk()]));
    let jwks = jwks_server(keys, Arc::new(Mutex::new(0))).await;
    let rx = start(&entra_config(&format!("http://{jwks}/keys"), "")).await;
    // The Microsoft identity platform's token endpoint, for the doctor.
    let issued = key.token(v2_claims());
    let token = issued.clone();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move || {
            let token = token.clone();
            async move { axum::Json(json!({"access_token": token, "token_type": "Bearer"})) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token_url = format!("http://{}/token", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut options = tradecloud::doctor::Options::new(rx.url(ORDER));
    options.credentials = tradecloud::doctor::Credentials::Entra {
        token_url,
        client_id: CLIENT_ID.into(),
        client_secret: "the client secret".into(),
        scope: format!("{AUDIENCE}/.default"),
    };
    options.get = true;
    let report = tradecloud::doctor::run(&options).await;
    for id in ["auth.missing", "auth.wrong", "auth.given", "auth.get"] {
        let check = report.check(id).unwrap();
        assert_eq!(
            check.status,
            tradecloud::doctor::Status::Pass,
            "{}",
            report.render_text()
        );
    }
    let metrics = rx.metrics.encode();
    let count = |reason: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "tradecloud_webhook_rejected_total{{reason=\"{reason}\"}} "
                ))
            })
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(count("unauthorized"), 0, "{metrics}");
    assert!(count("doctor_probe") >= 3, "{metrics}");

    // Posing as the doctor: a proof keyed with a guess, or with a valid
    // token never presented to the receiver, counts as a failed login.
    let unseen = key.token(json!({"jti": "another", "aud": AUDIENCE, "exp": now() + 3600}));
    for secret in ["a guess", unseen.as_str()] {
        let answer = rx
            .client
            .post(rx.url(ORDER))
            .header("tradecloud-doctor-proof", doctor_proof(secret))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401);
    }
    let metrics = rx.metrics.encode();
    assert!(
        metrics.contains(r#"tradecloud_webhook_rejected_total{reason="unauthorized"} 2"#),
        "{metrics}"
    );
    // The holder of the accepted token proves its probe (once per nonce).
    let proof = doctor_proof(&issued);
    for expected in ["doctor_probe", "unauthorized"] {
        let before = rx.metrics.encode();
        let answer = rx
            .client
            .post(rx.url(ORDER))
            .header("tradecloud-doctor-proof", &proof)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401);
        let after = rx.metrics.encode();
        assert_ne!(
            before
                .lines()
                .find(|l| l.contains(&format!("reason=\"{expected}\""))),
            after
                .lines()
                .find(|l| l.contains(&format!("reason=\"{expected}\""))),
            "{expected}: {after}"
        );
    }
    rx.stop().await;
}
