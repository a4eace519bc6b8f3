//! [`ReceiverBuilder`]: everything a [`Receiver`] needs, loaded and checked
//! before anything is served: the configuration, the authenticator, the
//! TLS certificate (from the configuration's files, generated for
//! development, or given by the program), the inbox, the bound listener,
//! the `[tradecloud]` client and the processor set-up.

use std::path::PathBuf;
use std::sync::Arc;

use tokio_rustls::rustls::ServerConfig;

use super::glue;
use super::{
    config, tls, AuthMethod, Authenticator, ClientFetcher, Config, ConfigError, Metrics, Receiver,
    ReceiverError,
};
use crate::inbox::{Inbox, InboxOptions};
use crate::processing::{Fetcher, Handler, Processor, ProcessorConfig};

/// Where the TLS certificate comes from.
enum TlsSource {
    /// `server.tls_cert` and `server.tls_key`, reloaded when they change.
    Config,
    /// A self-signed certificate generated at start-up.
    Dev,
    /// PEM given by the program.
    Pem { cert: Vec<u8>, key: Vec<u8> },
    /// A complete rustls configuration given by the program.
    Rustls(Arc<ServerConfig>),
}

/// Builds a [`Receiver`]. See [`Receiver::builder`].
pub struct ReceiverBuilder {
    config: Option<Config>,
    config_path: Option<PathBuf>,
    tls: TlsSource,
    inbox: Option<Inbox>,
    metrics: Option<Metrics>,
    listener: Option<std::net::TcpListener>,
    processing: Option<Box<dyn glue::Spawn>>,
    processor_config: Option<ProcessorConfig>,
    fetcher: Option<Arc<dyn Fetcher>>,
}

impl std::fmt::Debug for ReceiverBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ReceiverBuilder {
    /// The defaults; see [`Receiver::builder`].
    pub(super) fn new() -> Self {
        ReceiverBuilder {
            config: None,
            config_path: None,
            tls: TlsSource::Config,
            inbox: None,
            metrics: None,
            listener: None,
            processing: None,
            processor_config: None,
            fetcher: None,
        }
    }

