//! One certificate order: account (created once, then cached), new order,
//! the challenges, finalization with a fresh key, download of the chain.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use instant_acme::{
    Account, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType, HttpClient,
    Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use tokio::sync::Mutex;

use super::cache::Cache;
use super::challenge::{self, Challenges};
use super::config::{AcmeConfig, ChallengeKind};
use super::{AcmeError, Failure};

/// instant-acme's HTTP client: reqwest, which the crate already uses, with
/// the public roots plus `ca_file`.
struct Reqwest(reqwest::Client);

impl HttpClient for Reqwest {
    fn request(
        &self,
        request: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(never) => match never {},
            };
            let response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            Ok(BytesResponse::from(http::Response::<reqwest::Body>::from(
                response,
            )))
        })
    }
}

/// The HTTP client for the CA: public roots and `ca_file`.
pub(crate) fn http_client(config: &AcmeConfig) -> Result<reqwest::Client, AcmeError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("tradecloud/", env!("CARGO_PKG_VERSION"), " (ACME)"))
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(60));
    if let Some(path) = &config.ca_file {
        let pem = std::fs::read(path).map_err(|source| AcmeError::CaFile {
            path: path.clone(),
            message: source.to_string(),
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| AcmeError::CaFile {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if certs.is_empty() {
            return Err(AcmeError::CaFile {
                path: path.clone(),
                message: "no CERTIFICATE block found".into(),
            });
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| AcmeError::CaFile {
        path: config.ca_file.clone().unwrap_or_default(),
        message: format!("cannot set up the HTTPS client: {e}"),
    })
}

/// A certificate just issued.
pub(crate) struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
}

/// Orders certificates for one configuration.
pub(crate) struct Orderer {
    pub config: AcmeConfig,
    pub http: reqwest::Client,
    pub cache: Cache,
    pub challenges: Arc<Challenges>,
    account: Mutex<Option<Account>>,
}

impl Orderer {
    pub(crate) fn new(
        config: AcmeConfig,
        http: reqwest::Client,
        cache: Cache,
        challenges: Arc<Challenges>,
    ) -> Self {
        Orderer {
            config,
            http,
            cache,
            challenges,
            account: Mutex::new(None),
        }
    }

    fn client(&self) -> Box<dyn HttpClient> {
        Box::new(Reqwest(self.http.clone()))
    }

    /// The cached account, or a new one registered with the CA.
    async fn account(&self) -> Result<Account, Failure> {
        let mut slot = self.account.lock().await;
        if let Some(account) = slot.as_ref() {
            return Ok(account.clone());
        }
        let account = match self.cache.load_account().map_err(Failure::Local)? {
            Some(credentials) => Account::builder_with_http(self.client())
                .from_credentials(credentials)
                .await
                .map_err(|e| Failure::from_acme(e, "restore the cached ACME account"))?,
            None => {
                let contact = self.config.contact_uris();
                let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
                let (account, credentials) = Account::builder_with_http(self.client())
                    .create(
                        &NewAccount {
                            contact: &contact,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        self.config.directory_url.clone(),
                        None,
                    )
                    .await
                    .map_err(|e| Failure::from_acme(e, "register an ACME account"))?;
                self.cache
                    .save_account(&credentials)
                    .map_err(Failure::Local)?;
                tracing::info!(directory = %self.config.directory_url, id = account.id(), "ACME account registered and cached");
                account
            }
        };
        *slot = Some(account.clone());
        Ok(account)
    }

    /// Order, validate, finalize and download one certificate.
    pub(crate) async fn order(&self) -> Result<Issued, Failure> {
        let result = self.order_inner().await;
        self.challenges.clear();
        result
    }

    async fn order_inner(&self) -> Result<Issued, Failure> {
        let account = self.account().await?;
        let identifiers: Vec<Identifier> = self
            .config
            .domains
            .iter()
            .map(|d| Identifier::Dns(d.clone()))
            .collect();
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .map_err(|e| Failure::from_acme(e, "create an order"))?;
        let kind = self.config.challenge;
        let wanted = match kind {
            ChallengeKind::TlsAlpn01 => ChallengeType::TlsAlpn01,
            ChallengeKind::Http01 => ChallengeType::Http01,
        };
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization =
                authorization.map_err(|e| Failure::from_acme(e, "fetch an authorization"))?;
            match authorization.status {
                AuthorizationStatus::Valid => continue,
                AuthorizationStatus::Pending => {}
                other => {
                    return Err(Failure::Rejected(format!(
                        "the CA's authorization for {} is {other:?}",
                        identifier_name(authorization.identifier())
                    )))
                }
            }
            let domain = identifier_name(authorization.identifier());
            let Some(mut challenge) = authorization.challenge(wanted.clone()) else {
                return Err(Failure::Rejected(format!(
                    "the CA offers no {} challenge for {domain}; try the other challenge type",
                    kind.as_str()
                )));
            };
            let key_authorization = challenge.key_authorization();
            match kind {
                ChallengeKind::TlsAlpn01 => {
                    let key = challenge::tls_alpn_certificate(
                        &domain,
                        key_authorization.digest().as_ref(),
                    )
                    .map_err(|e| Failure::Local(e.into()))?;
                    self.challenges.add_tls_alpn(&domain, key);
                }
                ChallengeKind::Http01 => {
                    self.challenges
                        .add_http(&challenge.token, key_authorization.as_str());
                }
            }
            challenge
                .set_ready()
                .await
                .map_err(|e| Failure::from_acme(e, "start the challenge"))?;
        }
        let polling = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .backoff(1.5)
            .timeout(Duration::from_secs(120));
        let status = order
            .poll_ready(&polling)
            .await
            .map_err(|e| Failure::from_acme(e, "wait for the validation"))?;
        if status != OrderStatus::Ready {
            return Err(self.validation_failure(&mut order).await);
        }
        let key = rcgen::KeyPair::generate().map_err(|e| Failure::Local(e.into()))?;
        let mut params = rcgen::CertificateParams::new(self.config.domains.clone())
            .map_err(|e| Failure::Local(e.into()))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params
            .serialize_request(&key)
            .map_err(|e| Failure::Local(e.into()))?;
        order
            .finalize_csr(csr.der())
            .await
            .map_err(|e| Failure::from_acme(e, "finalize the order"))?;
        let chain_pem = order
            .poll_certificate(&polling)
            .await
            .map_err(|e| Failure::from_acme(e, "download the certificate"))?;
        Ok(Issued {
            chain_pem,
            key_pem: key.serialize_pem(),
        })
    }

    /// Why the CA did not validate: the first challenge error it reports.
    async fn validation_failure(&self, order: &mut instant_acme::Order) -> Failure {
        let mut authorizations = order.authorizations();
        while let Some(Ok(mut authorization)) = authorizations.next().await {
            let Ok(state) = authorization.refresh().await else {
                continue;
            };
            let domain = identifier_name(state.identifier());
            for challenge in &state.challenges {
                if let Some(problem) = &challenge.error {
                    return Failure::Challenge {
                        domain,
                        detail: problem.to_string(),
                    };
                }
            }
            if state.status != AuthorizationStatus::Valid {
                return Failure::Challenge {
                    domain,
                    detail: format!("authorization {:?}", state.status),
                };
            }
        }
        Failure::Challenge {
            domain: self.config.domains.join(", "),
            detail: "the order became invalid".into(),
        }
    }
}

fn identifier_name(identifier: instant_acme::AuthorizedIdentifier<'_>) -> String {
    match identifier.identifier {
        Identifier::Dns(name) => name.clone(),
        other => format!("{other:?}"),
    }
}
