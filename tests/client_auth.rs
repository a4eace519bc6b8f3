//! Token handling of `tradecloud::client::Client` against the mock of
//! Tradecloud over real HTTP: one login for many concurrent calls, refresh
//! before expiry and after a 401, a fresh login when the refresh token is
//! refused, refresh and logout with only the `Refresh-Token` header, Basic
//! auth on every request, and no secrets in `Debug` output.

#![cfg(feature = "mock")]

use std::time::Duration;

use tradecloud::api::authentication::operations::LOGOUT;
use tradecloud::api::order::operations::GET_ORDER_BY_ID_ROUTE;
use tradecloud::client::{AuthMode, ClientError};
use tradecloud::mock::MockConfig;

use crate::client_support as support;
use support::{builder, client, start, ORDER_ID, SHIPMENT_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_calls_from_fifty_tasks_log_in_once() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = client(&server);
    let mut tasks = Vec::new();
    for task in 0..50 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for call in 0..20 {
                if (task + call) % 2 == 0 {
                    client.orders().get(ORDER_ID).await.map(|o| o.id)?;
                } else {
                    client.shipments().get(SHIPMENT_ID).await.map(|s| s.id)?;
                }
            }
            Ok::<_, ClientError>(())
        }));
    }
    for task in tasks {
        task.await
            .expect("the task runs")
            .expect("every call succeeds");
    }
    let stats = server.stats();
    assert_eq!(
        stats.logins, 1,
        "exactly one login for 1,000 calls: {stats:?}"
    );
    assert_eq!(stats.refreshes, 0);
    assert_eq!(stats.bearer_requests, 1000);
    assert_eq!(stats.unauthorized, 0);
    assert_eq!(client.stats().logins, 1);
    assert_eq!(client.stats().requests, 1001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_access_token_is_refreshed_once() {
    let server = start(
        MockConfig::new()
            .demo_data()
            .access_token_lifetime(Duration::from_secs(2)),
    )
    .await;
    let client = client(&server);
    client.orders().get(ORDER_ID).await.expect("the first call");
    // The mock rounds `exp` up to whole seconds: wait past that too.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    // 50 concurrent calls after expiry: one refresh between them.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client.orders().get(ORDER_ID).await.map(|_| ())
        }));
    }
    for task in tasks {
        task.await
            .expect("the task runs")
            .expect("the call succeeds");
    }
    let stats = server.stats();
    assert_eq!(stats.logins, 1, "{stats:?}");
    assert_eq!(stats.refreshes, 1, "{stats:?}");
    assert_eq!(stats.refreshes_with_authorization_header, 0, "{stats:?}");
    // The token was renewed before it was sent expired: no 401 at all.
    assert_eq!(stats.unauthorized, 0, "{stats:?}");
}

#[tokio::test]
async fn a_401_leads_to_a_refresh_and_the_call_is_retried() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = client(&server);
    client.orders().get(ORDER_ID).await.expect("the first call");
    // The client still believes its token lives an hour; the server says 401.
    server.expire_access_tokens();
    let order = client
        .orders()
        .get(ORDER_ID)
        .await
        .expect("the call succeeds after a refresh");
    assert_eq!(order.id.as_deref(), Some(ORDER_ID));
    let stats = server.stats();
    assert_eq!(
        (stats.logins, stats.refreshes, stats.unauthorized),
        (1, 1, 1),
        "{stats:?}"
    );
    assert_eq!(stats.refreshes_with_authorization_header, 0);
    assert_eq!(stats.requests_for(GET_ORDER_BY_ID_ROUTE.id), 3);
}

#[tokio::test]
async fn a_401_with_a_refused_refresh_token_leads_to_a_fresh_login() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = client(&server);
    client.orders().get(ORDER_ID).await.expect("the first call");
    server.revoke_all_tokens();
    client
        .shipments()
        .get(SHIPMENT_ID)
        .await
        .expect("the call succeeds after logging in again");
    let stats = server.stats();
    assert_eq!(stats.logins, 2, "{stats:?}");
    assert_eq!(stats.failed_refreshes, 1, "{stats:?}");
    assert_eq!(stats.refreshes_with_authorization_header, 0);
}

