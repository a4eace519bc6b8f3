//! What the specs say about each operation, as data: method, path
//! template, security schemes, media types and the limits the spec states.
//!
//! The generator emits one table per spec, `tradecloud::api::<spec>::OPERATIONS`,
//! and one constant per operation in `tradecloud::api::<spec>::operations`
//! (named after the operation id: `pollOrdersRoute` is
//! `order_search::operations::POLL_ORDERS_ROUTE`). The runtime reads these
//! tables instead of keeping lists of its own: the client decides from
//! [`Operation::security`] whether a call sends Basic credentials, a Bearer
//! token or nothing, and names the call's span after [`Operation::path`];
//! the mock authenticates and counts requests by them; the polling helpers'
//! page size is the `limit` maximum of the poll operations
//! ([`Operation::integer_maximum`]). Adding an operation to a spec adds it
//! here, with nothing to edit by hand.
//!
//! ```
//! use tradecloud::api::{authentication, order, order_search};
//! use tradecloud::operation::{self, AuthScheme, Location, MediaKind, Method};
//!
//! let poll = &order_search::operations::POLL_ORDERS_ROUTE;
//! assert_eq!((poll.method, poll.path), (Method::Post, "/order-search/poll"));
//! // security/authentication.md: the poll takes a token or Basic credentials ...
//! assert!(poll.accepts(AuthScheme::Bearer) && poll.accepts(AuthScheme::Basic));
//! // ... an order only a token; login only Basic; refresh no Authorization at all.
//! assert!(!order::operations::GET_ORDER_BY_ID_ROUTE.accepts(AuthScheme::Basic));
//! assert!(!authentication::operations::LOGIN.accepts(AuthScheme::Bearer));
//! assert!(!authentication::operations::REFRESH.needs_authentication());
//! // The request is JSON; `limit` is at most 100.
//! assert!(poll.accepts_request(MediaKind::Json));
//! assert_eq!(poll.integer_maximum(Location::Body, "/limit"), Some(100));
//!
//! // Look an operation up by its id.
//! let found = operation::find(order_search::OPERATIONS, "pollOrdersRoute");
//! assert_eq!(found.map(|o| o.client_method), Some("poll_orders"));
//! assert_eq!(poll.to_string(), "POST /order-search/poll (pollOrdersRoute)");
//! ```

use std::fmt;

use crate::types::Party;

/// One operation of a spec, as the generator read it. Built only by
/// generated code (`tradecloud::api::<spec>::operations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The `operationId` (`pollOrdersRoute`).
    pub id: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The path template relative to the spec's server URL
    /// (`/order/{orderId}`).
    pub path: &'static str,
    /// The method of the spec's generated client (`poll_orders`), which is
    /// also what the client reports as the operation of a request.
    pub client_method: &'static str,
    /// The method of the spec's generated server trait (`poll_orders_route`).
    pub server_method: &'static str,
    /// Whether the spec marks the operation deprecated.
    pub deprecated: bool,
    /// The ways a request may authenticate (OpenAPI's `security`, the
    /// operation's own or else the spec's): one alternative is enough; an
    /// alternative lists the schemes it needs together. No alternative at
    /// all, or an empty one, means no authentication is needed.
    pub security: &'static [&'static [AuthScheme]],
    /// The request body, if the operation takes one.
    pub request: Option<RequestBody>,
    /// The documented responses, ordered by status.
    pub responses: &'static [Response],
    /// The limits the spec states on the request: `minimum`, `maximum`,
    /// lengths, item counts and patterns of the body members and parameters.
    pub limits: &'static [Limit],
    /// The company that alone takes the operation (the spec's `x-party`),
    /// `None` when either may (reads, uploads, the delivery schedule's
    /// logistics). security/authorization.md: a buyer company executes the
    /// "ByBuyer" actions, a supplier company the "BySupplier" ones; the
    /// other company's user is refused.
    pub party: Option<Party>,
}

