//! Copying a whole inbox from one store to another (`tradecloud inbox
//! migrate --from sqlite://... --to postgres://...`).

use super::{Inbox, InboxError, ListFilter};

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

pub(super) async fn copy(from: &Inbox, to: &Inbox) -> Result<Copied, InboxError> {
    let existing = to
        .list(ListFilter {
            limit: Some(1),
            ..ListFilter::default()
        })
        .await?;
    if !existing.is_empty() {
        return Err(InboxError::Invalid(format!(
            "the target inbox {} is not empty: copy into a new, empty one",
            to.describe()
        )));
    }
    let mut copied = Copied::default();
    let mut after = 0;
    loop {
        let events = from.store_impl().export(after, CHUNK).await?;
        let Some(last) = events.last() else { break };
        after = last.event.summary.id;
        copied.events += events.len() as u64;
        copied.body_bytes += events
            .iter()
            .map(|e| e.event.body.len() as u64)
            .sum::<u64>();
        to.store_impl().import(events).await?;
    }
    to.store_impl().finish_import().await?;
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
