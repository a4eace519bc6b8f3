//! Crash recovery of the processor: a lease lost on PostgreSQL while its
//! owner is still running.
#![cfg(feature = "postgres")]

use crate::pg_support;
use crate::processing_support::{crash_mid_handler, order_event};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tradecloud::inbox::{Inbox, State};
use tradecloud::processing::{handler_fn, Processor, ProcessorConfig};

/// An instance that claimed an interrupted event, then lost its lease
/// (renewals failing) while it waited to hand it on alone, must not write
/// its `interrupted` attempt onto the claim of the instance that took the
/// event over, nor hand the event on after all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_lease_leaves_the_new_owners_claim_alone() {
    let pg = pg_support::PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    let config = ProcessorConfig {
        concurrency: 2,
        lease: Duration::from_secs(1),
        poll_interval: Duration::from_millis(20),
        ..ProcessorConfig::default()
    };
    let x = inbox.store(order_event("o-1", "m-x")).await.unwrap().id();
    // Twice: the second time x is in a handler, marked, when the process
    // dies, so the next claim hands it on alone.
    crash_mid_handler(&inbox, config.clone(), Duration::from_secs(30)).await;
    crash_mid_handler(&inbox, config.clone(), Duration::from_secs(30)).await;
    let y = inbox.store(order_event("o-2", "m-y")).await.unwrap().id();

    // Instance A: its handler holds y (so x, found interrupted, waits to
    // run alone) until told.
    let y_started = Arc::new(tokio::sync::Notify::new());
    let y_release = Arc::new(tokio::sync::Notify::new());
    let a_handled_x = Arc::new(Mutex::new(false));
    let handler_a = {
        let (y_started, y_release, a_handled_x) =
            (y_started.clone(), y_release.clone(), a_handled_x.clone());
        handler_fn(move |event, _ctx| {
            let (y_started, y_release, a_handled_x) =
                (y_started.clone(), y_release.clone(), a_handled_x.clone());
            async move {
                let id = event.meta().inbox_id;
                if id == y {
                    y_started.notify_one();
                    y_release.notified().await;
                } else if id == x {
                    *a_handled_x.lock().unwrap() = true;
                }
                Ok(())
            }
        })
    };
    let (stop_a, stopped_a) = tokio::sync::oneshot::channel::<()>();
    let a = tokio::spawn(
        Processor::new(inbox.clone(), handler_a, config.clone()).run(async {
            let _ = stopped_a.await;
        }),
    );
    y_started.notified().await;
    let owner_a = pg.psql(
        "inbox",
        &format!("SELECT owner FROM heads WHERE event_id = {y}"),
    );
    assert!(!owner_a.is_empty());
    let start = Instant::now();
    while pg.psql(
        "inbox",
        &format!("SELECT owner FROM heads WHERE event_id = {x}"),
    ) != owner_a
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "A never claimed x"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // From now on A cannot renew (nor claim): the database unreachable
    // for it. Its lease on x runs out.
    pg.psql(
        "inbox",
        &format!(
            "CREATE FUNCTION refuse_a() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.owner = '{owner_a}' THEN RAISE EXCEPTION 'unreachable (test)'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER refuse_a BEFORE UPDATE ON heads FOR EACH ROW EXECUTE FUNCTION refuse_a();"
        ),
    );

    // Instance B takes x over once A's lease ran out, and holds it in its
    // handler until A's claim of x has had its turn (or a while passed).
    let x_in_b = Arc::new(tokio::sync::Notify::new());
    let handler_b = {
        let (x_in_b, inbox, owner_a) = (x_in_b.clone(), inbox.clone(), owner_a.clone());
        handler_fn(move |event, _ctx| {
            let (x_in_b, inbox, owner_a) = (x_in_b.clone(), inbox.clone(), owner_a.clone());
            async move {
                if event.meta().inbox_id == x {
                    x_in_b.notify_one();
                    let start = Instant::now();
                    while start.elapsed() < Duration::from_secs(3) {
                        let attempts = inbox.attempts(x).await.unwrap();
                        if attempts
                            .iter()
                            .any(|a| a.instance.as_deref() == Some(&owner_a))
                        {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                Ok(())
            }
        })
    };
    let second = Inbox::connect(&url).await.unwrap();
    let (stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
    let b = tokio::spawn(Processor::new(second, handler_b, config).run(async {
        let _ = stopped_b.await;
    }));
    tokio::time::timeout(Duration::from_secs(30), x_in_b.notified())
        .await
        .expect("B takes x over once A's lease ran out");
    // A gets its turn at x.
    y_release.notify_one();

    let start = Instant::now();
    while inbox.get(x).await.unwrap().unwrap().summary.state != State::Done {
        assert!(start.elapsed() < Duration::from_secs(30), "x never done");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Long enough for A to have reached x after y.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_a.send(());
    let _ = stop_b.send(());
    let _ = a.await;
    let _ = b.await;

    let event = inbox.get(x).await.unwrap().unwrap().summary;
    let attempts = inbox.attempts(x).await.unwrap();
    let outcomes: Vec<(&str, Option<&str>)> = attempts
        .iter()
        .map(|a| (a.outcome.as_str(), a.instance.as_deref()))
        .collect();
    assert!(
        !outcomes
            .iter()
            .any(|(_, instance)| *instance == Some(owner_a.as_str())),
        "A, which lost its lease, wrote onto B's claim: {outcomes:?} (A is {owner_a})"
    );
    assert_eq!(
        (event.attempts as usize, outcomes.len()),
        (1, 1),
        "the count is the attempts recorded: {outcomes:?}"
    );
    assert!(
        !*a_handled_x.lock().unwrap(),
        "A handed on an event whose lease it had lost"
    );
}