impl Operation {
    /// Whether `scheme` alone authenticates a request (one alternative of
    /// [`security`](Self::security) is exactly this scheme).
    pub fn accepts(&self, scheme: AuthScheme) -> bool {
        self.security
            .iter()
            .any(|alternative| matches!(alternative, [only] if *only == scheme))
    }

    /// Whether a request needs credentials: the operation lists security
    /// alternatives and none of them is empty.
    pub fn needs_authentication(&self) -> bool {
        !self.security.is_empty() && self.security.iter().all(|a| !a.is_empty())
    }

    /// Whether the request body may be sent as a media type of this kind.
    pub fn accepts_request(&self, kind: MediaKind) -> bool {
        self.request
            .is_some_and(|r| r.media_types.iter().any(|m| m.kind == kind))
    }

    /// The rules the spec states for one request member: a body member by
    /// its JSON pointer (`/limit`; `*` stands for every item of an array,
    /// `/lines/*/deliverySchedule`; `""` is the body itself) or a parameter
    /// by its name.
    pub fn rules(&self, location: Location, path: &str) -> impl Iterator<Item = &'static Rule> {
        let limits: &'static [Limit] = self.limits;
        let path = path.to_owned();
        limits
            .iter()
            .filter(move |l| l.location == location && l.path == path)
            .map(|l| &l.rule)
    }

    /// The largest integer the spec allows for a member (see
    /// [`rules`](Self::rules) for `path`): its integer `maximum`, less one
    /// when exclusive. `None` when the spec states no integer maximum.
    /// Usable in constants.
    pub const fn integer_maximum(&self, location: Location, path: &str) -> Option<i128> {
        let mut i = 0;
        let mut found: Option<i128> = None;
        while i < self.limits.len() {
            let limit = &self.limits[i];
            i += 1;
            if !location.const_eq(limit.location) || !str_eq(limit.path, path) {
                continue;
            }
            if let Rule::Maximum {
                value: Bound::Integer(max),
                exclusive,
            } = limit.rule
            {
                let max = if exclusive { max - 1 } else { max };
                found = match found {
                    Some(other) if other < max => Some(other),
                    _ => Some(max),
                };
            }
        }
        found
    }
}

impl Operation {
    /// The numeric bounds the spec states for the request body (`minimum`
    /// and `maximum` of [`limits`](Self::limits)) that `body` breaks, with
    /// the JSON path of each member (`lines[2].quantity`).
    ///
    /// These are the rules [`Validate`](crate::types::Validate) leaves out
    /// (it checks patterns, text lengths and item counts, in the types);
    /// together they are every rule the operation table states for a body. The client
    /// checks both before it sends a message, the mock before it accepts
    /// one.
    ///
    /// ```
    /// use tradecloud::api::order::operations::REASSIGN_BUYER_CONTACT;
    ///
    /// let body = serde_json::json!({"userId": "8b1e7f7c", "version": -1});
    /// let broken = REASSIGN_BUYER_CONTACT.check_bounds(&body);
    /// assert_eq!(broken.len(), 1);
    /// assert_eq!(broken[0].to_string(), "`version` must be at least 0 (it is -1)");
    /// ```
    pub fn check_bounds(&self, body: &serde_json::Value) -> Vec<crate::types::Violation> {
        let mut out = Vec::new();
        for limit in self.limits.iter().filter(|l| l.location == Location::Body) {
            if !matches!(limit.rule, Rule::Minimum { .. } | Rule::Maximum { .. }) {
                continue;
            }
            let steps: Vec<&str> = limit.path.split('/').skip(1).collect();
            visit(body, &steps, String::new(), &mut |value, path| {
                if let Some(rule) = broken(&limit.rule, value) {
                    out.push(crate::types::Violation {
                        path: if path.is_empty() { "$".into() } else { path },
                        rule,
                    });
                }
            });
        }
        out
    }
}

