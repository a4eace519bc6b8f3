//! The [`Fetcher`] for GET webhooks, backed by the Tradecloud API
//! [`Client`]: fetches the whole order or shipment after a GET webhook
//! stored its trigger.

use bytes::Bytes;

use crate::client::{Client, Environment};
use crate::processing::{BoxFuture, Fetcher, HandlerError};

use super::config::{ConfigError, TradecloudConfig};

/// Fetches orders and shipments with a [`Client`]. The body stored is the
/// typed order or shipment serialised again (unknown fields and exact
/// decimals are kept by the generated types).
#[derive(Debug, Clone)]
pub struct ClientFetcher {
    client: Client,
}

impl ClientFetcher {
    /// A fetcher using `client`.
    pub fn new(client: Client) -> Self {
        ClientFetcher { client }
    }

    /// Report the answer of every call of its client to `health`: a
    /// `401`/`403` as refused credentials, a success as accepted ones, no
    /// answer (or a 5xx) as an unreachable API. Every call: the fetches,
    /// and those of handlers through the same client (`ctx.client()`:
    /// document downloads), and of its other clones.
    pub fn with_health(self, health: super::ApiHealth) -> Self {
        self.client.observe_calls(health.observer());
        self
    }

    /// The client it fetches with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The client of `[tradecloud]`, or `None` when no credentials are configured.
    pub fn from_config(config: &TradecloudConfig) -> Result<Option<Self>, ConfigError> {
        let (Some(username), Some(password)) = (&config.username, &config.password) else {
            return Ok(None);
        };
        let environment = match (&config.base_url, &config.environment) {
            (Some(url), _) => Environment::custom(url.clone()),
            (None, Some(name)) => name
                .parse()
                .map_err(|_| ConfigError::Setting(format!("tradecloud.environment = {name:?}: use production or acceptance, or set base_url")))?,
            (None, None) => Environment::Acceptance,
        };
        let client = Client::builder()
            .environment(environment)
            .credentials(username.clone(), password.expose())
            .build()
            .map_err(|e| ConfigError::Setting(format!("[tradecloud]: {e}")))?;
        Ok(Some(ClientFetcher::new(client)))
    }
}

/// The [`Client`]'s own [`Fetcher`] implementation, with the client of
/// `[tradecloud]`, reporting to its [`ApiHealth`](super::ApiHealth).
impl Fetcher for ClientFetcher {
    fn fetch_order<'a>(&'a self, order_id: &'a str) -> BoxFuture<'a, Result<Bytes, HandlerError>> {
        Box::pin(async move {
            let result = self.client.orders().get(order_id).await;
            crate::processing::fetch::fetched_bytes("order", order_id, result)
        })
    }

    fn fetch_shipment<'a>(
        &'a self,
        shipment_id: &'a str,
    ) -> BoxFuture<'a, Result<Bytes, HandlerError>> {
        Box::pin(async move {
            let result = self.client.shipments().get(shipment_id).await;
            crate::processing::fetch::fetched_bytes("shipment", shipment_id, result)
        })
    }
}
