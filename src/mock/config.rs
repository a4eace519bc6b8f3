//! Configuration of the mock: listen address, users, token and download-URL
//! lifetimes, data and fault injection.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::data::{MockData, MockDocument};
use super::error::MockError;
use crate::api::common::types::{Order, Shipment, SingleDeliveryOrder};

/// The e-mail address of the default integration user.
pub const DEFAULT_USERNAME: &str = "integration@example.com";
/// The password of the default integration user. A fixed test value: the
/// mock is not meant to protect anything.
pub const DEFAULT_PASSWORD: &str = "tradecloud-mock-secret";

/// An integration user of the mock: the e-mail address and password sent
/// with Basic authentication. `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct MockUser {
    /// E-mail address (the Basic auth user name); compared case-insensitively.
    pub email: String,
    /// Password; compared exactly.
    pub password: String,
}

impl MockUser {
    /// A user with this e-mail address and password.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        MockUser {
            email: email.into(),
            password: password.into(),
        }
    }

    /// The Tradecloud user id the mock gives this user: a UUID made from
    /// the e-mail address (compared case-insensitively), the same in every
    /// run. The webhook events this user's messages trigger carry it as
    /// `meta.source.userId` (order/buyer/receive/README.md, "Message meta
    /// information").
    pub fn user_id(&self) -> String {
        // FNV-1a, twice with different offsets, for 128 stable bits; shaped
        // as a version 8 (custom) UUID.
        let fnv = |offset: u64| {
            self.email
                .to_lowercase()
                .bytes()
                .fold(offset, |hash, byte| {
                    (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
                })
        };
        let bits =
            (u128::from(fnv(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(fnv(0x8422_2325_cbf2_9ce4));
        let bits = (bits & !(0xf << 76) | (0x8 << 76)) & !(0x3 << 62) | (0x2 << 62);
        let hex = format!("{bits:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }
}

impl Default for MockUser {
    /// [`DEFAULT_USERNAME`] with [`DEFAULT_PASSWORD`].
    fn default() -> Self {
        MockUser::new(DEFAULT_USERNAME, DEFAULT_PASSWORD)
    }
}

impl fmt::Debug for MockUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockUser")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What the mock does to a request picked by a [`FaultConfig`].
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer this status code instead of handling the request, with a JSON
    /// error body and, when given, `Retry-After: <seconds>`.
    Status {
        /// The status code, e.g. `503` or `429`.
        status: u16,
        /// Seconds for the `Retry-After` header.
        retry_after: Option<u64>,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
}

/// Which requests a [`FaultConfig`] picks, counted over the requests it
/// applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultTrigger {
    /// Every request.
    Always,
    /// Each request independently with this probability (`0.0..=1.0`).
    /// Set [`MockConfig::seed`] for a reproducible sequence.
    Probability(f64),
    /// Every Nth request: the Nth, 2Nth, 3Nth, ... (`N >= 1`).
    EveryNth(u64),
    /// The first N requests after the fault was installed (a burst), then none.
    FirstN(u64),
}

/// The buyer company's default integration user.
pub const DEFAULT_BUYER_USERNAME: &str = "buyer@example.com";
/// The buyer company's default password (a fixed test value).
pub const DEFAULT_BUYER_PASSWORD: &str = "tradecloud-mock-buyer";
/// The supplier company's default integration user.
pub const DEFAULT_SUPPLIER_USERNAME: &str = "supplier@example.com";
/// The supplier company's default password (a fixed test value).
pub const DEFAULT_SUPPLIER_PASSWORD: &str = "tradecloud-mock-supplier";

/// One of the two companies the mock plays: its Tradecloud company id, its
/// integration user, and the account number it knows its partner by (the
/// buyer's number for the supplier, `supplierAccountNumber`; the supplier's
/// number for the buyer, `buyerAccountNumber`), as a connection between
/// two Tradecloud companies holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockCompany {
    /// The Tradecloud company id (a UUID).
    pub company_id: String,
    /// The company name.
    pub name: String,
    /// The company's integration user.
    pub user: MockUser,
    /// The account number this company has given its partner in its ERP
    /// system: for the buyer, the supplier's account number
    /// (`supplierAccountNumber`); for the supplier, the buyer's
    /// (`buyerAccountNumber`).
    pub partner_account_number: String,
}

impl MockCompany {
    /// The default buyer: company `3fa85f64-...` (as in Tradecloud's
    /// published examples), user [`DEFAULT_BUYER_USERNAME`], knowing its
    /// supplier as `SUPPLIER12345` (the examples' `supplierAccountNumber`).
    pub fn default_buyer() -> Self {
        MockCompany {
            company_id: "3fa85f64-5717-4562-b3fc-2c963f66afa6".into(),
            name: "Mock Buyer B.V.".into(),
            user: MockUser::new(DEFAULT_BUYER_USERNAME, DEFAULT_BUYER_PASSWORD),
            partner_account_number: "SUPPLIER12345".into(),
        }
    }

    /// The default supplier: company `1f61e695-...` (as in Tradecloud's
    /// published examples), user [`DEFAULT_SUPPLIER_USERNAME`], knowing its
    /// buyer as `340760` (the `buyerAccountNumber` of the demo orders and the SDK's examples).
    pub fn default_supplier() -> Self {
        MockCompany {
            company_id: "1f61e695-7545-5670-9384-58e8b1f263e6".into(),
            name: "Mock Supplier Ltd.".into(),
            user: MockUser::new(DEFAULT_SUPPLIER_USERNAME, DEFAULT_SUPPLIER_PASSWORD),
            partner_account_number: "340760".into(),
        }
    }
}

/// One fault-injection rule: what to do ([`Fault`]), to which requests
/// ([`FaultTrigger`]) and, optionally, only for some operations.
///
/// Faults apply to the API routes under `/v2` (including the authentication
/// routes and the webhook settings endpoints, `setOrderEventsSettings`,
/// `setOrderDocumentsEventsSettings` and `setShipmentWebhookSettings`) and
/// to the portal actions on shipments (`mockApproveShipmentByBuyer`, ...),
/// checked before authentication, in the order given; the first
/// status fault that fires answers the request, and all delays that fire
/// add up. The presigned download route of the mock
/// ([`operation::MOCK_S3_DOWNLOAD`](super::operation::MOCK_S3_DOWNLOAD)) is
/// affected only when a rule names it in [`operations`](Self::operations).
///
/// ```
/// use tradecloud::api::order_search::operations::POLL_ORDERS_ROUTE;
/// use tradecloud::mock::{FaultConfig, FaultTrigger};
///
/// // Every 5th poll answers 429 with `Retry-After: 1`.
/// let fault = FaultConfig::too_many_requests(1, FaultTrigger::EveryNth(5))
///     .for_operations([POLL_ORDERS_ROUTE.id]);
/// assert_eq!(fault.operations, vec!["pollOrdersRoute".to_string()]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// What happens to a picked request.
    pub fault: Fault,
    /// Which requests are picked.
    pub trigger: FaultTrigger,
    /// Operation ids the rule applies to (see [`operation`](super::operation));
    /// empty means every API operation. An id the mock does not serve is
    /// refused when the rule is installed.
    pub operations: Vec<String>,
}

impl FaultConfig {
    /// Answer `status` (without `Retry-After`) to the picked requests.
    pub fn status(status: u16, trigger: FaultTrigger) -> Self {
        FaultConfig {
            fault: Fault::Status {
                status,
                retry_after: None,
            },
            trigger,
            operations: Vec::new(),
        }
    }

    /// Answer `503 Service Unavailable` to the picked requests.
    pub fn service_unavailable(trigger: FaultTrigger) -> Self {
        Self::status(503, trigger)
    }

    /// Answer `429 Too Many Requests` with `Retry-After: retry_after_secs`.
    pub fn too_many_requests(retry_after_secs: u64, trigger: FaultTrigger) -> Self {
        FaultConfig {
            fault: Fault::Status {
                status: 429,
                retry_after: Some(retry_after_secs),
            },
            trigger,
            operations: Vec::new(),
        }
    }

    /// Delay the picked requests by `delay`, then answer them normally.
    pub fn delay(delay: Duration, trigger: FaultTrigger) -> Self {
        FaultConfig {
            fault: Fault::Delay(delay),
            trigger,
            operations: Vec::new(),
        }
    }

    /// Restrict the rule to these operation ids.
    pub fn for_operations<I, S>(mut self, operations: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.operations = operations.into_iter().map(Into::into).collect();
        self
    }

    pub(crate) fn validate(&self) -> Result<(), MockError> {
        match self.trigger {
            FaultTrigger::Probability(p) if !(0.0..=1.0).contains(&p) => {
                return Err(MockError::Config(format!(
                    "fault probability {p} is not between 0 and 1"
                )))
            }
            FaultTrigger::EveryNth(0) => {
                return Err(MockError::Config(
                    "a fault cannot fire on every 0th request; use N >= 1".into(),
                ))
            }
            _ => {}
        }
        if let Fault::Status { status, .. } = self.fault {
            if !(400..=599).contains(&status) {
                return Err(MockError::Config(format!(
                    "fault status {status} is not an error status (400 to 599)"
                )));
            }
        }
        if let Some(unknown) = self.operations.iter().find(|op| !super::serves(op)) {
            return Err(MockError::Config(format!(
                "fault operation `{unknown}` is not an operation of the mock; use an operationId of its specs (such as pollOrdersRoute or getDocumentMetadata), {}, a webhook settings endpoint's id (setOrderEventsSettings, setOrderDocumentsEventsSettings, setShipmentWebhookSettings) or a portal action's id (such as mockApproveShipmentByBuyer)",
                super::operation::MOCK_S3_DOWNLOAD
            )));
        }
        Ok(())
    }
}

/// Configuration of a [`MockServer`](super::MockServer). Build it with the
/// methods below or set the public fields.
///
/// ```
/// use std::time::Duration;
/// use tradecloud::mock::{FaultConfig, FaultTrigger, MockConfig};
///
/// let config = MockConfig::new()
///     .user("erp@example.com", "s3cret")
///     .access_token_lifetime(Duration::from_secs(1))
///     .download_url_lifetime(Duration::from_millis(500))
///     .demo_data()
///     .fault(FaultConfig::service_unavailable(FaultTrigger::Probability(0.2)))
///     .seed(7);
/// assert_eq!(config.users[0].email, "erp@example.com");
/// assert!(!config.data.orders.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Address to listen on; port `0` picks a free port. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// The integration users; the first one is returned by
    /// [`MockServer::credentials`](super::MockServer::credentials). Default:
    /// [`DEFAULT_USERNAME`] / [`DEFAULT_PASSWORD`].
    pub users: Vec<MockUser>,
    /// Lifetime of an access token. Default 1 hour (as Tradecloud).
    pub access_token_lifetime: Duration,
    /// Lifetime of a refresh token. Default 24 hours (as Tradecloud).
    pub refresh_token_lifetime: Duration,
    /// Lifetime of a presigned `downloadUrl`. Default 60 seconds (Tradecloud:
    /// "expires within 1 minute").
    pub download_url_lifetime: Duration,
    /// A fixture directory loaded at start, on top of [`data`](Self::data)
    /// (see the [module documentation](super#fixture-directory) for its layout).
    pub fixtures_dir: Option<PathBuf>,
    /// Orders, shipments and documents served from the start.
    pub data: MockData,
    /// Fault-injection rules (none by default).
    pub faults: Vec<FaultConfig>,
    /// Seed of the random number generator used by
    /// [`FaultTrigger::Probability`] (random when `None`).
    pub seed: Option<u64>,
    /// The buyer company ([`MockCompany::default_buyer`]); its user can log
    /// in besides [`users`](Self::users).
    pub buyer: MockCompany,
    /// The supplier company ([`MockCompany::default_supplier`]); its user
    /// can log in besides [`users`](Self::users).
    pub supplier: MockCompany,
    /// Both companies' webhooks (none by default; also set through the
    /// settings endpoints).
    pub webhooks: super::webhooks::MockWebhooks,
    /// The first retry delay of a webhook delivery (doubling after it, with
    /// [`RetryPolicy`](crate::client::RetryPolicy)'s jitter). Default 1 s.
    pub delivery_backoff: Duration,
    /// PEM file of CA certificates trusted for `https://` webhook targets,
    /// besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Webhook targets that fail as the mock sees them.
    pub webhook_faults: Vec<super::webhooks::WebhookFault>,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            users: vec![MockUser::default()],
            access_token_lifetime: Duration::from_secs(60 * 60),
            refresh_token_lifetime: Duration::from_secs(24 * 60 * 60),
            download_url_lifetime: Duration::from_secs(60),
            fixtures_dir: None,
            data: MockData::default(),
            faults: Vec::new(),
            seed: None,
            buyer: MockCompany::default_buyer(),
            supplier: MockCompany::default_supplier(),
            webhooks: Default::default(),
            delivery_backoff: Duration::from_secs(1),
            ca_file: None,
            webhook_faults: Vec::new(),
        }
    }
}

