//! Sending to Tradecloud: the messages of the API connector (orders, order
//! responses, indicators, documents, deliveries, despatch advices) and the
//! order actions, as a [`Message`] that checks, encodes and sends one body.
//!
//! Every message goes the same way, driven by its operation's entry of the
//! generated operation table ([`Operation`]):
//!
//! 1. **Checked** before anything is sent: the documented rules of the
//!    type ([`Validate`], text lengths included) and the numeric bounds of
//!    the table ([`Operation::check_bounds`]); a broken rule is
//!    [`ClientError::InvalidMessage`], naming each member by its JSON path.
//! 2. **Encoded** as JSON, or as tXML when asked ([`WireFormat::Txml`]) and
//!    the spec's operation takes `application/xml`
//!    ([`Operation::accepts_request`]); otherwise an error before sending.
//! 3. **Sent** through the client's pipeline (authentication, rate limit,
//!    tracing) with the call's [`Resend`] rule.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;

use bytes::Bytes;
use progenitor_client::ResponseValue;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::answer::describe;
use super::pipeline::{self, Requests};
use super::{Client, ClientError};
use crate::api::common::types::ErrorResponse;
use crate::operation::{MediaKind, Operation};
use crate::types::{Validate, Violations};
use crate::webhook::txml::Shape;

/// How a message's body goes on the wire.
///
/// ```
/// use tradecloud::api::api_connector::operations::{SEND_ORDER_BY_BUYER_ROUTE, SEND_ORDER_INDICATORS_BY_BUYER_ROUTE};
/// use tradecloud::client::WireFormat;
///
/// // Which operations take tXML is the spec's to say (its operation table):
/// assert!(WireFormat::Txml.accepted_by(&SEND_ORDER_BY_BUYER_ROUTE));
/// assert!(!WireFormat::Txml.accepted_by(&SEND_ORDER_INDICATORS_BY_BUYER_ROUTE));
/// assert!(WireFormat::Json.accepted_by(&SEND_ORDER_INDICATORS_BY_BUYER_ROUTE));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WireFormat {
    /// `application/json`, which every operation takes.
    #[default]
    Json,
    /// tXML (`application/xml`), Tradecloud's one-to-one XML form of the
    /// JSON (api/json-vs-xml.md): send order, send single delivery order and
    /// send order response take it.
    Txml,
}

impl WireFormat {
    fn kind(self) -> MediaKind {
        match self {
            WireFormat::Json => MediaKind::Json,
            WireFormat::Txml => MediaKind::Xml,
        }
    }

    /// Whether `operation`'s request body may be sent in this format.
    pub fn accepted_by(self, operation: &Operation) -> bool {
        operation.accepts_request(self.kind())
    }
}

/// When a call is sent again after a failure. Each call says which rule it
/// follows, and why, in its documentation.
///
/// Tradecloud asks clients to retry `5xx` answers, `429` and time-outs
/// with an exponential backoff (api/rules.md). That is safe when sending a
/// message twice has the effect of sending it once; when it is not, the
/// client only sends again what provably did not reach Tradecloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resend {
    /// Sending again is an update with the same data: retried by the
    /// client's [`RetryPolicy`](super::RetryPolicy) like every read (`5xx`,
    /// `429`, `408`, time-outs, broken connections).
    Always,
    /// Sending again could apply it twice: sent again only when Tradecloud
    /// provably did not take it: no connection could be made, it was
    /// refused unread (`429`, `408`; a `401` renews the token and sends
    /// again), or the connection broke before the whole body went out (an
    /// upload; no server acts on half a request). A `5xx` answer, a
    /// time-out or a connection lost after the whole request went out is
    /// final, as [`ClientError::NotResent`].
    IfNotReceived,
}

/// A message as it would go on the wire ([`Message::encode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncodedMessage {
    /// The `Content-Type`, as the spec writes it (`application/json`).
    pub content_type: &'static str,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One message or action to send: `.await` it, optionally after choosing