/// Calls `found` with every value at `steps` (JSON pointer segments, `*`
/// for every item of an array) below `value`, and its JSON path.
fn visit(
    value: &serde_json::Value,
    steps: &[&str],
    path: String,
    found: &mut dyn FnMut(&serde_json::Value, String),
) {
    let Some((step, rest)) = steps.split_first() else {
        found(value, path);
        return;
    };
    match (*step, value) {
        ("*", serde_json::Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                visit(item, rest, format!("{path}[{index}]"), found);
            }
        }
        (name, serde_json::Value::Object(members)) => {
            // JSON pointer escapes (RFC 6901).
            let name = name.replace("~1", "/").replace("~0", "~");
            if let Some(member) = members.get(&name) {
                let path = if path.is_empty() {
                    name
                } else {
                    format!("{path}.{name}")
                };
                visit(member, rest, path, found);
            }
        }
        _ => {}
    }
}

/// The broken `rule` of `value`, if it breaks it (a value of another type
/// breaks none: the types check types).
fn broken(rule: &Rule, value: &serde_json::Value) -> Option<crate::types::Rule> {
    use crate::types::{Decimal, Rule as Broken};
    let number = || {
        let serde_json::Value::Number(n) = value else {
            return None;
        };
        let text = n.to_string();
        text.parse::<Decimal>().ok().map(|d| (d, text))
    };
    let bound_of = |bound: &Bound| bound.to_string().parse::<Decimal>().ok();
    match rule {
        Rule::Minimum {
            value: bound,
            exclusive,
        } => {
            let (n, text) = number()?;
            let limit = bound_of(bound)?;
            let ok = if *exclusive { n > limit } else { n >= limit };
            (!ok).then(|| Broken::Minimum {
                bound: bound.to_string(),
                exclusive: *exclusive,
                value: text,
            })
        }
        Rule::Maximum {
            value: bound,
            exclusive,
        } => {
            let (n, text) = number()?;
            let limit = bound_of(bound)?;
            let ok = if *exclusive { n < limit } else { n <= limit };
            (!ok).then(|| Broken::Maximum {
                bound: bound.to_string(),
                exclusive: *exclusive,
                value: text,
            })
        }
        _ => None,
    }
}

impl fmt::Display for Operation {
    /// `POST /order-search/poll (pollOrdersRoute)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.id)
    }
}

/// The operation of `operations` with this `operationId`.
pub fn find(operations: &'static [Operation], id: &str) -> Option<&'static Operation> {
    operations.iter().find(|o| o.id == id)
}

/// `a == b`, in a constant.
const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `PUT`
    Put,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
    /// `HEAD`
    Head,
    /// `PATCH`
    Patch,
    /// `TRACE`
    Trace,
}

impl Method {
    /// The method as sent on the wire (`GET`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Head => "HEAD",
            Method::Patch => "PATCH",
            Method::Trace => "TRACE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A security scheme an operation accepts (OpenAPI's
/// `components/securitySchemes`, by what it is, not by its name in the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthScheme {
    /// `Authorization: Basic <base64(user:password)>` (`type: http, scheme: basic`).
    Basic,
    /// `Authorization: Bearer <token>` (`type: http, scheme: bearer`).
    Bearer,
    /// An API key (`type: apiKey`).
    ApiKey {
        /// The header, query parameter or cookie that carries it.
        name: &'static str,
        /// Where it goes.
        location: ApiKeyLocation,
    },
    /// OAuth 2.0 (`type: oauth2`): a Bearer token from one of the spec's flows.
    OAuth2,
    /// OpenID Connect (`type: openIdConnect`).
    OpenIdConnect,
    /// Another HTTP authentication scheme, as the spec names it (`digest`).
    OtherHttp(&'static str),
}

/// Where an API key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKeyLocation {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
    /// A cookie.
    Cookie,
}

/// The request body of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestBody {
    /// Whether the body is required.
    pub required: bool,
    /// The media types it may be sent as, in spec order.
    pub media_types: &'static [MediaType],
}

/// One documented response of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// Its status.
    pub status: Status,
    /// The media types of its body, in spec order (empty: no body).
    pub media_types: &'static [MediaType],
}

