//! Retries and the rate limit of `tradecloud::client::Client` against the
//! mock of Tradecloud over real HTTP (api/rules.md): bursts of `503` and
//! `429` are retried until success (honouring `Retry-After`), a `400` is not
//! retried, retries stop at the configured limit, and the request rate seen
//! by the server stays at or under the limit.

#![cfg(feature = "mock")]

use std::time::{Duration, Instant};

use tradecloud::api::authentication::operations::LOGIN;
use tradecloud::api::order::operations::GET_ORDER_BY_ID_ROUTE;
use tradecloud::client::{AuthStep, ClientError, RetryPolicy};
use tradecloud::mock::{FaultConfig, FaultTrigger, MockConfig};

use crate::client_support as support;
use support::{builder, client, start, ORDER_ID};

#[tokio::test]
async fn a_burst_of_503s_is_retried_until_success() {
    let server = start(
        MockConfig::new().demo_data().fault(
            FaultConfig::service_unavailable(FaultTrigger::FirstN(4))
                .for_operations([GET_ORDER_BY_ID_ROUTE.id]),
        ),
    )
    .await;
    let client = client(&server);
    let order = client
        .orders()
        .get(ORDER_ID)
        .await
        .expect("the fifth attempt succeeds");
    assert_eq!(order.id.as_deref(), Some(ORDER_ID));
    let stats = server.stats();
    assert_eq!(stats.requests_for(GET_ORDER_BY_ID_ROUTE.id), 5, "{stats:?}");
    assert_eq!(stats.responses_with(503), 4);
    assert_eq!(client.stats().retries, 4);
}

#[tokio::test]
async fn a_burst_of_429s_is_retried_after_the_retry_after_delay() {
    let server = start(
        MockConfig::new().demo_data().fault(
            FaultConfig::too_many_requests(1, FaultTrigger::FirstN(2))
                .for_operations([GET_ORDER_BY_ID_ROUTE.id]),
        ),
    )
    .await;
    let client = client(&server);
    let started = Instant::now();
    client
        .orders()
        .get(ORDER_ID)
        .await
        .expect("the third attempt succeeds");
    let elapsed = started.elapsed();
    // Two `Retry-After: 1` answers: at least two seconds, although the
    // client's own backoff would have waited only milliseconds.
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    let stats = server.stats();
    assert_eq!(stats.responses_with(429), 2, "{stats:?}");
    assert_eq!(stats.requests_for(GET_ORDER_BY_ID_ROUTE.id), 3);
}

#[tokio::test]
async fn a_failing_login_is_retried_too() {
    let server = start(MockConfig::new().demo_data().fault(
        FaultConfig::service_unavailable(FaultTrigger::FirstN(2)).for_operations([LOGIN.id]),
    ))
    .await;
    let client = client(&server);
    client
        .orders()
        .get(ORDER_ID)
        .await
        .expect("the login succeeds on its third attempt");
    let stats = server.stats();
    assert_eq!(
        (stats.requests_for(LOGIN.id), stats.logins),
        (3, 1),
        "{stats:?}"
    );
}