/// the [`format`](Self::format). Made by the calls of
/// [`client.orders()`](Client::orders) and friends; `R` is the
/// [`Answer`]: `OkResponse` for the API connector's messages, `()` for
/// the order actions.
///
/// ```no_run
/// use tradecloud::api::api_connector::types::{
///     OrderResponseBySupplier, OrderResponseLineBySupplier, SendOrderResponseBySupplier,
/// };
/// use tradecloud::api::common::types::SupplierLineIndicators;
/// use tradecloud::client::WireFormat;
///
/// # async fn run(client: tradecloud::client::Client) -> Result<(), tradecloud::client::ClientError> {
/// let response = SendOrderResponseBySupplier::builder()
///     .order(OrderResponseBySupplier::builder().buyer_account_number("340760").purchase_order_number("PO123"))
///     .lines([OrderResponseLineBySupplier::builder()
///         .purchase_order_line_position("0001")
///         .indicators(SupplierLineIndicators::builder().accepted(true))
///         .build()])
///     .build();
/// // JSON:
/// client.orders().respond(&response).await?;
/// // tXML (the order response takes it):
/// client.orders().respond(&response).format(WireFormat::Txml).await?;
/// // What would be sent, checked but not sent:
/// let encoded = client.orders().respond(&response).encode()?;
/// println!("{}", String::from_utf8_lossy(&encoded.body));
/// # Ok(())
/// # }
/// ```
#[must_use = "a message is sent when it is awaited"]
pub struct Message<'a, B, R> {
    client: &'a Client,
    operation: &'static Operation,
    api_version: &'static str,
    path: Result<String, String>,
    body: &'a B,
    shape: Option<&'static Shape>,
    format: WireFormat,
    resend: Resend,
    advice: &'static str,
    what: String,
    answer: PhantomData<fn() -> R>,
}

impl<B, R> std::fmt::Debug for Message<'_, B, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("operation", &self.operation.id)
            .field("path", &self.path)
            .field("format", &self.format)
            .field("resend", &self.resend)
            .finish_non_exhaustive()
    }
}

impl<'a, B, R> Message<'a, B, R>
where
    B: Serialize + Validate,
{
    /// A message for `operation` (its path parameters, by name, in
    /// `params`), sent to the spec of `api_version`, retried
    /// [`Resend::Always`].
    pub(super) fn new(
        client: &'a Client,
        operation: &'static Operation,
        api_version: &'static str,
        params: &[(&str, &str)],
        body: &'a B,
        shape: Option<&'static Shape>,
        what: String,
    ) -> Self {
        Message {
            client,
            operation,
            api_version,
            path: fill_path(operation.path, params),
            body,
            shape,
            format: WireFormat::Json,
            resend: Resend::Always,
            advice: "",
            what,
            answer: PhantomData,
        }
    }

    /// Sends it again only when Tradecloud provably did not take it;
    /// `advice` is what [`ClientError::NotResent`] tells the user to do.
    pub(super) fn resend_if_not_received(mut self, advice: &'static str) -> Self {
        self.resend = Resend::IfNotReceived;
        self.advice = advice;
        self
    }

    /// Sends the body as JSON (the default) or tXML. tXML only where the
    /// spec's operation takes `application/xml`
    /// ([`WireFormat::accepted_by`]); elsewhere the message fails before
    /// anything is sent.
    pub fn format(mut self, format: WireFormat) -> Self {
        self.format = format;
        self
    }

    /// The rule by which this message is sent again after a failure.
    pub fn resend(&self) -> Resend {
        self.resend
    }

    /// The operation it is sent to.
    pub fn operation(&self) -> &'static Operation {
        self.operation
    }

    /// Checks the message and encodes it as it would be sent, without
    /// sending it: [`ClientError::InvalidMessage`] with every broken rule,
    /// or [`ClientError::InvalidRequest`] for a format the operation does
    /// not take. This is what awaiting the message does first.
    pub fn encode(&self) -> Result<EncodedMessage, ClientError> {
        let invalid = |message: String| ClientError::InvalidRequest {
            what: self.what.clone(),
            message,
        };
        self.check()?;
        let Some(media) = self
            .operation
            .request
            .and_then(|r| r.media_types.iter().find(|m| m.kind == self.format.kind()))
        else {
            let taken: Vec<&str> = self
                .operation
                .request
                .map(|r| r.media_types.iter().map(|m| m.name).collect())
                .unwrap_or_default();
            return Err(invalid(format!(
                "{} takes {} only, not {:?}: send it as JSON",
                self.operation,
                taken.join(", "),
                self.format
            )));
        };
        let body = match self.format {
            WireFormat::Json => serde_json::to_vec(self.body)
                .map_err(|e| invalid(format!("cannot encode it as JSON: {e}")))?,
            WireFormat::Txml => {
                let shape = self
                    .shape
                    .ok_or_else(|| invalid("there is no tXML form of this message".into()))?;
                crate::webhook::txml::to_vec_with(self.body, shape)
                    .map_err(|e| invalid(format!("cannot encode it as tXML: {e}")))?
            }
        };
        Ok(EncodedMessage {
            content_type: media.name,
            body,
        })
    }

    /// The documented rules: the type's and the table's bounds, and no
    /// control character in any text
    /// ([`control_characters`](crate::types::validate::control_characters)).
    fn check(&self) -> Result<(), ClientError> {
        let mut found = match self.body.validate() {
            Ok(()) => Vec::new(),
            Err(violations) => violations.into_vec(),
        };
        if let Ok(value) = serde_json::to_value(self.body) {
            found.extend(self.operation.check_bounds(&value));
            found.extend(crate::types::validate::control_characters(&value));
        }
        match Violations::from_vec(found) {
            Some(violations) => Err(ClientError::InvalidMessage {
                what: self.what.clone(),
                violations,
            }),
            None => Ok(()),
        }
    }
}

