//! A clean stop and what interrupted events keep across it: the shutdown
//! grace that cancels hung handlers without counting an attempt, the
//! "run alone" standing of an event that was in a handler when the process
//! died, and the reason recorded when such an event is set aside.
#![cfg(feature = "receiver")]

use crate::pg_support;
use crate::processing_support::{crash_mid_handler, hang_in_handler, order_event};

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tradecloud::inbox::{Inbox, State};
use tradecloud::processing::{handler_fn, Handler, Processor, ProcessorConfig};

/// Generous, only so that a hang fails instead of blocking.
const HANG: Duration = Duration::from_secs(60);

fn config() -> ProcessorConfig {
    ProcessorConfig {
        concurrency: 2,
        lease: Duration::from_secs(1),
        poll_interval: Duration::from_millis(20),
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(20),
        ..ProcessorConfig::default()
    }
}

/// [`config`] with a 50 ms shutdown grace.
fn short_grace() -> ProcessorConfig {
    ProcessorConfig {
        shutdown_grace: Duration::from_millis(50),
        ..config()
    }
}

/// A processor started on `inbox` with `handler`: what stops it (cleanly,
/// once sent), and its task.
fn spawn_processor(
    inbox: &Inbox,
    handler: impl Handler,
    config: ProcessorConfig,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(Processor::new(inbox.clone(), handler, config).run(async {
        let _ = stopped.await;
    }));
    (stop, running)
}

