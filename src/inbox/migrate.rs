//! Copying a whole inbox from one store to another (`tradecloud inbox
//! migrate --from sqlite://... --to postgres://...`).

use super::{Inbox, InboxError};

/// Events read and written per transaction while copying.
const CHUNK: usize = 500;

/// What [`Inbox::copy_to`] copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Copied {
    /// Events.
    pub events: u64,
    /// Their body bytes.
    pub body_bytes: u64,
}

/// The key of the mark an unfinished copy leaves in its target
/// (`inbox_meta` / `tradecloud_meta`).
pub(crate) const IMPORT_MARK: &str = "unfinished_import";

/// The mark's text: where the copy comes from, and since when.
pub(crate) fn import_mark_value(source: &str, now_ms: i64) -> String {
    let at = super::from_ms(now_ms).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!("an `inbox migrate` from {source}, started {at}")
}

/// The error of opening an inbox that holds an unfinished copy.
pub(crate) fn unfinished(store: &str, mark: &str) -> InboxError {
    InboxError::Invalid(format!(
        "the inbox {store} holds the unfinished copy of {mark}: it is not used until that copy \
         is complete. Run the same `tradecloud inbox migrate --from ... --to ...` again (it starts \
         the copy over), or use another inbox"
    ))
}

/// The error of copying into an inbox that has events of its own.
pub(crate) fn not_empty(store: &str) -> InboxError {
    InboxError::Invalid(format!(
        "the target inbox {store} is not empty: copy into a new, empty one"
    ))
}

pub(super) async fn copy(from: &Inbox, to: &Inbox) -> Result<Copied, InboxError> {
    let source = from.describe();
    from.store_impl().claim_sole_use()?;
    let before = from.store_impl().fingerprint().await?;
    if let Some(previous) = to.store_impl().begin_import(source.clone()).await? {
        tracing::warn!(target_store = %to.describe(), "discarded the unfinished copy of {previous}; copying again");
    }
    let unfinished = |e: InboxError| {
        let note = format!(
            "; {} is marked as an unfinished copy and is not used until the same migrate is run again and completes",
            to.describe()
        );
        match e {
            InboxError::Unavailable(m) => InboxError::Unavailable(format!("{m}{note}")),
            InboxError::Invalid(m) => InboxError::Invalid(format!("{m}{note}")),
            other => other,
        }
    };
    let mut copied = Copied::default();
    let mut after = 0;
    loop {
        let events = from
            .store_impl()
            .export(after, CHUNK)
            .await
            .map_err(|e| match e {
                InboxError::Invalid(m) => InboxError::Invalid(format!("the source {source}: {m}")),
                other => other,
            })
            .map_err(unfinished)?;
        let Some(last) = events.last() else { break };
        after = last.event.summary.id;
        copied.events += events.len() as u64;
        copied.body_bytes += events
            .iter()
            .map(|e| e.event.body.len() as u64)
            .sum::<u64>();
        to.store_impl().import(events).await.map_err(unfinished)?;
    }
    // A receiver still writing to the source would leave events (or states)
    // behind: refuse to finish.
    let now = from.store_impl().fingerprint().await.map_err(unfinished)?;
    if now != before {
        return Err(unfinished(InboxError::Invalid(format!(
            "the source {source} changed while it was copied ({} events, latest id {}, before; {} events, \
             latest id {} now): a receiver or processor is still using it. Stop every `tradecloud serve` \
             on it, then run the migrate again",
            before.0, before.1, now.0, now.1
        ))));
    }
    to.store_impl().finish_import().await.map_err(unfinished)?;
    Ok(copied)
}

/// An event as an error names it: id, kind, message id, object id and size
/// (long values cut).
pub(crate) fn describe_row(event: &super::StoredEvent) -> String {
    let s = &event.summary;
    let cut = |v: &Option<String>| match v {
        None => "-".to_string(),
        Some(v) if v.chars().count() > 80 => {
            format!(
                "{:?}… ({} bytes)",
                v.chars().take(80).collect::<String>(),
                v.len()
            )
        }
        Some(v) => format!("{v:?}"),
    };
    format!(
        "event {} ({}, {}, messageId {}, {} {}, {} body bytes)",
        s.id,
        s.kind,
        s.state,
        cut(&s.message_id),
        s.kind.object_id_name(),
        cut(&s.object_id),
        event.body.len()
    )
}