/// What a [`Message`] answers: the type its success answer's body is read
/// as. Implemented for the answers the specs give members
/// ([`OkResponse`](crate::api::api_connector::types::OkResponse) of the
/// API connector), and for `()`: the order actions, whose answer
/// Tradecloud documents no members of, so their body is not read at all.
pub trait Answer: Sized + sealed::Sealed {
    /// Reads the body of a success answer (blank for none).
    #[doc(hidden)]
    fn from_body(body: &[u8]) -> Result<Self, serde_json::Error>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for () {}
    impl Sealed for crate::api::api_connector::types::OkResponse {}
}

impl Answer for () {
    /// Nothing: any body of a success answer is accepted and not read.
    fn from_body(_: &[u8]) -> Result<Self, serde_json::Error> {
        Ok(())
    }
}

impl Answer for crate::api::api_connector::types::OkResponse {
    fn from_body(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json_or_empty_object(body))
    }
}

impl<'a, B, R> IntoFuture for Message<'a, B, R>
where
    B: Serialize + Validate + Sync,
    R: Answer + Send + 'a,
{
    type Output = Result<R, ClientError>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let encoded = self.encode()?;
            let path = self
                .path
                .clone()
                .map_err(|message| ClientError::InvalidRequest {
                    what: self.what.clone(),
                    message,
                })?;
            let client = self.client;
            let inner = &client.inner;
            let request = build_request(
                &inner.http,
                self.operation,
                &format!("{}{path}", inner.base_url),
                self.api_version,
                encoded,
            )
            .map_err(|e| ClientError::InvalidRequest {
                what: self.what.clone(),
                message: describe(&e),
            })?;
            let operation = self.operation;
            let resend = self.resend;
            let call = async move {
                let response = pipeline::exec_with(
                    &inner.http,
                    &inner.base_url,
                    &inner.context,
                    Requests::Once(request),
                    operation.client_method,
                    Some(operation),
                    resend,
                )
                .await
                .map_err(progenitor_client::Error::CommunicationError)?;
                decode_with(response, R::from_body).await
            };
            let what = self.what.clone();
            client
                .call(|| what, call)
                .await
                .map_err(|error| match error {
                    // The operation says whose action it is (the spec's `x-party`).
                    ClientError::Forbidden {
                        what,
                        username,
                        message,
                        party: None,
                    } => ClientError::Forbidden {
                        what,
                        username,
                        message,
                        party: operation.party,
                    },
                    other => other,
                })
                .map_err(|error| not_resent(error, self.resend, self.advice, false))
        })
    }
}

/// The request of `operation` to `url` with `encoded` as its body.
fn build_request(
    http: &reqwest::Client,
    operation: &Operation,
    url: &str,
    api_version: &'static str,
    encoded: EncodedMessage,
) -> reqwest::Result<reqwest::Request> {
    let method = reqwest::Method::from_bytes(operation.method.as_str().as_bytes())
        .unwrap_or(reqwest::Method::POST);
    http.request(method, url)
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .header(CONTENT_TYPE, HeaderValue::from_static(encoded.content_type))
        .header("api-version", HeaderValue::from_static(api_version))
        .body(encoded.body)
        .build()
}

