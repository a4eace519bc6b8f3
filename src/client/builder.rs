//! [`ClientBuilder`], [`Environment`] and [`AuthMode`].

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use super::auth::{Credentials, TokenStore};
use super::rate_limit::RateLimiter;
use super::{Client, ClientError, RetryPolicy, Shared, Stats, Transports};

/// Base URL of Tradecloud's production environment.
pub const PRODUCTION_BASE_URL: &str = "https://api.tradecloud1.com/v2";
/// Base URL of Tradecloud's acceptance (test) environment.
pub const ACCEPTANCE_BASE_URL: &str = "https://api.accp.tradecloud1.com/v2";

/// Which Tradecloud the client talks to.
///
/// ```
/// use tradecloud::client::Environment;
///
/// assert_eq!(Environment::Production.base_url(), "https://api.tradecloud1.com/v2");
/// assert_eq!("acceptance".parse::<Environment>().unwrap(), Environment::Acceptance);
/// assert_eq!(Environment::custom("http://127.0.0.1:8080/v2/").base_url(), "http://127.0.0.1:8080/v2");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    /// `https://api.tradecloud1.com/v2`.
    Production,
    /// `https://api.accp.tradecloud1.com/v2`.
    Acceptance,
    /// Any base URL (a mock, a proxy), including the `/v2` path stem.
    Custom(String),
}

impl Environment {
    /// An environment at `base_url` (e.g. `http://127.0.0.1:8080/v2`).
    pub fn custom(base_url: impl Into<String>) -> Self {
        Environment::Custom(base_url.into())
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        match self {
            Environment::Production => PRODUCTION_BASE_URL,
            Environment::Acceptance => ACCEPTANCE_BASE_URL,
            Environment::Custom(url) => url.trim_end_matches('/'),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Environment::Production => f.write_str("production"),
            Environment::Acceptance => f.write_str("acceptance"),
            Environment::Custom(url) => f.write_str(url),
        }
    }
}

impl FromStr for Environment {
    type Err = ClientError;

    /// `production` (or `prod`), `acceptance` (or `accp`, `test`), or a URL.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s.to_ascii_lowercase().as_str() {
            "production" | "prod" => Ok(Environment::Production),
            "acceptance" | "accp" | "test" => Ok(Environment::Acceptance),
            _ if s.starts_with("http://") || s.starts_with("https://") => Ok(Environment::custom(s)),
            _ => Err(ClientError::Config(format!(
                "unknown Tradecloud environment {s:?}: use production, acceptance or a base URL such as \
                 http://127.0.0.1:8080/v2"
            ))),
        }
    }
}

/// How requests are authenticated (security/authentication.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Log in once with Basic auth, then send `Authorization: Bearer` with the
    /// access token and refresh it as needed. Recommended for more than one
    /// request a minute.
    #[default]
    Token,
    /// Send Basic auth with every request and never log in. Slower per
    /// request (about a second at Tradecloud); only for occasional use.
    BasicEveryRequest,
}

/// Builds a [`Client`]. Start with [`Client::builder`] or
/// [`ClientBuilder::from_env`].
///
/// ```no_run
/// use std::time::Duration;
/// use tradecloud::client::{Client, Environment, RetryPolicy};
///
/// # async fn run() -> Result<(), tradecloud::client::ClientError> {
/// let client = Client::builder()
///     .environment(Environment::Acceptance)
///     .credentials("integration@example.com", "secret")
///     .timeout(Duration::from_secs(20))
///     .retry_policy(RetryPolicy::default().max_retries(8))
///     .rate_limit(5)
///     .build()?;
/// let order = client.orders().get("7e1f5b2c").await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    environment: Environment,
    credentials: Option<(String, String)>,
    auth_mode: AuthMode,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    rate_limit: Option<u32>,
    user_agent: Option<String>,
    proxies: Vec<reqwest::Proxy>,
    root_certificates: Vec<reqwest::Certificate>,
    default_headers: reqwest::header::HeaderMap,
    http_client: Option<reqwest::Client>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("environment", &self.environment)
            .field("username", &self.credentials.as_ref().map(|(user, _)| user))
            .field("password", &self.credentials.as_ref().map(|_| "<redacted>"))
            .field("auth_mode", &self.auth_mode)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .field("proxies", &self.proxies.len())
            .field("root_certificates", &self.root_certificates.len())
            .field(
                "default_headers",
                &self.default_headers.keys().collect::<Vec<_>>(),
            )
            .field("http_client", &self.http_client.is_some())
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            environment: Environment::Production,
            credentials: None,
            auth_mode: AuthMode::Token,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            rate_limit: Some(10),
            user_agent: None,
            proxies: Vec::new(),
            root_certificates: Vec::new(),
            default_headers: reqwest::header::HeaderMap::new(),
            http_client: None,
        }
    }
}

