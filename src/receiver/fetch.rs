//! The [`Fetcher`] for GET webhooks, backed by the Tradecloud API
//! [`Client`]: fetches the whole order or shipment after a GET webhook
//! stored its trigger.

use bytes::Bytes;

use crate::client::{Client, ClientError, Environment};
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
        Ok(Some(ClientFetcher { client }))
    }
}

fn classify(e: ClientError) -> HandlerError {
    if e.is_transient() {
        HandlerError::Transient(e.to_string())
    } else {
        HandlerError::Permanent(e.to_string())
    }
}

fn to_bytes<T: serde::Serialize>(value: &T) -> Result<Bytes, HandlerError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| HandlerError::Permanent(format!("cannot serialise: {e}")))
}

impl Fetcher for ClientFetcher {
    fn fetch_order<'a>(&'a self, order_id: &'a str) -> BoxFuture<'a, Result<Bytes, HandlerError>> {
        Box::pin(async move { to_bytes(&self.client.get_order(order_id).await.map_err(classify)?) })
    }

    fn fetch_shipment<'a>(
        &'a self,
        shipment_id: &'a str,
    ) -> BoxFuture<'a, Result<Bytes, HandlerError>> {
        Box::pin(async move {
            to_bytes(
                &self
                    .client
                    .get_shipment(shipment_id)
                    .await
                    .map_err(classify)?,
            )
        })
    }
}