impl MockConfig {
    /// The defaults: `127.0.0.1:0`, the default user, Tradecloud's token
    /// lifetimes, no data, no faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Listen on `addr` (port `0` picks a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Make this the only user.
    pub fn user(mut self, email: impl Into<String>, password: impl Into<String>) -> Self {
        self.users = vec![MockUser::new(email, password)];
        self
    }

    /// Add another user.
    pub fn add_user(mut self, email: impl Into<String>, password: impl Into<String>) -> Self {
        self.users.push(MockUser::new(email, password));
        self
    }

    /// Set the access token lifetime.
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_token_lifetime = lifetime;
        self
    }

    /// Set the refresh token lifetime.
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_token_lifetime = lifetime;
        self
    }

    /// Set the lifetime of presigned download URLs.
    pub fn download_url_lifetime(mut self, lifetime: Duration) -> Self {
        self.download_url_lifetime = lifetime;
        self
    }

    /// Load this fixture directory at start.
    pub fn fixtures_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.fixtures_dir = Some(dir.into());
        self
    }

    /// Serve this data (replacing what was set before).
    pub fn data(mut self, data: MockData) -> Self {
        self.data = data;
        self
    }

    /// Add the built-in demo data set ([`MockData::demo`]).
    pub fn demo_data(mut self) -> Self {
        self.data.extend(MockData::demo());
        self
    }

    /// Add an order (served by GET /order/{orderId} and the order poll).
    pub fn order(mut self, order: Order) -> Self {
        self.data.orders.push(order);
        self
    }

    /// Add a single-delivery order (served by the single-delivery poll).
    pub fn single_delivery_order(mut self, order: SingleDeliveryOrder) -> Self {
        self.data.single_delivery_orders.push(order);
        self
    }

    /// Add a shipment (served by GET /shipment/{shipmentId} and the shipment poll).
    pub fn shipment(mut self, shipment: Shipment) -> Self {
        self.data.shipments.push(shipment);
        self
    }

    /// Add a document under its object id.
    pub fn document(mut self, object_id: impl Into<String>, document: MockDocument) -> Self {
        self.data.documents.insert(object_id.into(), document);
        self
    }

    /// Add a fault-injection rule.
    pub fn fault(mut self, fault: FaultConfig) -> Self {
        self.faults.push(fault);
        self
    }

    /// Seed the random number generator of probabilistic faults.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Set the buyer company.
    pub fn buyer(mut self, buyer: MockCompany) -> Self {
        self.buyer = buyer;
        self
    }

    /// Set the supplier company.
    pub fn supplier(mut self, supplier: MockCompany) -> Self {
        self.supplier = supplier;
        self
    }

    /// The buyer's webhooks.
    pub fn buyer_webhooks(mut self, webhooks: super::webhooks::CompanyWebhooks) -> Self {
        self.webhooks.buyer = webhooks;
        self
    }

    /// The supplier's webhooks.
    pub fn supplier_webhooks(mut self, webhooks: super::webhooks::CompanyWebhooks) -> Self {
        self.webhooks.supplier = webhooks;
        self
    }

    /// The first retry delay of webhook deliveries (doubling after it).
    pub fn delivery_backoff(mut self, backoff: Duration) -> Self {
        self.delivery_backoff = backoff;
        self
    }

    /// Trust the CA certificates of this PEM file for `https://` webhook
    /// targets, besides the system roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Add a webhook fault ([`WebhookFault`](super::webhooks::WebhookFault)).
    pub fn webhook_fault(mut self, fault: super::webhooks::WebhookFault) -> Self {
        self.webhook_faults.push(fault);
        self
    }

    pub(crate) fn validate(&self) -> Result<(), MockError> {
        if self.users.is_empty() {
            return Err(MockError::Config("at least one user is needed".into()));
        }
        if self
            .buyer
            .user
            .email
            .eq_ignore_ascii_case(&self.supplier.user.email)
        {
            return Err(MockError::Config(format!(
                "the buyer and the supplier have the same user {}; give each company its own",
                self.buyer.user.email
            )));
        }
        if self.buyer.company_id == self.supplier.company_id {
            return Err(MockError::Config(format!(
                "the buyer and the supplier have the same company id {}",
                self.buyer.company_id
            )));
        }
        for (name, lifetime) in [
            ("access token lifetime", self.access_token_lifetime),
            ("refresh token lifetime", self.refresh_token_lifetime),
            ("download URL lifetime", self.download_url_lifetime),
        ] {
            if lifetime.is_zero() {
                return Err(MockError::Config(format!(
                    "the {name} must be longer than zero"
                )));
            }
        }
        self.faults.iter().try_for_each(FaultConfig::validate)
    }
}
