//! The runtime crate's scalar types that generated code names, relative to
//! the runtime crate (`tradecloud`): the one place to change when one of
//! them is renamed.

/// Exact decimal (`type: number`).
pub(crate) const DECIMAL: &str = "types::Decimal";
/// Date-time with or without a zone (`format: date-time`).
pub(crate) const DATE_TIME: &str = "types::DateTime";
/// Calendar date (`format: date`).
pub(crate) const DATE: &str = "types::Date";
/// Identifier kept as text (`format: uuid`).
pub(crate) const ID: &str = "types::Id";
/// The company an operation is for (`x-party`).
pub(crate) const PARTY: &str = "types::Party";
/// The module of the operation table's types (`Operation`, `AuthScheme`, ...).
pub(crate) const OPERATION: &str = "operation";
