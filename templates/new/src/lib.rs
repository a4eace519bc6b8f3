//! {{name}}: receives Tradecloud {{events_text}} webhooks for the {{role}}'s
//! ERP. The business code is in [`handler`]; `src/main.rs` runs the
//! receiver (HTTPS, authentication, durable inbox) with it.

pub mod handler;

pub use handler::Erp;
