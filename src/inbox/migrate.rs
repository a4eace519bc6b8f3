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
        after = last.summary.id;
        copied.events += events.len() as u64;
        copied.body_bytes += events.iter().map(|e| e.body.len() as u64).sum::<u64>();
        to.store_impl().import(events).await?;
    }
    to.store_impl().finish_import().await?;
    Ok(copied)
}