/// The login has its own retries; the call that needed it does not
/// retry it once more (which would multiply the attempts).
#[tokio::test]
async fn a_login_that_keeps_failing_is_retried_once_over() {
    let server =
        start(MockConfig::new().demo_data().fault(
            FaultConfig::service_unavailable(FaultTrigger::Always).for_operations([LOGIN.id]),
        ))
        .await;
    let client = client(&server);
    let error = client
        .orders()
        .get(ORDER_ID)
        .await
        .expect_err("the login never succeeds");
    assert!(
        matches!(
            error,
            ClientError::AuthenticationFailed {
                step: AuthStep::Login,
                status: 503,
                attempts: 6,
                ..
            }
        ),
        "{error:?}"
    );
    let stats = server.stats();
    assert_eq!(stats.requests_for(LOGIN.id), 6, "{stats:?}");
    assert_eq!(stats.requests_for(GET_ORDER_BY_ID_ROUTE.id), 0);
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let server = start(MockConfig::new().demo_data().fault(
        FaultConfig::status(400, FaultTrigger::Always).for_operations([GET_ORDER_BY_ID_ROUTE.id]),
    ))
    .await;
    let client = client(&server);
    let error = client
        .orders()
        .get(ORDER_ID)
        .await
        .expect_err("a 400 fails at once");
    assert!(
        matches!(error, ClientError::Rejected { status: 400, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("it is not retried"), "{error}");
    assert!(!error.is_transient());
    assert_eq!(server.stats().requests_for(GET_ORDER_BY_ID_ROUTE.id), 1);
    assert_eq!(client.stats().retries, 0);
}

#[tokio::test]
async fn other_4xx_answers_are_not_retried_either() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = client(&server);
    let error = client
        .orders()
        .get("no-such-order")
        .await
        .expect_err("a 404");
    assert!(matches!(error, ClientError::NotFound { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with("order no-such-order: not found at Tradecloud"),
        "{error}"
    );
    assert_eq!(server.stats().requests_for(GET_ORDER_BY_ID_ROUTE.id), 1);
}

#[tokio::test]
async fn retries_stop_at_the_configured_limit() {
    let server = start(
        MockConfig::new().demo_data().fault(
            FaultConfig::service_unavailable(FaultTrigger::Always)
                .for_operations([GET_ORDER_BY_ID_ROUTE.id]),
        ),
    )
    .await;
    let client = builder(&server)
        .retry_policy(
            RetryPolicy::default()
                .max_retries(2)
                .base_delay(Duration::from_millis(5)),
        )
        .build()
        .expect("a client");
    let error = client
        .orders()
        .get(ORDER_ID)
        .await
        .expect_err("503 forever");
    assert!(
        matches!(
            error,
            ClientError::Unavailable {
                status: 503,
                attempts: 3,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert!(error.to_string().contains("after 3 attempts"), "{error}");
    assert_eq!(server.stats().requests_for(GET_ORDER_BY_ID_ROUTE.id), 3);
}

#[tokio::test]
async fn slow_answers_time_out_and_are_retried() {
    let server = start(
        MockConfig::new().demo_data().fault(
            FaultConfig::delay(Duration::from_secs(2), FaultTrigger::FirstN(1))
                .for_operations([GET_ORDER_BY_ID_ROUTE.id]),
        ),
    )
    .await;
    let client = builder(&server)
        .timeout(Duration::from_millis(500))
        .build()
        .expect("a client");
    client
        .orders()
        .get(ORDER_ID)
        .await
        .expect("the second attempt is fast");
    assert_eq!(server.stats().requests_for(GET_ORDER_BY_ID_ROUTE.id), 2);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_request_rate_stays_under_the_limit() {
    const LIMIT: u32 = 20;
    let server = start(MockConfig::new().demo_data()).await;
    let client = builder(&server)
        .rate_limit(LIMIT)
        .build()
        .expect("a client");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..6 {
                client.orders().get(ORDER_ID).await?;
            }
            Ok::<_, ClientError>(())
        }));
    }
    for task in tasks {
        task.await
            .expect("the task runs")
            .expect("the calls succeed");
    }
    let elapsed = started.elapsed();
    // 61 requests (the login included) at most 20 a second: about 3 s.
    assert_eq!(server.stats().api_requests(), 61);
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
    let peak = server.peak_requests_in(Duration::from_secs(1));
    assert!(
        peak <= LIMIT as usize,
        "{peak} requests within one second (limit {LIMIT})"
    );
    assert!(
        peak >= LIMIT as usize - 2,
        "the limiter should not be far below the limit: {peak}"
    );
}

#[tokio::test]
async fn the_default_rate_limit_is_ten_per_second() {
    let server = start(MockConfig::new().demo_data()).await;
    let credentials = server.credentials();
    let client = tradecloud::client::Client::builder()
        .environment(tradecloud::client::Environment::custom(server.base_url()))
        .credentials(credentials.username, credentials.password)
        .build()
        .expect("a client");
    let mut tasks = Vec::new();
    for _ in 0..25 {
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
    let peak = server.peak_requests_in(Duration::from_secs(1));
    assert!(peak <= 10, "{peak} requests within one second");
}