/// Waits (at most [`HANG`]) until `done`, looking every 20 ms.
async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    tokio::time::timeout(HANG, async {
        while !done().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect(what);
}

/// The process dies twice while a handler runs: the second time the one
/// event stored is in a handler, marked, so the next claim hands it on
/// alone.
async fn crash_twice_mid_handler(inbox: &Inbox) {
    crash_mid_handler(inbox, config(), HANG).await;
    crash_mid_handler(inbox, config(), HANG).await;
}

/// Runs a processor whose handler never finishes on event `hung` (and
/// accepts every other), stops it cleanly once that handler has started,
/// and waits for it to end (a stop that waited for the handler timeout, 10
/// minutes, fails on [`HANG`]).
async fn stop_with_a_hung_handler(inbox: &Inbox, hung: i64, config: ProcessorConfig) {
    stop_or_crash_with_a_hung_handler(inbox, hung, config, false).await
}

/// [`stop_with_a_hung_handler`], or with `crash` the processor "dies"
/// (its task aborted) instead of stopping.
async fn stop_or_crash_with_a_hung_handler(
    inbox: &Inbox,
    hung: i64,
    config: ProcessorConfig,
    crash: bool,
) {
    let started = Arc::new(tokio::sync::Notify::new());
    let handler = {
        let started = started.clone();
        handler_fn(move |event, _ctx| {
            let started = started.clone();
            async move {
                if event.meta().inbox_id == hung {
                    started.notify_one();
                    std::future::pending::<()>().await;
                }
                Ok(())
            }
        })
    };
    let (stop, running) = spawn_processor(inbox, handler, config);
    tokio::time::timeout(HANG, started.notified())
        .await
        .expect("the handler started");
    if crash {
        running.abort();
        let _ = running.await;
        return;
    }
    let _ = stop.send(());
    tokio::time::timeout(HANG, running)
        .await
        .expect("the stop did not wait behind the hung handler")
        .expect("processor task");
}

/// Runs a processor with a handler that accepts everything until every
/// event is settled.
async fn process_until_settled(inbox: &Inbox, config: ProcessorConfig) {
    let (stop, running) = spawn_processor(inbox, handler_fn(|_, _| async { Ok(()) }), config);
    wait_until("every event settled", async || {
        let counts = inbox.counts().await.unwrap();
        !counts.iter().any(|(state, n)| {
            *n > 0 && matches!(state, State::Received | State::Processing | State::Retrying)
        })
    })
    .await;
    let _ = stop.send(());
    running.await.unwrap();
}

/// A clean stop cancels a handler still running after the shutdown grace
/// (not after the handler timeout) and puts its event back uncounted; the
/// next start hands it on as its first attempt.
async fn a_stop_cancels_a_hung_handler_after_the_grace_on(url: &str) {
    let inbox = Inbox::connect(url).await.unwrap();
    let x = inbox.store(order_event("o-1", "m-x")).await.unwrap().id();
    stop_with_a_hung_handler(&inbox, x, short_grace()).await;
    let event = inbox.get(x).await.unwrap().unwrap().summary;
    assert_eq!(
        (event.state, event.attempts),
        (State::Received, 0),
        "back in the queue, nothing counted"
    );
    assert!(inbox.attempts(x).await.unwrap().is_empty());

    process_until_settled(&inbox, config()).await;
    let event = inbox.get(x).await.unwrap().unwrap().summary;
    let attempts = inbox.attempts(x).await.unwrap();
    assert_eq!((event.state, event.attempts), (State::Done, 1));
    assert_eq!(attempts.len(), 1, "{attempts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_cancels_a_hung_handler_after_the_grace_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    a_stop_cancels_a_hung_handler_after_the_grace_on(&url).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_cancels_a_hung_handler_after_the_grace_postgres() {
    let pg = pg_support::PgCluster::start();
    a_stop_cancels_a_hung_handler_after_the_grace_on(&pg.database("inbox")).await;
}

/// Whether event `id` has an `interrupted` attempt of a run alone (the one
/// that counts), as opposed to the uncounted marks.
async fn ran_alone_when_interrupted(inbox: &Inbox, id: i64) -> bool {
    inbox.attempts(id).await.unwrap().iter().any(|a| {
        a.outcome.as_str() == "interrupted"
            && a.error.as_deref().is_some_and(|e| {
                e.contains("ran this event alone") && !e.contains("not handed on yet")
            })
    })
}

/// An event that was in a handler when the process died twice is to run
/// alone; a clean stop that cancels it (after the grace) keeps that
/// standing: the next time it is handed on alone, so the crash that follows
/// counts against it, and its count stays the attempts recorded.
async fn a_clean_stop_keeps_the_run_alone_standing_on(url: &str) {
    let inbox = Inbox::connect(url).await.unwrap();
    let x = inbox.store(order_event("o-1", "m-x")).await.unwrap().id();
    // Twice: the second time x is in a handler, marked, when the process
    // dies, so the next claim hands it on alone.
    crash_twice_mid_handler(&inbox).await;
    stop_with_a_hung_handler(&inbox, x, short_grace()).await;
    assert!(
        !ran_alone_when_interrupted(&inbox, x).await,
        "the clean stop counted against the event: {:?}",
        inbox.attempts(x).await.unwrap()
    );
    // Handed on alone again: this crash is blamed on it.
    crash_mid_handler(&inbox, config(), HANG).await;
    assert!(
        ran_alone_when_interrupted(&inbox, x).await,
        "not handed on alone after the clean stop: {:?}",
        inbox.attempts(x).await.unwrap()
    );
    process_until_settled(&inbox, config()).await;
    let event = inbox.get(x).await.unwrap().unwrap().summary;
    let attempts = inbox.attempts(x).await.unwrap();
    let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(event.state, State::Done);
    assert_eq!(outcomes, vec!["interrupted", "done"]);
    assert_eq!(event.attempts, 2, "the count is the attempts recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_keeps_the_run_alone_standing_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    a_clean_stop_keeps_the_run_alone_standing_on(&url).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_keeps_the_run_alone_standing_postgres() {
    let pg = pg_support::PgCluster::start();
    a_clean_stop_keeps_the_run_alone_standing_on(&pg.database("inbox")).await;
}

/// An interrupted event put back at a clean stop (still `processing`, its
/// head free) runs nowhere: `mark_dead` sets it aside, with its uncounted
/// marks gone and its count the attempts recorded, and the next start hands
/// on its object's next event, never it.
async fn an_interrupted_event_put_back_can_be_marked_dead_on(url: &str) {
    let inbox = Inbox::connect(url).await.unwrap();
    let x = inbox.store(order_event("o-1", "m-x")).await.unwrap().id();
    // Twice, so that the clean stop puts x back with a pending mark.
    crash_twice_mid_handler(&inbox).await;
    stop_with_a_hung_handler(&inbox, x, short_grace()).await;
    let y = inbox.store(order_event("o-1", "m-y")).await.unwrap().id();
    let event = inbox.get(x).await.unwrap().unwrap().summary;
    assert_eq!(event.state, State::Processing, "put back as interrupted");
    let marks = |attempts: &[tradecloud::inbox::Attempt]| {
        attempts
            .iter()
            .filter(|a| {
                a.error.as_deref().is_some_and(|e| {
                    e.contains("not handed on yet") || e.contains("handed on alone next")
                })
            })
            .count()
    };
    assert_eq!(
        marks(&inbox.attempts(x).await.unwrap()),
        1,
        "a pending mark"
    );

    inbox.mark_dead(x, "poison").await.unwrap();
    let event = inbox.get(x).await.unwrap().unwrap().summary;
    let attempts = inbox.attempts(x).await.unwrap();
    assert_eq!(event.state, State::Dead);
    assert_eq!(event.error.as_deref(), Some("poison"));
    assert_eq!(marks(&attempts), 0, "{attempts:?}");
    assert_eq!(
        event.attempts as usize,
        attempts.len(),
        "the count is the attempts recorded: {attempts:?}"
    );

    let handed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handler = {
        let handed = handed.clone();
        handler_fn(move |event, _ctx| {
            handed.lock().unwrap().push(event.meta().inbox_id);
            async { Ok(()) }
        })
    };
    let (stop, running) = spawn_processor(&inbox, handler, config());
    wait_until("the object's next event handled", async || {
        inbox.get(y).await.unwrap().unwrap().summary.state == State::Done
    })
    .await;
    let _ = stop.send(());
    running.await.unwrap();
    assert_eq!(*handed.lock().unwrap(), vec![y]);
    let event = inbox.get(x).await.unwrap().unwrap().summary;
    assert_eq!(event.state, State::Dead);
    assert_eq!(inbox.attempts(x).await.unwrap().len(), attempts.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_event_put_back_can_be_marked_dead_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    an_interrupted_event_put_back_can_be_marked_dead_on(&url).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_event_put_back_can_be_marked_dead_postgres() {
    let pg = pg_support::PgCluster::start();
    an_interrupted_event_put_back_can_be_marked_dead_on(&pg.database("inbox")).await;
}

/// An event a running processor's handler holds is still refused, with
/// what to do.
async fn an_event_being_handled_is_not_marked_dead_on(url: &str) {
    let inbox = Inbox::connect(url).await.unwrap();
    let x = inbox.store(order_event("o-1", "m-x")).await.unwrap().id();
    let running = hang_in_handler(&inbox, config(), HANG).await;
    let refused = inbox.mark_dead(x, "poison").await.unwrap_err().to_string();
    running.abort();
    let _ = running.await;
    assert!(
        refused.contains("it is being handled now, try again when it is finished"),
        "{refused}"
    );
    assert_eq!(
        inbox.get(x).await.unwrap().unwrap().summary.state,
        State::Processing
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_being_handled_is_not_marked_dead_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    an_event_being_handled_is_not_marked_dead_on(&url).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_being_handled_is_not_marked_dead_postgres() {
    let pg = pg_support::PgCluster::start();
    an_event_being_handled_is_not_marked_dead_on(&pg.database("inbox")).await;
}

/// On PostgreSQL an event whose instance died holds its object only until
/// its lease runs out: then it can be marked dead (any instance could take
/// it over).
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_whose_lease_ran_out_can_be_marked_dead_postgres() {
    let pg = pg_support::PgCluster::start();
    let inbox = Inbox::connect(&pg.database("inbox")).await.unwrap();
    let x = inbox.store(order_event("o-1", "m-x")).await.unwrap().id();
    crash_mid_handler(&inbox, config(), HANG).await;
    wait_until("the lease ran out", async || {
        pg.psql(
            "inbox",
            &format!("SELECT due_at <= tc_now_ms() FROM heads WHERE event_id = {x}"),
        ) == "t"
    })
    .await;
    inbox.mark_dead(x, "poison").await.unwrap();
    let event = inbox.get(x).await.unwrap().unwrap().summary;
    assert_eq!((event.state, event.attempts), (State::Dead, 0));
}

/// An event to run alone whose processor dies while it waits for its turn
/// (another handler still running) keeps its standing: the next claim hands
/// it on alone. On PostgreSQL, where the test can see which instance holds
/// the event.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_while_waiting_to_run_alone_keeps_the_standing_postgres() {
    let pg = pg_support::PgCluster::start();
    let inbox = Inbox::connect(&pg.database("inbox")).await.unwrap();
    let x = inbox.store(order_event("o-1", "m-x")).await.unwrap().id();
    crash_twice_mid_handler(&inbox).await;
    // Due at once, before x's head (due when the dead one's lease ends).
    let y = inbox.store(order_event("o-2", "m-y")).await.unwrap().id();
    let y_started = Arc::new(tokio::sync::Notify::new());
    let handler = {
        let y_started = y_started.clone();
        handler_fn(move |event, _ctx| {
            let y_started = y_started.clone();
            async move {
                if event.meta().inbox_id == y {
                    y_started.notify_one();
                }
                std::future::pending::<()>().await;
                Ok(())
            }
        })
    };
    let running =
        tokio::spawn(Processor::new(inbox.clone(), handler, config()).run(std::future::pending()));
    tokio::time::timeout(HANG, y_started.notified())
        .await
        .expect("y's handler started");
    let owner = pg.psql(
        "inbox",
        &format!("SELECT owner FROM heads WHERE event_id = {y}"),
    );
    // x claimed by the same processor: it waits for y's handler to run alone.
    wait_until("x claimed", async || {
        pg.psql(
            "inbox",
            &format!("SELECT owner FROM heads WHERE event_id = {x}"),
        ) == owner
    })
    .await;
    running.abort();
    let _ = running.await;
    assert!(!ran_alone_when_interrupted(&inbox, x).await);
    // The next claim hands x on alone (after y, handed on with others and
    // accepted this time): the crash meanwhile is blamed on it.
    stop_or_crash_with_a_hung_handler(&inbox, x, config(), true).await;
    assert!(
        ran_alone_when_interrupted(&inbox, x).await,
        "not handed on alone after the crash while it waited: {:?}",
        inbox.attempts(x).await.unwrap()
    );
}

/// An event set aside after interruptions while it ran alone says what
/// happened: on SQLite the process died (only a dead process leaves a claim
/// that the next start frees); on PostgreSQL its lease ran out (the
/// instance died, or stalled or lost its database connection: nothing
/// tells which), with what to do in each case.
async fn set_aside_after_interruptions_says_why_on(url: &str, expected: &str, advice: &str) {
    let inbox = Inbox::connect(url).await.unwrap();
    let x = inbox.store(order_event("o-1", "m-x")).await.unwrap().id();
    let config = ProcessorConfig {
        max_attempts: 1,
        ..config()
    };
    // The first crash blames no one, the second finds x in a handler, the
    // third comes while x runs alone: its one attempt.
    for _ in 0..3 {
        crash_mid_handler(&inbox, config.clone(), HANG).await;
    }
    process_until_settled(&inbox, config).await;
    let event = inbox.get(x).await.unwrap().unwrap().summary;
    assert_eq!(event.state, State::Dead, "{event:?}");
    let error = event.error.unwrap_or_default();
    assert!(error.contains(expected), "{error}");
    assert!(error.contains(advice), "{error}");
    assert!(
        error.contains(&format!("tradecloud inbox replay {x}")),
        "{error}"
    );
    let outcomes: Vec<String> = inbox
        .attempts(x)
        .await
        .unwrap()
        .iter()
        .map(|a| a.outcome.as_str().to_string())
        .collect();
    assert_eq!(outcomes, vec!["interrupted", "dead"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_aside_after_interruptions_says_why_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    set_aside_after_interruptions_says_why_on(
        &url,
        "the process died once while the handler ran this event alone",
        "the OOM killer",
    )
    .await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_aside_after_interruptions_says_why_postgres() {
    let pg = pg_support::PgCluster::start();
    set_aside_after_interruptions_says_why_on(
        &pg.database("inbox"),
        "the lease on this event ran out once while the handler ran it alone",
        "cannot renew the leases",
    )
    .await;
}

/// `tradecloud serve`'s stop: the processor's shutdown grace runs from the
/// signal, alongside the requests in flight, not after them, so that the
/// two together fit in the service manager's stop timeout. Here a request
/// is held in flight (its body half sent) while the hung handler's event
/// must be put back; then the request completes.
#[cfg(feature = "mock")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_puts_a_hung_handlers_event_back_while_requests_finish() {
    use crate::processing_support::hanging_handler;
    use crate::receiver_support::{basic_config, start_with, tls_connect, PASSWORD, USER};
    use base64::Engine as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (started, handler) = hanging_handler();
    let text = format!(
        "{}[processing]\nshutdown_grace_secs = 1\n",
        basic_config("shutdown_timeout_secs = 300\nrequest_timeout_secs = 300\n")
    );
    let mut rx = start_with(&text, |b| b.handler(handler)).await;
    let inbox = rx.inbox.clone();
    // The inbox's directory outlives the receiver (its stop drops it).
    let _dir = std::mem::replace(&mut rx.dir, tempfile::tempdir().unwrap());
    let response = rx
        .post(
            "/tradecloud/order",
            "application/json",
            r#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":"o1"}}"#,
        )
        .await;
    assert_eq!(response.status(), 202);
    tokio::time::timeout(HANG, started.notified())
        .await
        .expect("the handler started");
    let id = inbox.list(Default::default()).await.unwrap()[0].id;

    // A request in flight: its head read by the server (which says so with
    // `100 Continue`, so that the stop cannot find the connection idle)
    // and part of its body sent.
    let body = br#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":"o2"}}"#;
    let authorization =
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let mut stream = tls_connect(&rx).await.unwrap();
    let head = format!(
        "POST /tradecloud/order HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {authorization}\r\n\
         Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let mut proceed = vec![0u8; "HTTP/1.1 100 Continue\r\n\r\n".len()];
    stream.read_exact(&mut proceed).await.unwrap();
    assert!(
        proceed.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&proceed)
    );
    stream.write_all(&body[..10]).await.unwrap();
    stream.flush().await.unwrap();

    let stopping = tokio::spawn(rx.stop());
    wait_until(
        "the hung handler's event put back while a request was in flight",
        async || inbox.get(id).await.unwrap().unwrap().summary.state == State::Received,
    )
    .await;
    let event = inbox.get(id).await.unwrap().unwrap().summary;
    assert_eq!(event.attempts, 0, "nothing counted");

    // The request in flight is still served.
    stream.write_all(&body[10..]).await.unwrap();
    stream.flush().await.unwrap();
    let mut response = vec![0u8; 12];
    stream.read_exact(&mut response).await.unwrap();
    assert_eq!(
        &response[9..12],
        b"202",
        "{}",
        String::from_utf8_lossy(&response)
    );
    drop(stream);
    stopping.await.unwrap();
}

/// The lease of an event whose handler runs on into the shutdown grace is
/// renewed until the handler returns: it ran out during the grace (here a
/// 3 s lease, a longer grace), so another instance could hand on the event
/// the handler still ran (and, had it run alone, blame the stop on it as a
/// lease that ran out). The handler that returns within the grace is
/// `done`, its one attempt counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_is_renewed_through_the_shutdown_grace_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let inbox = Inbox::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let x = inbox.store(order_event("o-1", "m-x")).await.unwrap().id();
    let lease = Duration::from_secs(3);
    let started = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let handler = {
        let (started, release) = (started.clone(), release.clone());
        handler_fn(move |_event, _ctx| {
            let (started, release) = (started.clone(), release.clone());
            async move {
                started.notify_one();
                release.notified().await;
                Ok(())
            }
        })
    };
    let config = ProcessorConfig {
        lease,
        shutdown_grace: HANG,
        ..config()
    };
    let (stop, running) = spawn_processor(&inbox, handler, config);
    tokio::time::timeout(HANG, started.notified())
        .await
        .expect("the handler started");
    let _ = stop.send(());
    // Past the end of any lease taken before the stop.
    tokio::time::sleep(lease + Duration::from_secs(1)).await;
    let due: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT due_at FROM heads WHERE event_id = ?1", [x], |r| {
            r.get(0)
        })
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    assert!(
        due > now,
        "the lease ran out {} ms ago while the handler still ran",
        now - due
    );
    release.notify_one();
    tokio::time::timeout(HANG, running)
        .await
        .expect("the stop ended once the handler returned")
        .expect("processor task");
    let event = inbox.get(x).await.unwrap().unwrap().summary;
    assert_eq!((event.state, event.attempts), (State::Done, 1));
}