/// The status of a documented response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// One status code.
    Code(u16),
    /// A range such as `4XX`, by its hundreds digit (`4`).
    Range(u16),
    /// `default`: any status not documented otherwise.
    Default,
}

/// A media type as written in the spec, with what kind it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaType {
    /// As written (`application/json`, `multipart/form-data`).
    pub name: &'static str,
    /// What kind of body it is.
    pub kind: MediaKind,
}

/// What kind of body a media type stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MediaKind {
    /// `application/json` or any `+json` type (`application/problem+json`).
    Json,
    /// `application/xml`, `text/xml` or any `+xml` type (tXML).
    Xml,
    /// `multipart/*` (`multipart/form-data`, for uploads).
    Multipart,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// Other `text/*` types.
    Text,
    /// Anything else: bytes (`application/octet-stream`, `application/pdf`).
    Other,
}

/// One rule the spec states for a request member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Where the member is.
    pub location: Location,
    /// Which member: a JSON pointer into the body (`*` for every item of an
    /// array), or the parameter's name.
    pub path: &'static str,
    /// The rule.
    pub rule: Rule,
}

/// Where a request member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// The request body.
    Body,
    /// A path parameter.
    Path,
    /// A query parameter.
    Query,
    /// A header.
    Header,
}

impl Location {
    const fn const_eq(self, other: Location) -> bool {
        self as u8 == other as u8
    }
}

/// A rule of JSON Schema that the spec states for a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// `minimum` (`exclusiveMinimum`: the value must be larger).
    Minimum {
        /// The bound.
        value: Bound,
        /// Whether the bound itself is excluded.
        exclusive: bool,
    },
    /// `maximum` (`exclusiveMaximum`: the value must be smaller).
    Maximum {
        /// The bound.
        value: Bound,
        /// Whether the bound itself is excluded.
        exclusive: bool,
    },
    /// `minLength`: at least this many characters.
    MinLength(u64),
    /// `maxLength`: at most this many characters.
    MaxLength(u64),
    /// `pattern`: an ECMAScript regular expression the text must match
    /// (anywhere, unless anchored).
    Pattern(&'static str),
    /// `minItems`: at least this many items.
    MinItems(u64),
    /// `maxItems`: at most this many items.
    MaxItems(u64),
}

