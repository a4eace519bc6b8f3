//! The inbox keeps the W3C `traceparent` of the span that stored an event
//! (`events.trace_parent`, SQLite schema 4, PostgreSQL migration 2), and
//! databases of the previous schema get the column in place when opened:
//! their events stay as they were (without one), new events get one.
#![cfg(feature = "otel")]

use bytes::Bytes;
use tradecloud::inbox::{EventKind, Inbox, NewEvent, NewState};

#[cfg(feature = "postgres")]
use crate::pg_support;

fn event(message: &str) -> NewEvent {
    NewEvent {
        kind: EventKind::Order,
        event_name: Some("OrderIssuedByBuyer".into()),
        object_id: Some("o1".into()),
        message_id: Some(message.into()),
        content_type: "application/json".into(),
        body: Bytes::from_static(b"{}"),
        state: NewState::Received,
        source: None,
        headers: Vec::new(),
    }
}

/// Traces on for this test binary (exported nowhere: the endpoint is
/// closed; the span ids are what counts).
fn traced() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let telemetry = tradecloud::telemetry::Telemetry::from_config(
            &tradecloud::telemetry::TelemetryConfig {
                otlp_endpoint: Some("http://127.0.0.1:9".into()),
                service_name: None,
            },
        )
        .unwrap()
        .unwrap();
        tracing_subscriber::registry()
            .with(telemetry.layer())
            .init();
        std::mem::forget(telemetry);
    });
}

/// The old event has no trace parent; one stored inside a span has that
/// span's, and `inbox list --json` shows it.
async fn old_and_new_events(inbox: &Inbox, old_id: i64) {
    use tracing::Instrument as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let old = inbox.get(old_id).await.unwrap().unwrap();
    assert_eq!(old.summary.trace_parent, None);
    assert_eq!(
        old.summary.event_name.as_deref(),
        Some("OrderIssuedByBuyer")
    );

    let span = tracing::info_span!("tradecloud.test");
    let trace_id = {
        use opentelemetry::trace::TraceContextExt as _;
        span.context().span().span_context().trace_id().to_string()
    };
    let stored = inbox.store(event("new")).instrument(span).await.unwrap();
    let new = inbox.get(stored.id()).await.unwrap().unwrap();
    let trace_parent = new.summary.trace_parent.clone().expect("a trace parent");
    assert!(
        trace_parent.starts_with(&format!("00-{trace_id}-")) && trace_parent.len() == 55,
        "{trace_parent}"
    );
    let json = serde_json::to_value(&new.summary).unwrap();
    assert_eq!(json["traceParent"], trace_parent.as_str());
    let json = serde_json::to_value(&old.summary).unwrap();
    assert!(json.get("traceParent").is_none(), "{json}");
}

#[tokio::test]
async fn a_version_3_sqlite_inbox_gets_the_column_in_place() {
    traced();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let url = format!("sqlite://{}", path.display());
    let old_id = {
        let inbox = Inbox::open(&url).unwrap();
        inbox.store(event("old")).await.unwrap().id()
    };
    // Back to the shape of version 4.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE po_objects; DROP INDEX events_po_alone; \
             ALTER TABLE heads DROP COLUMN active_from; \
             CREATE INDEX events_active_object ON events (object_key, id) \
             WHERE state IN ('received', 'trigger', 'processing', 'retrying'); \
             ALTER TABLE events DROP COLUMN trace_parent; \
             ALTER TABLE events DROP COLUMN po_key; DROP INDEX events_object; \
             DROP TABLE event_attempts; ALTER TABLE event_bodies DROP COLUMN headers; \
             ALTER TABLE event_bodies DROP COLUMN codec; PRAGMA user_version = 4;",
        )
        .unwrap();
    }
    let inbox = Inbox::open(&url).unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 11);
    }
    old_and_new_events(&inbox, old_id).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_inbox_of_schema_2_gets_the_column_in_place() {
    traced();
    let pg = pg_support::PgCluster::start();
    let url = pg.database("inbox");
    let old_id = {
        let inbox = Inbox::connect(&url).await.unwrap();
        inbox.store(event("old")).await.unwrap().id()
    };
    // Back to schema version 2.
    pg.psql(
        "inbox",
        "ALTER TABLE events DROP COLUMN trace_parent; DELETE FROM tradecloud_schema WHERE version >= 3;",
    );
    let inbox = Inbox::connect(&url).await.unwrap();
    assert_eq!(
        pg.psql("inbox", "SELECT max(version) FROM tradecloud_schema"),
        "6"
    );
    old_and_new_events(&inbox, old_id).await;
}
