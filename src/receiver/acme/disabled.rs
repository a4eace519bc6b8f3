//! `[server.acme]` in a build without the `acme` feature: a clear error.

use std::sync::Arc;

use tokio_rustls::rustls::ServerConfig;

use crate::receiver::{Config, ConfigError, ReceiverError, TlsError};

/// ACME is not compiled in (feature `acme`); never constructed.
#[derive(Debug)]
pub struct Acme {
    never: std::convert::Infallible,
}

impl Acme {
    /// `Ok(None)` without `[server.acme]`, otherwise an error saying how to
    /// get ACME support.
    pub fn prepare(
        config: &Config,
        _other_certificate: Option<&str>,
    ) -> Result<Option<Acme>, ReceiverError> {
        match config.server.acme {
            None => Ok(None),
            Some(_) => Err(ReceiverError::Config(ConfigError::Setting(
                "[server.acme] needs the `acme` feature of the tradecloud crate (the `tradecloud` binary has it)".into(),
            ))),
        }
    }

    /// Never called.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        match self.never {}
    }

    /// Never called.
    pub fn gate(&self, _app: axum::Router) -> axum::Router {
        match self.never {}
    }

    /// Never called.
    pub(crate) fn certificates(&self) -> Arc<crate::receiver::tls::CertResolver> {
        match self.never {}
    }

    /// Never called.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        match self.never {}
    }
}