/// A numeric bound as the spec writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// An integer.
    Integer(i128),
    /// A number with a fraction, as written (`0.5`).
    Decimal(&'static str),
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Integer(n) => write!(f, "{n}"),
            Bound::Decimal(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMES: &[&[AuthScheme]] = &[&[AuthScheme::Bearer], &[AuthScheme::Basic]];

    fn op(security: &'static [&'static [AuthScheme]], limits: &'static [Limit]) -> Operation {
        Operation {
            id: "x",
            method: Method::Post,
            path: "/x",
            client_method: "x",
            server_method: "x",
            deprecated: false,
            security,
            request: None,
            responses: &[],
            limits,
            party: None,
        }
    }

    #[test]
    fn security_alternatives() {
        let both = op(SCHEMES, &[]);
        assert!(both.accepts(AuthScheme::Basic) && both.accepts(AuthScheme::Bearer));
        assert!(both.needs_authentication());
        // Two schemes needed together: neither alone is enough.
        let together = op(&[&[AuthScheme::Bearer, AuthScheme::Basic]], &[]);
        assert!(!together.accepts(AuthScheme::Basic));
        assert!(together.needs_authentication());
        // Anonymous as one alternative, or no security at all.
        assert!(!op(&[&[AuthScheme::Bearer], &[]], &[]).needs_authentication());
        assert!(!op(&[], &[]).needs_authentication());
    }

    #[test]
    fn bounds_and_lengths_are_checked_with_their_json_path() {
        const LIMITS: &[Limit] = &[
            Limit {
                location: Location::Body,
                path: "/lines/*/quantity",
                rule: Rule::Minimum {
                    value: Bound::Decimal("0.5"),
                    exclusive: true,
                },
            },
            Limit {
                location: Location::Body,
                path: "/version",
                rule: Rule::Maximum {
                    value: Bound::Integer(10),
                    exclusive: false,
                },
            },
            // Patterns, text lengths and item counts are `Validate`'s.
            Limit {
                location: Location::Body,
                path: "/order/code",
                rule: Rule::MinLength(2),
            },
            Limit {
                location: Location::Body,
                path: "/order/code",
                rule: Rule::MaxLength(3),
            },
            Limit {
                location: Location::Body,
                path: "/lines",
                rule: Rule::MaxItems(1),
            },
        ];
        let op = op(&[], LIMITS);
        let body = serde_json::json!({
            "lines": [{"quantity": 0.6}, {"quantity": 0.5}, {"quantity": "x"}, {}],
            "version": 12345678901234567890123456789_u128.to_string().parse::<serde_json::Number>().unwrap(),
            "order": {"code": "é"}
        });
        let broken: Vec<String> = op
            .check_bounds(&body)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            broken,
            [
                "`lines[1].quantity` must be larger than 0.5 (it is 0.5)",
                "`version` must be at most 10 (it is 12345678901234567890123456789)",
            ]
        );
        let fine = serde_json::json!({"lines": [{"quantity": 1}], "version": 10, "order": {"code": "abc"}});
        assert!(op.check_bounds(&fine).is_empty());
    }

    #[test]
    fn integer_maximum_takes_the_smallest_and_excludes() {
        const LIMITS: &[Limit] = &[
            Limit {
                location: Location::Body,
                path: "/limit",
                rule: Rule::Maximum {
                    value: Bound::Integer(100),
                    exclusive: false,
                },
            },
            Limit {
                location: Location::Body,
                path: "/limit",
                rule: Rule::Maximum {
                    value: Bound::Integer(50),
                    exclusive: true,
                },
            },
            Limit {
                location: Location::Query,
                path: "/limit",
                rule: Rule::Maximum {
                    value: Bound::Integer(7),
                    exclusive: false,
                },
            },
        ];
        const OP: Operation = Operation {
            id: "x",
            method: Method::Get,
            path: "/x",
            client_method: "x",
            server_method: "x",
            deprecated: false,
            security: &[],
            request: None,
            responses: &[],
            limits: LIMITS,
            party: None,
        };
        const MAX: Option<i128> = OP.integer_maximum(Location::Body, "/limit");
        assert_eq!(MAX, Some(49));
        assert_eq!(OP.integer_maximum(Location::Body, "/offset"), None);
        assert_eq!(OP.rules(Location::Query, "/limit").count(), 1);
    }

    /// Every action of the order and api-connector specs names the company
    /// that takes it (`x-party`), except the delivery schedule's logistics,
    /// which either updates: an action added to a spec without one fails
    /// here. Where the id names a side (`...ByBuyer`, `...AsBuyer`,
    /// `buyer...`, `...BySupplier`), it agrees.
    #[test]
    fn every_order_action_names_its_party() {
        use crate::api::{api_connector, object_storage, order};
        let either = [order::operations::UPDATE_ORDER_LINE_DELIVERY_SCHEDULE.id];
        let actions = order::OPERATIONS
            .iter()
            .chain(api_connector::OPERATIONS)
            .filter(|op| op.method != Method::Get && !either.contains(&op.id));
        let mut count = 0;
        for op in actions {
            count += 1;
            assert!(op.party.is_some(), "{op}: whose action is it? (x-party)");
            let id = op.id.to_ascii_lowercase();
            if id.contains("supplier") {
                assert_eq!(op.party, Some(Party::Supplier), "{op}");
            } else if id.contains("buyer") {
                assert_eq!(op.party, Some(Party::Buyer), "{op}");
            }
        }
        assert_eq!(count, 20);
        for either in [
            &order::operations::UPDATE_ORDER_LINE_DELIVERY_SCHEDULE,
            &order::operations::GET_ORDER_BY_ID_ROUTE,
            &object_storage::operations::UPLOAD_DOCUMENT,
        ] {
            assert_eq!(either.party, None, "{either}");
        }
    }
}