    /// Use this configuration (default: [`Config::load`]`(None)`, i.e.
    /// `tradecloud.toml` if present and the `TRADECLOUD_*` variables).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Load the configuration from this file (and the `TRADECLOUD_*` variables).
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_path = Some(path.into());
        self
    }

    /// Serve a self-signed certificate generated at start-up instead of
    /// `server.tls_cert`/`tls_key`. For local testing only: Tradecloud does
    /// not accept self-signed certificates.
    pub fn dev_tls(mut self) -> Self {
        self.tls = TlsSource::Dev;
        self
    }

    /// Serve this PEM certificate chain and key (not reloaded).
    pub fn tls_pem(mut self, cert_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        self.tls = TlsSource::Pem {
            cert: cert_pem.into(),
            key: key_pem.into(),
        };
        self
    }

    /// Serve with this rustls configuration (you are responsible for its
    /// protocol versions and cipher suites; see [`tls::server_config`]).
    pub fn rustls_config(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = TlsSource::Rustls(config);
        self
    }

    /// Use this inbox (default: open `store.url`).
    pub fn inbox(mut self, inbox: Inbox) -> Self {
        self.inbox = Some(inbox);
        self
    }

    /// Use this metrics registry (default: a new one).
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Hand the stored events to `handler` with a [`Processor`] (default
    /// [`ProcessorConfig`], see [`processor_config`](Self::processor_config)),
    /// whose outcomes and latencies are counted in the metrics. With
    /// `[tradecloud]` credentials configured, the handler gets that API
    /// client as [`HandlerContext::client`](crate::processing::HandlerContext::client)
    /// (document downloads). Without a handler (or
    /// [`processor`](Self::processor)) the receiver only stores.
    pub fn handler<H: Handler>(mut self, handler: H) -> Self {
        self.processing = Some(Box::new(glue::WithHandler {
            handler,
            setup: None,
        }));
        self
    }

    /// The [`ProcessorConfig`] used with [`handler`](Self::handler), instead
    /// of the configuration's `[processing]` section.
    pub fn processor_config(mut self, config: ProcessorConfig) -> Self {
        self.processor_config = Some(config);
        self
    }

    /// The [`Fetcher`] used with [`handler`](Self::handler) for GET webhooks
    /// (fetch the whole order or shipment). Default: a [`ClientFetcher`]
    /// with the `[tradecloud]` credentials, if configured. Without one,
    /// GET-webhook triggers are dead-lettered and can be replayed later.
    pub fn fetcher(mut self, fetcher: Arc<dyn Fetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// Full control over the processor: `make` gets the inbox and returns
    /// the [`Processor`] to run (with your config, fetcher, extensions and
    /// observer). Record its outcomes in the receiver's metrics with
    /// `.on_outcome(move |r| metrics.observe_outcome(r))` and
    /// [`metrics`](Self::metrics).
    pub fn processor<H, F>(mut self, make: F) -> Self
    where
        H: Handler,
        F: FnOnce(Inbox) -> Processor<H> + Send + 'static,
    {
        self.processing = Some(Box::new(glue::Custom(make)));
        self
    }

    /// Serve on this already bound listener instead of `server.listen`.
    pub fn listener(mut self, listener: std::net::TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Load the configuration, the certificate and the inbox, and bind the
    /// listener. Nothing is served until [`Receiver::run`].
    pub async fn build(mut self) -> Result<Receiver, ReceiverError> {
        let config = match (self.config, &self.config_path) {
            (Some(config), _) => config,
            (None, path) => Config::load(path.as_deref())?,
        };
        config.validate_for_serving()?;
        for warning in config.warnings() {
            tracing::warn!("{warning}");
        }
        // `[processing]` of the configuration, unless set in code.
        self.processor_config
            .get_or_insert_with(|| config.processing.processor_config());
        let authenticator = Authenticator::from_config(&config.auth)?;
        let metrics = self.metrics.unwrap_or_default();

        let mut dev_certificate = None;
        let mut watch = None;
        // `[server.acme]`: its own resolver; excludes the other sources.
        let acme = crate::receiver::acme::Acme::prepare(
            &config,
            match &self.tls {
                TlsSource::Config => None,
                TlsSource::Dev => Some("--dev-tls"),
                _ => Some("a certificate given in code"),
            },
        )?;
        if let Some(acme) = &acme {
            self.tls = TlsSource::Rustls(acme.server_config()?);
        }
        let (tls, resolver) = match self.tls {
            TlsSource::Rustls(tls) => (tls, None),
            source => {
                let key = match source {
                    TlsSource::Config => {
                        let (Some(cert), Some(key)) =
                            (&config.server.tls_cert, &config.server.tls_key)
                        else {
                            return Err(ConfigError::Setting(
                                "server.tls_cert and server.tls_key are required (HTTPS only); use --dev-tls for a local test".into(),
                            )
                            .into());
                        };
                        let files = tls::CertFiles {
                            cert: cert.clone(),
                            key: key.clone(),
                        };
                        let key = files.load()?;
                        super::certificate::check_at_start(&key, "server.tls_cert", cert)?;
                        watch = Some(files);
                        key
                    }
                    TlsSource::Dev => {
                        let (cert, key) = tls::dev_certificate(&["localhost", "127.0.0.1", "::1"])?;
                        let certified = tls::certified_key_from_pem(
                            cert.as_bytes(),
                            key.as_bytes(),
                            "dev".as_ref(),
                        )?;
                        tracing::warn!(
                            "DEVELOPMENT TLS: serving a self-signed certificate for localhost. \
                             Tradecloud will NOT accept it: configure server.tls_cert and server.tls_key \
                             with a certificate from a public CA before connecting Tradecloud."
                        );
                        dev_certificate = Some(cert);
                        certified
                    }
                    TlsSource::Pem { cert, key } => {
                        let key = tls::certified_key_from_pem(&cert, &key, "(PEM)".as_ref())?;
                        super::certificate::check_at_start(
                            &key,
                            "ReceiverBuilder::tls_pem",
                            "(PEM)".as_ref(),
                        )?;
                        key
                    }
                    TlsSource::Rustls(_) => unreachable!("handled above"),
                };
                let resolver = tls::CertResolver::new(key);
                (tls::server_config(resolver.clone())?, Some(resolver))
            }
        };

        // The certificate being served, for its expiry metric and daily check.
        let served = match (&resolver, &acme) {
            (Some(resolver), _) => Some(resolver.clone()),
            (None, Some(acme)) => Some(acme.certificates()),
            (None, None) => None,
        };
        if let Some(served) = &served {
            super::certificate::register_expiry(&metrics, served.clone());
        }

        let inbox = match self.inbox {
            Some(inbox) => inbox,
            // A store that is away now does not stop the receiver: its port
            // must answer (503, which Tradecloud retries), not refuse.
            None => {
                let inbox =
                    Inbox::connect_retrying(&config.store.url, InboxOptions::default()).await?;
                if let Err(error) = inbox.ready().await {
                    tracing::warn!(
                        store = %inbox.describe(), %error,
                        "the inbox store ([store] url, or TRADECLOUD_STORE_URL) does not accept writes now; \
                         receiving anyway: webhooks are answered 503 with Retry-After (Tradecloud retries them) \
                         and /readyz 503 until it does"
                    );
                }
                inbox
            }
        };
        // A SQLite inbox takes one receiving process: a second is refused
        // before it listens (the inbox opened fine: not `Inbox`'s "cannot
        // open").
        inbox.claim_receiving().map_err(ReceiverError::InboxInUse)?;

        let listener = match self.listener {
            Some(listener) => listener,
            None => std::net::TcpListener::bind(config.server.listen).map_err(|source| {
                ReceiverError::Bind {
                    addr: config.server.listen,
                    source,
                }
            })?,
        };
        listener
            .set_nonblocking(true)
            .map_err(|source| ReceiverError::Bind {
                addr: config.server.listen,
                source,
            })?;
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| ReceiverError::Bind {
                addr: config.server.listen,
                source,
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ReceiverError::Bind {
                addr: config.server.listen,
                source,
            })?;

        let console = match config.console.listen {
            Some(addr) => Some(super::app::ConsoleServer::bind(
                addr,
                &config.console,
                inbox.clone(),
                metrics.clone(),
                config.console.tls.then(|| tls.clone()),
            )?),
            None => None,
        };

        // The `[tradecloud]` client: the default fetcher, and `ctx.client()`
        // for handlers (document downloads).
        let configured = match self.processing {
            Some(_) => ClientFetcher::from_config(&config.tradecloud)?,
            None => None,
        };
        // Whether Tradecloud accepts these credentials: checked at start,
        // followed by the fetches, shown by /readyz and the metrics.
        let api_health = configured.as_ref().map(|_| super::ApiHealth::new(&metrics));
        let configured = configured.map(|fetcher| match &api_health {
            Some(health) => fetcher.with_health(health.clone()),
            None => fetcher,
        });
        let api_check = configured
            .as_ref()
            .zip(api_health.clone())
            .map(|(fetcher, health)| (fetcher.client().clone(), health));
        let client = configured.as_ref().map(|f| f.client().clone());
        let fetcher = match self.fetcher {
            Some(fetcher) => Some(fetcher),
            None => configured.map(|f| Arc::new(f) as Arc<dyn Fetcher>),
        };
        if self.processing.is_some() && fetcher.is_none() {
            // Which half is missing: a unit that sets only the password
            // file (deploy/systemd) needs `username` in the file.
            let missing = match (&config.tradecloud.username, &config.tradecloud.password) {
                (None, Some(_)) => "[tradecloud] password is set but username is not (set tradecloud.username or TRADECLOUD_TRADECLOUD_USERNAME)",
                (Some(_), None) => "[tradecloud] username is set but password is not (set tradecloud.password_file or TRADECLOUD_TRADECLOUD_PASSWORD_FILE)",
                _ => "no [tradecloud] username/password",
            };
            tracing::warn!(
                "{missing}: GET webhooks are stored but cannot be fetched \
                 (they are dead-lettered; replay them once credentials are configured)"
            );
        }

        let metrics_auth = match &config.server.metrics_token {
            Some(token) => Some(Authenticator::from_config(&config::AuthConfig {
                method: Some(AuthMethod::Bearer),
                token: Some(token.clone()),
                realm: Some("tradecloud-metrics".into()),
                ..config::AuthConfig::default()
            })?),
            None => None,
        };
        let app = super::app::app(
            &config,
            inbox.clone(),
            metrics.clone(),
            authenticator,
            metrics_auth,
            api_health,
        );
        let app = match &acme {
            Some(acme) => acme.gate(app),
            None => app,
        };
        Ok(Receiver {
            config,
            app,
            listener,
            local_addr,
            tls,
            resolver,
            served,
            watch,
            dev_certificate,
            acme,
            inbox,
            metrics,
            api_check,
            console,
            processing: self.processing.map(|mut p| {
                p.configure(self.processor_config.unwrap_or_default(), fetcher, client);
                p
            }),
        })
    }

    /// [`build`](Self::build), then [`Receiver::run`].
    pub async fn run(self) -> Result<(), ReceiverError> {
        self.build().await?.run().await
    }
}