/// A success answer's JSON body as `R` (a blank body as `{}`), an error
/// answer as the generated clients read it.
pub(super) async fn decode<R: DeserializeOwned>(
    response: reqwest::Response,
) -> Result<ResponseValue<R>, progenitor_client::Error<ErrorResponse>> {
    decode_with(response, |body| {
        serde_json::from_slice(json_or_empty_object(body))
    })
    .await
}

/// `body`, or `{}` for a blank one.
fn json_or_empty_object(body: &[u8]) -> &[u8] {
    if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    }
}

/// A success answer's body read by `read`, an error answer as the
/// generated clients read it.
async fn decode_with<R>(
    response: reqwest::Response,
    read: impl FnOnce(&[u8]) -> Result<R, serde_json::Error>,
) -> Result<ResponseValue<R>, progenitor_client::Error<ErrorResponse>> {
    use progenitor_client::Error;
    let status = response.status();
    if !status.is_success() {
        return Err(Error::ErrorResponse(
            ResponseValue::from_response(response).await?,
        ));
    }
    let headers = response.headers().clone();
    let full = response.bytes().await.map_err(Error::ResponseBodyError)?;
    let inner = read(&full).map_err(|e| Error::InvalidResponsePayload(Bytes::clone(&full), e))?;
    Ok(ResponseValue::new(inner, status, headers))
}

/// The error of a call that is not sent again
/// ([`Resend::IfNotReceived`]) when it may have reached Tradecloud;
/// `safe_to_send_again` when the caller may send it again all the same
/// (an upload), which makes the error transient.
pub(super) fn not_resent(
    error: ClientError,
    resend: Resend,
    advice: &'static str,
    safe_to_send_again: bool,
) -> ClientError {
    if resend != Resend::IfNotReceived {
        return error;
    }
    match error {
        ClientError::Unavailable {
            what,
            status,
            message,
            ..
        } => {
            let reason = match message {
                Some(m) if !m.trim().is_empty() => {
                    format!("Tradecloud answered {status} ({})", m.trim())
                }
                _ => format!("Tradecloud answered {status}"),
            };
            ClientError::NotResent {
                safe_to_send_again,
                what,
                reason,
                status: Some(status),
                advice,
            }
        }
        ClientError::Timeout { what, source, .. } => ClientError::NotResent {
            safe_to_send_again,
            what,
            reason: format!("no answer in time ({})", describe(&source)),
            status: None,
            advice,
        },
        ClientError::Http { what, source, .. } => ClientError::NotResent {
            safe_to_send_again,
            what,
            reason: format!("the request broke off ({})", describe(&source)),
            status: None,
            advice,
        },
        other => other,
    }
}

/// `template` with its `{name}` parameters replaced by the percent-encoded
/// values of `params`; an error names a parameter left without a value.
fn fill_path(template: &str, params: &[(&str, &str)]) -> Result<String, String> {
    let mut path = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("the path {template} has an unclosed parameter"));
        };
        let name = &rest[open + 1..open + close];
        let Some((_, value)) = params.iter().find(|(n, _)| *n == name) else {
            return Err(format!(
                "no value for the path parameter `{name}` of {template}"
            ));
        };
        if value.trim().is_empty() {
            return Err(format!("the path parameter `{name}` is empty"));
        }
        path.push_str(&progenitor_client::encode_path(value));
        rest = &rest[open + close + 1..];
    }
    path.push_str(rest);
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_filled_from_the_table_templates() {
        assert_eq!(
            fill_path(
                "/order/{orderId}/line/{position}/reschedule/approve",
                &[("orderId", "a/b c"), ("position", "0001")]
            ),
            Ok("/order/a%2Fb%20c/line/0001/reschedule/approve".to_owned())
        );
        assert_eq!(
            fill_path("/api-connector/order", &[]),
            Ok("/api-connector/order".to_owned())
        );
        assert!(fill_path("/order/{orderId}", &[])
            .unwrap_err()
            .contains("`orderId`"));
        assert!(fill_path("/order/{orderId}", &[("orderId", " ")])
            .unwrap_err()
            .contains("empty"));
    }
}
