//! [`Party`]: the buyer or the supplier.

use std::fmt;

/// One of the two companies of an order or a shipment: the buyer, who
/// issues orders, answers the supplier's requests and receives goods; or
/// the supplier, who answers orders and ships. It says whose part of a
/// message holds something (`buyerOrder`/`buyerLine`/`buyerShipment` or
/// the supplier's, [`DocumentRef::side`](crate::changes::DocumentRef)),
/// which company alone takes an operation
/// ([`Operation::party`](crate::operation::Operation::party):
/// security/authorization.md, a buyer company executes the "ByBuyer"
/// actions, a supplier company the "BySupplier" ones), and which company a
/// test plays.
///
/// ```
/// use tradecloud::api::api_connector::operations::SEND_ORDER_BY_BUYER_ROUTE;
/// use tradecloud::types::Party;
///
/// assert_eq!(SEND_ORDER_BY_BUYER_ROUTE.party, Some(Party::Buyer));
/// assert_eq!(Party::Buyer.other(), Party::Supplier);
/// assert_eq!(Party::Supplier.to_string(), "supplier");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Party {
    /// The buyer company.
    Buyer,
    /// The supplier company.
    Supplier,
}

impl Party {
    /// The other company.
    pub fn other(self) -> Party {
        match self {
            Party::Buyer => Party::Supplier,
            Party::Supplier => Party::Buyer,
        }
    }

    /// `"buyer"` or `"supplier"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Buyer => "buyer",
            Party::Supplier => "supplier",
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
