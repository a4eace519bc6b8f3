//! Document upload (order/buyer/issue/attach-document.md,
//! order/supplier/send-order-response/attach-document.md).

mod blocked;

pub use blocked::{blocked_extension, BLOCKED_EXTENSIONS};
