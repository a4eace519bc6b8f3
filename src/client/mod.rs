//! The typed Tradecloud API client.
//!
//! The generated clients (`tradecloud::api::<spec>::client::Client`) carry a
//! [`ClientContext`] that the request hooks use. With a default context a
//! generated client sends requests unchanged: pass credentials, retries and
//! rate limits through the context.

/// State shared by the generated clients' request hooks.
#[derive(Debug, Clone, Default)]
pub struct ClientContext {
    _private: (),
}

impl ClientContext {
    /// A context that sends requests as they are.
    pub fn new() -> Self {
        Self::default()
    }
}