/// Environment variable with the integration user's e-mail address.
pub const ENV_USERNAME: &str = "TRADECLOUD_USERNAME";
/// Environment variable with the integration user's password.
pub const ENV_PASSWORD: &str = "TRADECLOUD_PASSWORD";
/// Environment variable naming the environment: `production` or `acceptance`.
pub const ENV_ENVIRONMENT: &str = "TRADECLOUD_ENV";
/// Environment variable with a base URL; wins over [`ENV_ENVIRONMENT`].
pub const ENV_BASE_URL: &str = "TRADECLOUD_BASE_URL";

impl ClientBuilder {
    /// A builder with the defaults: production, token authentication, 30 s
    /// timeout, 10 s connect timeout, [`RetryPolicy::default`], 10 requests
    /// per second, and no credentials.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder configured from the environment: `TRADECLOUD_USERNAME`,
    /// `TRADECLOUD_PASSWORD`, `TRADECLOUD_ENV` (`production` or
    /// `acceptance`; default production) and `TRADECLOUD_BASE_URL` (wins
    /// over `TRADECLOUD_ENV`). Unset variables leave the defaults, so the
    /// caller may still set credentials; [`build`](Self::build) says what is
    /// missing.
    pub fn from_env() -> Result<Self, ClientError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut builder = Self::new();
        if let Some(url) = var(ENV_BASE_URL) {
            builder.environment = Environment::custom(url.trim());
        } else if let Some(name) = var(ENV_ENVIRONMENT) {
            builder.environment = name.parse().map_err(|_| {
                ClientError::Config(format!(
                    "{ENV_ENVIRONMENT}={name:?} is not an environment: use production or acceptance, or set \
                     {ENV_BASE_URL}"
                ))
            })?;
        }
        match (var(ENV_USERNAME), std::env::var(ENV_PASSWORD).ok()) {
            (Some(user), Some(password)) => builder.credentials = Some((user, password)),
            (Some(_), None) => {
                return Err(ClientError::Config(format!(
                    "{ENV_USERNAME} is set but {ENV_PASSWORD} is not: set the integration user's password"
                )))
            }
            _ => {}
        }
        Ok(builder)
    }

    /// The environment (default [`Environment::Production`]).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Talks to the API at this base URL, with its `/v2` path stem: the
    /// mock of Tradecloud (`tradecloud mock` prints its base URL), a proxy,
    /// or Tradecloud itself. The same as
    /// `environment(Environment::custom(url))`; [`build`](Self::build)
    /// checks it.
    ///
    /// ```
    /// let client = tradecloud::client::Client::builder()
    ///     .base_url("http://127.0.0.1:8080/v2/")
    ///     .credentials("integration@example.com", "secret")
    ///     .build()?;
    /// assert_eq!(client.base_url(), "http://127.0.0.1:8080/v2");
    /// # Ok::<(), tradecloud::client::ClientError>(())
    /// ```
    pub fn base_url(self, url: impl Into<String>) -> Self {
        self.environment(Environment::custom(url))
    }

    /// The integration user's e-mail address and password.
    pub fn credentials(mut self, email: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((email.into(), password.into()));
        self
    }

    /// Whether credentials have been given.
    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// How requests are authenticated (default [`AuthMode::Token`]).
    pub fn auth_mode(mut self, mode: AuthMode) -> Self {
        self.auth_mode = mode;
        self
    }

    /// Time limit of one API request attempt, from sending to the end of the
    /// answer (default 30 s). Downloads use it as the limit between two
    /// reads, not for the whole file.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time limit for opening a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]): the one way to
    /// set the number of retries ([`RetryPolicy::max_retries`]) and the
    /// delays between them.
    ///
    /// ```
    /// use tradecloud::client::{Client, RetryPolicy};
    ///
    /// let builder = Client::builder().retry_policy(RetryPolicy::default().max_retries(8));
    /// assert_eq!(builder.get_retry_policy().get_max_retries(), 8);
    /// ```
    ///
    /// The builder has no `max_retries` of its own:
    ///
    /// ```compile_fail
    /// let builder = tradecloud::client::Client::builder().max_retries(8);
    /// ```
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The retry policy set so far.
    pub fn get_retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// At most this many requests per second, across all clones of the
    /// client (default 10, Tradecloud's limit). `0` is refused by
    /// [`build`](Self::build); use [`without_rate_limit`](Self::without_rate_limit).
    pub fn rate_limit(mut self, requests_per_second: u32) -> Self {
        self.rate_limit = Some(requests_per_second);
        self
    }

    /// No rate limit at all (for a mock or a proxy that limits itself).
    pub fn without_rate_limit(mut self) -> Self {
        self.rate_limit = None;
        self
    }

    /// The `User-Agent` header (default `tradecloud-rs/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Sends requests through this proxy (repeatable; the first that
    /// matches a URL wins). Without it, reqwest's defaults apply: the
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` environment variables.
    ///
    /// ```
    /// use tradecloud::client::reqwest::Proxy;
    ///
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let builder = tradecloud::client::Client::builder()
    ///     .proxy(Proxy::https("http://proxy.internal:3128")?);
    /// # Ok(()) }
    /// ```
    pub fn proxy(mut self, proxy: reqwest::Proxy) -> Self {
        self.proxies.push(proxy);
        self
    }

    /// Trusts this certificate authority too (repeatable), for example a
    /// company proxy that inspects TLS. The system's roots stay trusted.
    ///
    /// ```no_run
    /// use tradecloud::client::reqwest::Certificate;
    ///
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let pem = std::fs::read("/etc/ssl/company-root.pem")?;
    /// let builder = tradecloud::client::Client::builder()
    ///     .add_root_certificate(Certificate::from_pem(&pem)?);
    /// # Ok(()) }
    /// ```
    pub fn add_root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.root_certificates.push(certificate);
        self
    }

    /// Headers sent with every request (API calls and downloads), e.g. a
    /// tracing or tenant header. The client's own `Authorization` wins over
    /// one given here.
    ///
    /// ```
    /// use tradecloud::client::reqwest::header::{HeaderMap, HeaderValue};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-tenant", HeaderValue::from_static("acme"));
    /// let builder = tradecloud::client::Client::builder().default_headers(headers);
    /// ```
    pub fn default_headers(mut self, headers: reqwest::header::HeaderMap) -> Self {
        self.default_headers = headers;
        self
    }

    /// Uses your own `reqwest::Client` for API calls and downloads (shared
    /// connection pool, your TLS, proxy and time-out settings). The client
    /// then ignores [`timeout`](Self::timeout),
    /// [`connect_timeout`](Self::connect_timeout),
    /// [`user_agent`](Self::user_agent), [`proxy`](Self::proxy),
    /// [`add_root_certificate`](Self::add_root_certificate) and
    /// [`default_headers`](Self::default_headers), and
    /// [`build`](Self::build) refuses to combine them. Give it a read
    /// time-out rather than a total one, or large downloads get cut off.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tradecloud::client::reqwest;
    ///
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let http = reqwest::Client::builder().read_timeout(Duration::from_secs(30)).build()?;
    /// let builder = tradecloud::client::Client::builder().http_client(http);
    /// # Ok(()) }
    /// ```
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Builds the client. Fails without credentials, with a bad base URL or
    /// a zero rate limit.
    pub fn build(self) -> Result<Client, ClientError> {
        let base_url = self.environment.base_url().to_owned();
        let parsed = url::Url::parse(&base_url).map_err(|e| {
            ClientError::Config(format!(
                "the base URL {base_url:?} is not a URL ({e}): use e.g. https://api.accp.tradecloud1.com/v2"
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ClientError::Config(format!(
                "the base URL {base_url:?} must start with https:// (or http:// for a local mock)"
            )));
        }
        let Some((username, password)) = self.credentials else {
            return Err(ClientError::Config(format!(
                "no Tradecloud credentials: give the integration user's e-mail address and password \
                 with ClientBuilder::credentials, or set {ENV_USERNAME} and {ENV_PASSWORD} to them and \
                 build with Client::from_env"
            )));
        };
        let credentials = Credentials::new(username, password).map_err(|reason| {
            ClientError::Config(format!("unusable Tradecloud credentials: {reason}"))
        })?;
        let limiter = match self.rate_limit {
            Some(0) => {
                return Err(ClientError::Config(
                    "a rate limit of 0 requests per second lets nothing through: use without_rate_limit()".into(),
                ))
            }
            Some(rate) => Some(RateLimiter::new(rate)),
            None => None,
        };
        let transports = match self.http_client {
            Some(client) => {
                if !self.proxies.is_empty()
                    || !self.root_certificates.is_empty()
                    || !self.default_headers.is_empty()
                    || self.user_agent.is_some()
                {
                    return Err(ClientError::Config(
                        "http_client() cannot be combined with proxy(), add_root_certificate(), \
                         default_headers() or user_agent(): set those on your reqwest::Client"
                            .into(),
                    ));
                }
                Transports {
                    api: client.clone(),
                    download: client.clone(),
                    upload: client,
                    proxied: false,
                }
            }
            None => {
                let user_agent = self.user_agent.unwrap_or_else(|| {
                    concat!("tradecloud-rs/", env!("CARGO_PKG_VERSION")).to_owned()
                });
                let common = || {
                    let mut builder = reqwest::Client::builder()
                        .connect_timeout(self.connect_timeout)
                        .user_agent(user_agent.clone())
                        .default_headers(self.default_headers.clone());
                    for proxy in &self.proxies {
                        builder = builder.proxy(proxy.clone());
                    }
                    for certificate in &self.root_certificates {
                        builder = builder.add_root_certificate(certificate.clone());
                    }
                    builder
                };
                let failed = |e: reqwest::Error| {
                    ClientError::Config(format!("cannot set up the HTTP client: {e}"))
                };
                // API calls: a limit for the whole answer. Downloads: a
                // limit between two reads, so a large file may take long.
                let http = common().timeout(self.timeout).build().map_err(failed)?;
                let download_http = common()
                    .read_timeout(self.timeout)
                    .build()
                    .map_err(failed)?;
                // Uploads: a time-out per upload that grows with the file
                // (a read time-out would also run while the file is sent).
                let upload_http = common().build().map_err(failed)?;
                Transports {
                    api: http,
                    download: download_http,
                    upload: upload_http,
                    proxied: !self.proxies.is_empty(),
                }
            }
        };
        let shared = Arc::new(Shared {
            credentials: Some(credentials),
            auth_mode: self.auth_mode,
            retry: self.retry,
            limiter,
            tokens: TokenStore::default(),
            stats: Stats::default(),
            observer: std::sync::OnceLock::new(),
        });
        Ok(Client::assemble(base_url, shared, transports, self.timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_checks_its_input() {
        let error = ClientBuilder::new().build().unwrap_err();
        assert!(error.to_string().contains("TRADECLOUD_USERNAME"), "{error}");
        // Client::builder() without credentials: the builder's own way
        // is named, not only the environment's.
        assert!(
            error.to_string().contains("ClientBuilder::credentials"),
            "{error}"
        );
        let error = ClientBuilder::new()
            .credentials("a@b.c", "p")
            .environment(Environment::custom("ftp://x"))
            .build()
            .unwrap_err();
        assert!(error.to_string().contains("https://"), "{error}");
        let error = ClientBuilder::new()
            .credentials("a@b.c", "p")
            .rate_limit(0)
            .build()
            .unwrap_err();
        assert!(error.to_string().contains("without_rate_limit"), "{error}");
        let error = ClientBuilder::new()
            .credentials("a@b.c", "p")
            .http_client(reqwest::Client::new())
            .user_agent("mine")
            .build()
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("set those on your reqwest::Client"),
            "{error}"
        );
        ClientBuilder::new()
            .credentials("a@b.c", "p")
            .http_client(reqwest::Client::new())
            .build()
            .expect("an own reqwest client alone is fine");
        let client = ClientBuilder::new()
            .credentials("a@b.c", "p")
            .build()
            .unwrap();
        assert_eq!(client.base_url(), PRODUCTION_BASE_URL);
    }

    #[test]
    fn debug_hides_the_password() {
        let builder = ClientBuilder::new().credentials("a@b.c", "hunter2");
        assert!(!format!("{builder:?}").contains("hunter2"));
        let client = builder.build().unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("a@b.c"), "{shown}");
    }

    #[test]
    fn environments_parse() {
        assert_eq!(
            "PROD".parse::<Environment>().unwrap(),
            Environment::Production
        );
        assert_eq!(
            "accp".parse::<Environment>().unwrap().base_url(),
            ACCEPTANCE_BASE_URL
        );
        assert!("staging".parse::<Environment>().is_err());
    }
}