#[tokio::test]
async fn an_expired_refresh_token_means_logging_in_again() {
    let server = start(
        MockConfig::new()
            .demo_data()
            .access_token_lifetime(Duration::from_secs(1))
            .refresh_token_lifetime(Duration::from_secs(2)),
    )
    .await;
    let client = client(&server);
    client.orders().get(ORDER_ID).await.expect("the first call");
    // The mock rounds `exp` up to whole seconds: wait past that too.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    client
        .orders()
        .get(ORDER_ID)
        .await
        .expect("the call after both tokens expired");
    let stats = server.stats();
    // The refresh token's own `exp` says it is gone: log in, no refresh try.
    assert_eq!(
        (stats.logins, stats.refreshes, stats.failed_refreshes),
        (2, 0, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn the_refresh_request_carries_only_the_refresh_token() {
    // The mock answers 400 to a refresh that also has an Authorization
    // header; many refreshes in a row must all succeed.
    let server = start(MockConfig::new().demo_data()).await;
    let client = client(&server);
    for _ in 0..5 {
        client.orders().get(ORDER_ID).await.expect("a call");
        server.expire_access_tokens();
    }
    let stats = server.stats();
    assert_eq!(stats.refreshes, 4, "{stats:?}");
    assert_eq!(stats.refreshes_with_authorization_header, 0, "{stats:?}");
    assert_eq!(stats.responses_with(400), 0, "{stats:?}");
    assert_eq!(stats.logins, 1);
}

#[tokio::test]
async fn wrong_credentials_give_a_clear_error_without_retrying() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = builder(&server)
        .credentials("integration@example.com", "wrong password")
        .build()
        .expect("a client");
    let error = client
        .orders()
        .get(ORDER_ID)
        .await
        .expect_err("the login is refused");
    assert!(
        matches!(error, ClientError::Unauthorized { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "Tradecloud rejected the credentials of integration@example.com: check the user name \
             and password given to the client (ClientBuilder::credentials; with Client::from_env, \
             TRADECLOUD_USERNAME/TRADECLOUD_PASSWORD) and that the user has the integration role \
             (ask support@tradecloud1.com to assign it)"
    );
    assert!(!error.to_string().contains("wrong password"));
    let stats = server.stats();
    assert_eq!(stats.failed_logins, 1, "a 401 is not retried: {stats:?}");
    assert_eq!(stats.requests_for(GET_ORDER_BY_ID_ROUTE.id), 0);
    let error = client.login().await.expect_err("login() says the same");
    assert!(
        matches!(error, ClientError::Unauthorized { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn basic_auth_on_every_request_never_logs_in() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = builder(&server)
        .auth_mode(AuthMode::BasicEveryRequest)
        .build()
        .expect("a client");
    for _ in 0..10 {
        client.orders().poll_since(None).await.expect("a call");
    }
    let stats = server.stats();
    assert_eq!(
        (stats.logins, stats.basic_requests, stats.bearer_requests),
        (0, 10, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn basic_auth_mode_uses_a_token_where_tradecloud_refuses_basic() {
    // security/authentication.md: Basic on every request only for
    // api-connector, object-storage/document, order-search/poll and
    // shipment/poll. The mock refuses Basic on GET /order/{orderId}.
    let server = start(MockConfig::new().demo_data()).await;
    let client = builder(&server)
        .auth_mode(AuthMode::BasicEveryRequest)
        .build()
        .expect("a client");
    for _ in 0..3 {
        client.orders().get(ORDER_ID).await.expect("a call");
    }
    client.orders().poll_since(None).await.expect("a poll");
    let stats = server.stats();
    assert_eq!(
        (
            stats.logins,
            stats.basic_requests,
            stats.bearer_requests,
            stats.unauthorized
        ),
        (1, 1, 3, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn logout_invalidates_the_refresh_token_and_a_later_call_logs_in_again() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = client(&server);
    client
        .logout()
        .await
        .expect("logging out without tokens does nothing");
    assert_eq!(server.stats().requests_for(LOGOUT.id), 0);
    client.orders().get(ORDER_ID).await.expect("a call");
    client.logout().await.expect("logout");
    let stats = server.stats();
    assert_eq!(stats.logouts, 1, "{stats:?}");
    assert_eq!(
        stats.refreshes_with_authorization_header, 0,
        "logout sends no Authorization either"
    );
    client
        .orders()
        .get(ORDER_ID)
        .await
        .expect("a call after logging out");
    assert_eq!(server.stats().logins, 2);
}

#[tokio::test]
async fn debug_output_shows_no_secrets() {
    let server = start(MockConfig::new().demo_data()).await;
    let credentials = server.credentials();
    let client = client(&server);
    client.orders().get(ORDER_ID).await.expect("a call");
    let shown = format!("{client:?} {:?}", client.context());
    assert!(shown.contains(&credentials.username), "{shown}");
    assert!(!shown.contains(&credentials.password), "{shown}");
    assert!(!shown.contains("eyJ"), "no JWT in {shown}");
    assert!(!shown.to_lowercase().contains("bearer "), "{shown}");
}

/// A client of `base_url` with fast retries (at most one).
fn client_of(base_url: &str) -> tradecloud::client::Client {
    tradecloud::client::Client::builder()
        .base_url(base_url)
        .credentials("integration@example.com", "secret")
        .without_rate_limit()
        .retry_policy(
            tradecloud::client::RetryPolicy::default()
                .max_retries(1)
                .base_delay(Duration::from_millis(1)),
        )
        .build()
        .expect("a client")
}

/// A base URL without `/v2`: the login is answered `404`, which no retry
/// fixes. The error says so, names the base URL and is not transient.
#[tokio::test]
async fn a_login_answered_404_blames_the_base_url_and_is_not_transient() {
    let server = start(MockConfig::new().demo_data()).await;
    let root = server
        .base_url()
        .strip_suffix("/v2")
        .expect("the mock's base URL ends in /v2")
        .to_owned();
    let client = builder(&server).base_url(&root).build().expect("a client");
    let error = client
        .orders()
        .get(ORDER_ID)
        .await
        .expect_err("no login there");
    assert!(
        matches!(
            error,
            ClientError::AuthenticationFailed {
                status: 404,
                attempts: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient(), "{error}");
    let text = error.to_string();
    assert!(text.contains("after 1 attempt "), "{text}");
    assert!(text.contains(&format!("the base URL {root} ")), "{text}");
    assert!(text.contains("ending in /v2"), "{text}");
    assert!(!text.contains("try again later"), "{text}");
    let error = client.login().await.expect_err("login() says the same");
    assert!(!error.is_transient(), "{error}");
}

/// A login answered `501` with an HTML page: the error keeps the `501`
/// (the page is not a made-up `502`), and a `5xx` is transient.
#[tokio::test]
async fn a_login_answered_501_with_html_keeps_its_status() {
    let base_url = support::fixed_server(
        501,
        "text/html",
        "<html><body><h1>Not Implemented</h1></body></html>",
    )
    .await;
    let error = client_of(&base_url)
        .orders()
        .get(ORDER_ID)
        .await
        .expect_err("no login there");
    assert!(
        matches!(
            error,
            ClientError::AuthenticationFailed {
                status: 501,
                attempts: 2,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(501));
    assert!(error.is_transient(), "{error}");
    let text = error.to_string();
    assert!(text.contains("failed with 501 after 2 attempts"), "{text}");
    assert!(text.contains("try again later"), "{text}");
}

/// A login answered `200` without tokens (a server that is not
/// Tradecloud) or with an unreadable body: the real status, not a made-up
/// `502`, and not transient.
#[tokio::test]
async fn a_login_answer_that_is_not_tradecloud_s_keeps_its_status() {
    for (content_type, body) in [
        ("application/json", "{}"),
        ("text/html", "<html>a web site</html>"),
    ] {
        let base_url = support::fixed_server(200, content_type, body).await;
        let error = client_of(&base_url)
            .login()
            .await
            .expect_err("no tokens in the answer");
        assert!(
            matches!(error, ClientError::AuthenticationFailed { status: 200, .. }),
            "{body}: {error:?}"
        );
        assert!(!error.is_transient(), "{error}");
        let text = error.to_string();
        assert!(text.contains(&base_url), "{text}");
        assert!(!text.contains("try again later"), "{text}");
    }
}

/// A login answered `200` without usable tokens fails the call it was
/// for, with the login's status: the refusal never reads as the call's own
/// success (an empty order, an order action taken).
#[tokio::test]
async fn a_login_answered_200_without_tokens_fails_the_call_it_was_for() {
    for (content_type, body) in [
        ("application/json", "{}"),
        ("text/html", "<html>a web site</html>"),
    ] {
        let base_url = support::fixed_server(200, content_type, body).await;
        let client = client_of(&base_url);
        let error = client
            .orders()
            .get(ORDER_ID)
            .await
            .expect_err("no tokens, no order");
        assert!(
            matches!(error, ClientError::AuthenticationFailed { status: 200, .. }),
            "{body}: {error:?}"
        );
        let lines = tradecloud::api::order::types::OrderLinePositions::builder()
            .line_positions(["0001"])
            .build();
        let error = client
            .orders()
            .complete_lines(ORDER_ID, &lines)
            .await
            .expect_err("no tokens, no action");
        assert!(
            matches!(error, ClientError::AuthenticationFailed { status: 200, .. }),
            "{body}: {error:?}"
        );
    }
}

/// A login answered `403`: the credentials are refused; not transient.
#[tokio::test]
async fn a_login_answered_403_says_the_credentials_are_refused() {
    let base_url = support::fixed_server(403, "application/json", r#"{"message":"blocked"}"#).await;
    let error = client_of(&base_url).login().await.expect_err("refused");
    assert!(
        matches!(
            error,
            ClientError::AuthenticationFailed {
                status: 403,
                attempts: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient(), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("refused the credentials of integration@example.com"),
        "{text}"
    );
    assert!(text.contains("(blocked)"), "{text}");
}
