//! The mock's one rule for attaching documents, to an order or an order
//! line ([`Document`]: the buyer's order and attach-documents messages,
//! the supplier's order response) and to a shipment ([`ShipmentDocument`]:
//! the portal actions of [`super::portal`]):
//!
//! > If a document with the same code is already attached to the order or
//! > line, the document will be replaced, else it will be appended.
//!
//! (order/buyer/issue/attach-document-api.md#L29 and #L77,
//! order/supplier/send-order-response/attach-document.md#L36, #L62 and
//! #L84). Tradecloud documents no attach route for shipments; their
//! documents have the same `code`, "the unique identifier of the document"
//! (shipment/buyer/receive/README.md#L139), so the mock attaches them by
//! the same rule.
//!
//! Codes are compared as the crate reads every text
//! ([`trim_text`], [`is_blank`]): `" PL"` and `"PL"` are one code (the
//! tXML reader trims an element's text, so a message's JSON and tXML forms
//! mean the same), and a blank code is no code, so such a document is
//! always appended, also when sent again.

use crate::api::common::types::{Document, ShipmentDocument};
use crate::types::validate::{is_blank, trim_text};

/// A document that can be attached by its `code` ([`attach`]).
pub(crate) trait Attachable: Clone + PartialEq {
    /// The document's `code`, as sent or stored.
    fn code(&self) -> Option<&str>;

    /// The document without what the mock stamps on it when attaching
    /// (none by default): what is compared to tell a replacement that
    /// changes nothing.
    fn unstamped(&self) -> Self {
        self.clone()
    }
}

impl Attachable for Document {
    fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
}

impl Attachable for ShipmentDocument {
    fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Without `meta` (its `lastUpdatedAt` is the mock's stamp).
    fn unstamped(&self) -> Self {
        ShipmentDocument {
            meta: None,
            ..self.clone()
        }
    }
}

/// The `code` of a document, trimmed; `None` when it has none or a blank one.
fn code_of<D: Attachable>(document: &D) -> Option<&str> {
    document
        .code()
        .filter(|code| !is_blank(code))
        .map(trim_text)
}

/// Whether `sent` is the same document as the attached `attached`: both
/// have the same non-blank `code`, compared trimmed.
pub(crate) fn same_document<D: Attachable>(attached: &D, sent: &D) -> bool {
    match (code_of(attached), code_of(sent)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Attach `sent` to `attached` (see the [module docs](self)): a document
/// with the code of an attached one replaces it in its place, any other is
/// appended. Each document is kept as sent ([`Attachable::unstamped`]),
/// then `stamp`ed when it is added or changes an attached one; replacing
/// a document by an equal one changes nothing. Returns whether `attached`
/// changed.
pub(crate) fn attach<D: Attachable>(
    attached: &mut Vec<D>,
    sent: &[D],
    stamp: impl Fn(&mut D),
) -> bool {
    let mut changed = false;
    for document in sent {
        let document = document.unstamped();
        let stamped = || {
            let mut document = document.clone();
            stamp(&mut document);
            document
        };
        match attached.iter_mut().find(|a| same_document(*a, &document)) {
            Some(existing) if existing.unstamped() == document => {}
            Some(existing) => {
                *existing = stamped();
                changed = true;
            }
            None => {
                attached.push(stamped());
                changed = true;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::types::ShipmentDocumentMeta;

    fn document(code: Option<&str>, name: &str) -> Document {
        Document {
            code: code.map(str::to_owned),
            name: Some(name.to_owned()),
            ..Document::default()
        }
    }

    fn shipment_document(code: Option<&str>, name: &str) -> ShipmentDocument {
        ShipmentDocument {
            code: code.map(str::to_owned),
            name: Some(name.to_owned()),
            ..ShipmentDocument::default()
        }
    }

    #[test]
    fn a_code_that_differs_only_by_padding_replaces_on_an_order_and_a_shipment() {
        let mut attached = vec![document(Some("PL"), "old")];
        assert!(attach(
            &mut attached,
            &[document(Some(" PL\u{a0}"), "new")],
            |_| {}
        ));
        assert_eq!(attached.len(), 1, "{attached:?}");
        assert_eq!(attached[0].name.as_deref(), Some("new"));

        let mut attached = vec![shipment_document(Some("PL"), "old")];
        assert!(attach(
            &mut attached,
            &[shipment_document(Some(" PL"), "new")],
            |_| {}
        ));
        assert_eq!(attached.len(), 1, "{attached:?}");
        assert_eq!(attached[0].name.as_deref(), Some("new"));
    }

    #[test]
    fn blank_or_missing_codes_are_appended_and_stamps_do_not_count_as_changes() {
        let mut attached = vec![shipment_document(Some("\u{3000}"), "blank")];
        let sent = [
            shipment_document(Some(" "), "blank"),
            shipment_document(None, "none"),
        ];
        let stamp = |d: &mut ShipmentDocument| {
            d.meta = Some(ShipmentDocumentMeta {
                extra: [("stamped".to_owned(), serde_json::Value::Bool(true))]
                    .into_iter()
                    .collect(),
                ..ShipmentDocumentMeta::default()
            });
        };
        assert!(attach(&mut attached, &sent, stamp));
        assert_eq!(attached.len(), 3);
        assert!(attached[1].meta.is_some() && attached[2].meta.is_some());
        // The same coded document again, stamped or not: nothing changes.
        let coded = [shipment_document(Some("SPEC"), "spec")];
        assert!(attach(&mut attached, &coded, stamp));
        let before = attached.clone();
        assert!(!attach(&mut attached, &coded, |_| {}));
        assert_eq!(attached, before);
    }
}
