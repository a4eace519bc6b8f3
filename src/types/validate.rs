//! [`Validate`]: the documented rules a message must follow beyond its
//! types, checked before a request is sent or after it is received.
//!
//! The specs state those rules as JSON Schema constraints, and the generator
//! turns them into an implementation of [`Validate`] for every request body
//! and every type that holds such a rule: a `pattern` (no whitespace in a
//! purchase order or shipment number; the message says what the value
//! must be where the spec describes the pattern in words, as for a
//! currency code), `minLength` (a despatch advice number is not empty),
//! `minItems` (an order response has at least one line) and `maxItems`
//! (500 lines per order, 100 documents per order header and per line,
//! ...). Rules for requests on the types webhook bodies share
//! are `x-request-rules` in the specs (no whitespace in an `item.number`, a
//! `netWeightUnitOfMeasureIso` with every `netWeight`, a price in the
//! transaction currency, each `despatchAdviceLinePosition` once within the
//! despatch advice's lines, the documented form of a date or an ERP time:
//! `YYYY-MM-DD`, local `YYYY-MM-DDThh:mm:ss`): they are checked in what is
//! sent and never in what is received (see [`Validate`]). Text is read as
//! the tXML reader reads it ([`trim_text`]): a blank text is not given, and
//! lengths count the text without the whitespace around it. The types themselves stay lenient (a
//! value that breaks a rule still decodes, so that it can be reported with
//! its place), and [`Validate::validate`] lists every broken rule with the
//! JSON path of the member:
//!
//! ```
//! use tradecloud::api::api_connector::types::{OrderByBuyer, SendOrderByBuyer};
//! use tradecloud::types::Validate;
//!
//! let order = SendOrderByBuyer::builder()
//!     .order(
//!         OrderByBuyer::builder()
//!             .supplier_account_number("540830")
//!             .purchase_order_number("PO 123"),
//!     )
//!     .build();
//! let problems = order.validate().unwrap_err();
//! assert_eq!(problems.len(), 1);
//! assert_eq!(problems.iter().next().unwrap().path, "order.purchaseOrderNumber");
//! assert_eq!(
//!     problems.to_string(),
//!     r#"`order.purchaseOrderNumber` must be a non-empty identifier without whitespace (it is "PO 123")"#
//! );
//! ```
//!
//! A rule for requests on a shared type, in a request and on its own:
//!
//! ```
//! use tradecloud::api::api_connector::types::{OrderLineByBuyer, SendOrderByBuyer};
//! use tradecloud::api::common::types::ItemDetails;
//! use tradecloud::types::Validate;
//!
//! let details = ItemDetails::builder().net_weight(41).build();
//! let order: SendOrderByBuyer = serde_json::from_value(serde_json::json!({
//!     "order": {"supplierAccountNumber": "540830", "purchaseOrderNumber": "PO123"},
//!     "lines": [{"position": "0001", "itemDetails": &details}]
//! }))?;
//! assert_eq!(
//!     order.validate().unwrap_err().to_string(),
//!     "`lines[0].itemDetails.netWeightUnitOfMeasureIso` is required when `netWeight` is given: \
//!      add it or leave out `netWeight`"
//! );
//! // Received (in a webhook body), the same item details are fine.
//! assert!(details.validate().is_ok());
//! assert!(details.validate_sent().is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use super::ShownInput;

/// A message whose documented rules can be checked. Implemented by the
/// generated request types (and every generated type that holds a rule).
///
/// Some rules apply only to what is sent to Tradecloud: the specs state
/// them as `x-request-rules` on types that webhook bodies share (an
/// `item.number` without whitespace, a `netWeightUnitOfMeasureIso` with
/// every `netWeight`, a price in the transaction currency). A receiver
/// never refuses an event for them, so [`check`](Validate::check) of a type
/// Tradecloud sends leaves them out and [`check_sent`](Validate::check_sent)
/// adds them; a request body (only ever sent) checks them all in `check`.
pub trait Validate {
    /// Every documented rule this value breaks, or `Ok(())`.
    fn validate(&self) -> Result<(), Violations> {
        collect(|at, out| self.check(at, out))
    }

    /// Every documented rule this value breaks as part of a message sent
    /// to Tradecloud (the request rules too), or `Ok(())`. The same as
    /// [`validate`](Validate::validate) for a request body.
    fn validate_sent(&self) -> Result<(), Violations> {
        collect(|at, out| self.check_sent(at, out))
    }

    /// Adds the broken rules of this value, which sits at `at` in the
    /// message, to `out`. [`validate`](Validate::validate) calls it with the
    /// root path; generated implementations call it for their members.
    fn check(&self, at: &JsonPath<'_>, out: &mut Vec<Violation>);

    /// Like [`check`](Validate::check), with the rules that apply only
    /// when the value is part of a message sent to Tradecloud
    /// (`x-request-rules`). Generated request bodies call it for their
    /// members. The default is `check`: a type only ever sent checks them
    /// there.
    fn check_sent(&self, at: &JsonPath<'_>, out: &mut Vec<Violation>) {
        self.check(at, out);
    }
}

/// The violations `check` finds from the root.
fn collect(check: impl FnOnce(&JsonPath<'_>, &mut Vec<Violation>)) -> Result<(), Violations> {
    let mut found = Vec::new();
    check(&JsonPath::root(), &mut found);
    match Violations::from_vec(found) {
        Some(violations) => Err(violations),
        None => Ok(()),
    }
}

/// The place of a member in a message, written as `order.lines[3].documents`
/// (the wire names, a list index in brackets; the root is `$`). Built
/// without allocating while a message is checked.
#[derive(Debug, Clone, Copy)]
pub struct JsonPath<'a> {
    step: Step<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Root,
    Field(&'a JsonPath<'a>, &'static str),
    Index(&'a JsonPath<'a>, usize),
}

impl<'a> JsonPath<'a> {
    /// The message itself.
    pub fn root() -> JsonPath<'static> {
        JsonPath { step: Step::Root }
    }

    /// The member `name` of the object at this path.
    pub fn field(&'a self, name: &'static str) -> JsonPath<'a> {
        JsonPath {
            step: Step::Field(self, name),
        }
    }

    /// The item `index` of the list at this path.
    pub fn index(&'a self, index: usize) -> JsonPath<'a> {
        JsonPath {
            step: Step::Index(self, index),
        }
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Step::Root => Ok(()),
            Step::Field(parent, name) => {
                if matches!(parent.step, Step::Root) {
                    f.write_str(name)
                } else {
                    parent.write(f)?;
                    write!(f, ".{name}")
                }
            }
            Step::Index(parent, index) => {
                parent.write(f)?;
                write!(f, "[{index}]")
            }
        }
    }
}

impl fmt::Display for JsonPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if matches!(self.step, Step::Root) {
            f.write_str("$")
        } else {
            self.write(f)
        }
    }
}

/// A documented rule that a message breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where: the JSON path of the member (`order.purchaseOrderNumber`,
    /// `lines[2].documents`).
    pub path: String,
    /// Which rule.
    pub rule: Rule,
}

/// The rules [`Validate`] checks, as the specs state them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// The text must match this ECMA-262 regular expression (`^[A-Z]{3}$`:
    /// three capital letters).
    Pattern {
        /// The spec's `pattern`.
        pattern: &'static str,
        /// What a matching text is, in words (the spec's
        /// `x-pattern-description`, such as "a 3-letter ISO 4217 currency
        /// code in capitals, e.g. EUR"): the message says it instead of the
        /// pattern.
        description: Option<&'static str>,
        /// The text given.
        value: String,
    },
    /// The list needs at least `min` items.
    MinItems {
        /// The spec's `minItems`.
        min: u64,
        /// How many it has.
        found: usize,
    },
    /// The list holds at most `max` items.
    MaxItems {
        /// The spec's `maxItems`.
        max: u64,
        /// How many it has.
        found: usize,
    },
    /// The number must be at least `bound` (larger, when `exclusive`).
    /// Checked from the operation tables
    /// ([`Operation::check_bounds`](crate::operation::Operation::check_bounds)).
    Minimum {
        /// The spec's `minimum`, as written.
        bound: String,
        /// `exclusiveMinimum`.
        exclusive: bool,
        /// The number given, as written.
        value: String,
    },
    /// The number must be at most `bound` (smaller, when `exclusive`).
    Maximum {
        /// The spec's `maximum`, as written.
        bound: String,
        /// `exclusiveMaximum`.
        exclusive: bool,
        /// The number given, as written.
        value: String,
    },
    /// The text needs at least `min` characters, counted without the
    /// whitespace around it ([`trim_text`], as tXML reads it).
    MinLength {
        /// The spec's `minLength`.
        min: u64,
        /// How many it has.
        found: usize,
    },
    /// The text holds at most `max` characters, counted as for
    /// [`Rule::MinLength`].
    MaxLength {
        /// The spec's `maxLength`.
        max: u64,
        /// How many it has.
        found: usize,
    },
    /// The member must be given (present, not an empty list, and not a
    /// blank text: empty or only whitespace, which tXML reads as empty) in
    /// a message sent to Tradecloud, although the type leaves it optional
    /// (`x-request-rules` `required`).
    Required,
    /// The member must be given (as for [`Rule::Required`]) when the member
    /// `with` of the same object is (`x-request-rules` `dependentRequired`).
    RequiredWith {
        /// The wire name of the member that needs it.
        with: &'static str,
    },
    /// The items of the list must each have their own `member`
    /// (`x-request-rules` `uniqueBy`): the item `index` repeats the one of
    /// the item `first`. Values are compared as [`trim_text`] leaves them (the
    /// tXML reader trims an element's text, so `" 10"` and `"10"` are one
    /// position there); a blank or absent one is nobody's repeat (the
    /// `required` rules are about those).
    Unique {
        /// The wire name of the items' member that must be unique.
        member: &'static str,
        /// The repeated value, trimmed.
        value: String,
        /// The index of the item that has it first.
        first: usize,
        /// The index of the item that repeats it.
        index: usize,
    },
    /// The text holds a character that XML 1.0 cannot carry (a C0 control
    /// other than tab, line feed and carriage return: NUL, ESC, vertical
    /// tab, ...; or U+FFFE, U+FFFF): [`control_characters`], checked in
    /// every text of a message sent to Tradecloud.
    ControlCharacter {
        /// The first such character.
        character: char,
        /// The text given.
        value: String,
    },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Pattern {
                description: Some(description),
                value,
                ..
            } => write!(f, "must be {description} (it is {})", ShownInput(value)),
            Rule::Pattern {
                pattern,
                description: None,
                value,
            } => write!(
                f,
                "must match the pattern `{pattern}` (it is {})",
                ShownInput(value)
            ),
            Rule::MinItems { min, found } => {
                write!(
                    f,
                    "needs at least {min} {} (it has {found})",
                    items_word(*min)
                )
            }
            Rule::MaxItems { max, found } => {
                write!(
                    f,
                    "holds at most {max} {} (it has {found})",
                    items_word(*max)
                )
            }
            Rule::Minimum {
                bound,
                exclusive,
                value,
            } => {
                let relation = if *exclusive {
                    "larger than"
                } else {
                    "at least"
                };
                write!(f, "must be {relation} {bound} (it is {value})")
            }
            Rule::Maximum {
                bound,
                exclusive,
                value,
            } => {
                let relation = if *exclusive {
                    "smaller than"
                } else {
                    "at most"
                };
                write!(f, "must be {relation} {bound} (it is {value})")
            }
            Rule::MinLength { min, found } => write!(
                f,
                "needs at least {min} {} (it has {found})",
                characters_word(*min)
            ),
            Rule::MaxLength { max, found } => write!(
                f,
                "holds at most {max} {} (it has {found})",
                characters_word(*max)
            ),
            Rule::Required => f.write_str("is required when sending to Tradecloud: add it"),
            Rule::RequiredWith { with } => {
                write!(
                    f,
                    "is required when `{with}` is given: add it or leave out `{with}`"
                )
            }
            Rule::Unique {
                member,
                value,
                first,
                index,
            } => write!(
                f,
                "holds `{member}` {} more than once (items [{first}] and [{index}]); it must be \
                 unique within the list: give each item its own `{member}`",
                ShownInput(value)
            ),
            Rule::ControlCharacter { character, value } => write!(
                f,
                "holds the control character U+{:04X} (it is {}); remove it: a text sent to \
                 Tradecloud must be one its tXML (XML 1.0) can carry, which has no control \
                 characters but tab, line feed and carriage return",
                u32::from(*character),
                ShownInput(value)
            ),
        }
    }
}

fn characters_word(count: u64) -> &'static str {
    if count == 1 {
        "character"
    } else {
        "characters"
    }
}

fn items_word(count: u64) -> &'static str {
    if count == 1 {
        "item"
    } else {
        "items"
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.path, self.rule)
    }
}

/// Every rule a message breaks (at least one), member by member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// The violations of `found`, or `None` when it is empty.
    pub fn from_vec(found: Vec<Violation>) -> Option<Violations> {
        (!found.is_empty()).then_some(Violations(found))
    }

    /// The broken rules.
    pub fn iter(&self) -> std::slice::Iter<'_, Violation> {
        self.0.iter()
    }

    /// How many rules are broken.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: a `Violations` holds at least one.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The broken rules, owned.
    pub fn into_vec(self) -> Vec<Violation> {
        self.0
    }
}

impl<'a> IntoIterator for &'a Violations {
    type Item = &'a Violation;
    type IntoIter = std::slice::Iter<'a, Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

/// Every text in `message` (a message to send, as JSON) that holds a
/// character XML 1.0 cannot carry ([`Rule::ControlCharacter`]), with its
/// JSON path; checked before a message is sent
/// ([`Message`](crate::client::Message) checks it with the documented
/// rules).
///
/// api/rules.md names whitespace as what an identifier (a
/// `purchaseOrderNumber`, a `forecastNumber`, a `position`) must not hold,
/// and the specs' identifier patterns refuse exactly that, so a NUL in an
/// order number passed them. But Tradecloud's tXML is "a 1-on-1
/// translation of the proprietary JSON format" (api/requests.md), and XML
/// 1.0 (section 2.2, `Char`) has no place for the C0 controls other than
/// tab, line feed and carriage return, nor for U+FFFE and U+FFFF: a text
/// holding one could not be sent as tXML, nor reach a partner who takes
/// tXML webhooks. So such a character is refused in every text, free
/// texts too. What XML does carry stays allowed, DEL and the C1 controls
/// included (a legacy ERP's mis-decoded Windows-1252 text holds them, and
/// nothing in Tradecloud's docs refuses it).
///
/// ```
/// use tradecloud::types::validate::control_characters;
///
/// let found = control_characters(&serde_json::json!({
///     "order": {"purchaseOrderNumber": "PO\u{0}1", "description": "two\nlines \u{96}"}
/// }));
/// assert_eq!(found.len(), 1);
/// assert_eq!(
///     found[0].to_string(),
///     "`order.purchaseOrderNumber` holds the control character U+0000 (it is \"PO\\01\"); \
///      remove it: a text sent to Tradecloud must be one its tXML (XML 1.0) can carry, which \
///      has no control characters but tab, line feed and carriage return"
/// );
/// ```
pub fn control_characters(message: &serde_json::Value) -> Vec<Violation> {
    fn visit(value: &serde_json::Value, path: &str, out: &mut Vec<Violation>) {
        match value {
            serde_json::Value::String(text) => {
                if let Some(character) = text.chars().find(|&c| not_in_xml(c)) {
                    out.push(Violation {
                        path: if path.is_empty() {
                            "$".into()
                        } else {
                            path.into()
                        },
                        rule: Rule::ControlCharacter {
                            character,
                            value: text.clone(),
                        },
                    });
                }
            }
            serde_json::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    visit(item, &format!("{path}[{index}]"), out);
                }
            }
            serde_json::Value::Object(members) => {
                for (name, member) in members {
                    let path = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    visit(member, &path, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    visit(message, "", &mut out);
    out
}

/// Whether XML 1.0 cannot carry `c` (its `Char` production: tab, line feed,
/// carriage return, U+0020–U+D7FF, U+E000–U+FFFD, U+10000 and up).
fn not_in_xml(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}'
    )
}

/// The text as Tradecloud's tXML reader keeps an element's text: without
/// the whitespace around it, whitespace being what `str::trim` removes
/// (Unicode `White_Space`: spaces, tabs, line breaks, the no-break space
/// U+00A0, the ideographic space U+3000, ...). Whitespace inside is kept.
///
/// The crate's one reading of text that rules count: a rule means the same
/// for the JSON and the tXML form of a message, so the rules read JSON text
/// this way too ([`is_blank`], and `minLength`/`maxLength` count the
/// characters of the trimmed text).
///
/// ```
/// use tradecloud::types::validate::trim_text;
///
/// assert_eq!(trim_text("\u{a0} PO 123\n"), "PO 123");
/// ```
pub fn trim_text(text: &str) -> &str {
    text.trim()
}

/// Whether a text is blank: empty once [trimmed](trim_text), so only
/// whitespace (a no-break space or another Unicode space too). A blank text
/// is "not given": tXML reads it as an empty element, the request rules
/// (`x-request-rules` `required`) and the webhook ids
/// ([`is_blank_id`](crate::webhook::is_blank_id)) read it the same way.
///
/// ```
/// use tradecloud::types::validate::is_blank;
///
/// assert!(is_blank(" \t\r\n"));
/// assert!(is_blank("\u{a0}\u{3000}"));
/// assert!(!is_blank(" x "));
/// ```
pub fn is_blank(text: &str) -> bool {
    trim_text(text).is_empty()
}

/// The compiled patterns, by their text (a handful per spec set).
///
/// A pattern is read as ECMA-262 reads it, as OpenAPI and JSON Schema say
/// and as every other tool that reads the specs does (schemathesis generates
/// its valid cases that way): `\s` counts U+FEFF and not U+0085, where
/// [`is_blank`] (Unicode `White_Space`) reads it the other way round.
/// Rewriting `\s` to match `is_blank` was tried and undone: the mock then
/// refused requests valid by the spec (schemathesis ST202). The specs
/// write no `\s` instead: an identifier's pattern lists the characters it
/// refuses, every Unicode `White_Space` one (U+0085 too) and U+FEFF, read
/// the same by this engine, by Python's and by `is_blank`
/// (`NO_WHITESPACE_PATTERNS` in scripts/check_specs.py, which refuses `\s`
/// in a spec).
fn compiled(pattern: &'static str) -> Option<regress::Regex> {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, Option<regress::Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache
        .entry(pattern)
        .or_insert_with(|| regress::Regex::new(pattern).ok())
        .clone()
}

/// Generated code: checks `value` against `pattern` (anchored as written;
/// JSON Schema's ECMA-262 semantics). A pattern that does not compile
/// (the generator refuses those) fails every value rather than none.
#[doc(hidden)]
pub fn pattern(value: &str, pattern: &'static str, at: &JsonPath<'_>, out: &mut Vec<Violation>) {
    check_pattern(value, pattern, None, at, out);
}

/// Generated code: [`pattern`], for a pattern the spec describes in words
/// (`x-pattern-description`), which the message gives.
#[doc(hidden)]
pub fn described_pattern(
    value: &str,
    pattern: &'static str,
    description: &'static str,
    at: &JsonPath<'_>,
    out: &mut Vec<Violation>,
) {
    check_pattern(value, pattern, Some(description), at, out);
}

fn check_pattern(
    value: &str,
    pattern: &'static str,
    description: Option<&'static str>,
    at: &JsonPath<'_>,
    out: &mut Vec<Violation>,
) {
    let matches = compiled(pattern).is_some_and(|rx| rx.find(value).is_some());
    if !matches {
        out.push(Violation {
            path: at.to_string(),
            rule: Rule::Pattern {
                pattern,
                description,
                value: value.to_string(),
            },
        });
    }
}

/// Generated code: checks the length of a list against `minItems` and
/// `maxItems`.
#[doc(hidden)]
pub fn items(
    found: usize,
    min: Option<u64>,
    max: Option<u64>,
    at: &JsonPath<'_>,
    out: &mut Vec<Violation>,
) {
    let count = u64::try_from(found).unwrap_or(u64::MAX);
    if let Some(min) = min.filter(|min| count < *min) {
        out.push(Violation {
            path: at.to_string(),
            rule: Rule::MinItems { min, found },
        });
    }
    if let Some(max) = max.filter(|max| count > *max) {
        out.push(Violation {
            path: at.to_string(),
            rule: Rule::MaxItems { max, found },
        });
    }
}

/// Generated code: checks the length of a text, in characters, against
/// `minLength` and `maxLength`. The text counted is the text
/// [trimmed](trim_text), as the tXML reader reads the same member: a reason
/// of `" "` is as empty in JSON as `<reason> </reason>` is in tXML, and a
/// padded value is no longer in one form than in the other.
#[doc(hidden)]
pub fn length(
    value: &str,
    min: Option<u64>,
    max: Option<u64>,
    at: &JsonPath<'_>,
    out: &mut Vec<Violation>,
) {
    let found = trim_text(value).chars().count();
    let count = u64::try_from(found).unwrap_or(u64::MAX);
    if let Some(min) = min.filter(|min| count < *min) {
        out.push(Violation {
            path: at.to_string(),
            rule: Rule::MinLength { min, found },
        });
    }
    if let Some(max) = max.filter(|max| count > *max) {
        out.push(Violation {
            path: at.to_string(),
            rule: Rule::MaxLength { max, found },
        });
    }
}

/// Generated code: a member that `x-request-rules` `required` names, given
/// or not.
#[doc(hidden)]
pub fn required(given: bool, at: &JsonPath<'_>, out: &mut Vec<Violation>) {
    if !given {
        out.push(Violation {
            path: at.to_string(),
            rule: Rule::Required,
        });
    }
}

/// Generated code: a member that `x-request-rules` `dependentRequired`
/// names for the member `with`, which is given.
#[doc(hidden)]
pub fn required_with(given: bool, with: &'static str, at: &JsonPath<'_>, out: &mut Vec<Violation>) {
    if !given {
        out.push(Violation {
            path: at.to_string(),
            rule: Rule::RequiredWith { with },
        });
    }
}

/// Generated code: the text of a list item's member that must be unique
/// (`x-request-rules` `uniqueBy`), trimmed, or `None` when it is absent or
/// blank.
#[doc(hidden)]
pub trait UniqueKey {
    /// The value to compare, trimmed; `None` for an absent or blank one.
    fn unique_key(&self) -> Option<&str>;
}

impl UniqueKey for String {
    fn unique_key(&self) -> Option<&str> {
        Some(trim_text(self)).filter(|key| !key.is_empty())
    }
}

impl<T: UniqueKey> UniqueKey for Option<T> {
    fn unique_key(&self) -> Option<&str> {
        self.as_ref().and_then(UniqueKey::unique_key)
    }
}

/// Generated code: the list at `at` holds each `member` (the items' keys,
/// in order, from [`UniqueKey`]) once; every repeat is reported with the
/// index of the item that has the value first.
#[doc(hidden)]
pub fn unique<'v>(
    keys: impl IntoIterator<Item = Option<&'v str>>,
    member: &'static str,
    at: &JsonPath<'_>,
    out: &mut Vec<Violation>,
) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (index, key) in keys.into_iter().enumerate() {
        let Some(key) = key else { continue };
        let seen = *first.entry(key).or_insert(index);
        if seen != index {
            out.push(Violation {
                path: at.to_string(),
                rule: Rule::Unique {
                    member,
                    value: key.to_string(),
                    first: seen,
                    index,
                },
            });
        }
    }
}

/// Generated code (`deserialize_with` of a list marked `x-keep-empty`):
/// reads a present member as `Some`, also when it is an empty list, and
/// refuses `null` as the list type does. An absent member stays `None`
/// through `#[serde(default)]`.
#[doc(hidden)]
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_written_with_wire_names_and_indexes() {
        let root = JsonPath::root();
        assert_eq!(root.to_string(), "$");
        let lines = root.field("lines");
        let third = lines.index(2);
        let docs = third.field("documents");
        assert_eq!(docs.to_string(), "lines[2].documents");
        assert_eq!(
            root.field("order").field("purchaseOrderNumber").to_string(),
            "order.purchaseOrderNumber"
        );
    }

    #[test]
    fn patterns_follow_ecma_semantics() {
        let mut out = Vec::new();
        let at = JsonPath::root();
        for ok in ["PO123", "PO-1/2_3", "ø60"] {
            pattern(ok, r"^\S+$", &at, &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
        // `$` matches at the very end only (Python's `re` would accept the
        // trailing newline); no-break space is whitespace.
        for bad in ["", "PO 123", "PO\t1", "PO123\n", " PO", "PO\u{a0}1"] {
            pattern(bad, r"^\S+$", &at, &mut out);
        }
        assert_eq!(out.len(), 6, "{out:?}");
    }

    #[test]
    fn described_patterns_say_what_the_value_must_be() {
        let mut out = Vec::new();
        let at = JsonPath::root();
        let currency = at.field("currencyIso");
        let words = "a 3-letter ISO 4217 currency code in capitals, e.g. EUR";
        described_pattern("EUR", "^[A-Z]{3}$", words, &currency, &mut out);
        described_pattern("eur", "^[A-Z]{3}$", words, &currency, &mut out);
        assert_eq!(
            out.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                r#"`currencyIso` must be a 3-letter ISO 4217 currency code in capitals, e.g. EUR (it is "eur")"#
            ]
        );
        assert!(matches!(
            out[0].rule,
            Rule::Pattern {
                pattern: "^[A-Z]{3}$",
                description: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn lengths_count_characters_and_report_both_bounds() {
        let mut out = Vec::new();
        let at = JsonPath::root();
        let number = at.field("despatchAdviceNumber");
        length("", Some(1), None, &number, &mut out);
        length("éé", Some(1), Some(2), &number, &mut out);
        length("abc", None, Some(2), &number, &mut out);
        assert_eq!(
            out.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "`despatchAdviceNumber` needs at least 1 character (it has 0)",
                "`despatchAdviceNumber` holds at most 2 characters (it has 3)"
            ]
        );
    }

    #[test]
    fn lengths_count_the_text_as_txml_reads_it() {
        let mut out = Vec::new();
        let at = JsonPath::root();
        let reason = at.field("reason");
        // Blank (a no-break space and an ideographic space are whitespace
        // too): as empty as tXML's `<reason> </reason>`.
        for blank in [" ", "\t\r\n", "\u{a0}", "\u{3000} "] {
            length(blank, Some(1), None, &reason, &mut out);
        }
        // Padding does not count, towards either bound.
        length(" ab ", Some(2), Some(2), &reason, &mut out);
        length("\u{a0}a b\u{a0}", None, Some(3), &reason, &mut out);
        assert_eq!(
            out.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["`reason` needs at least 1 character (it has 0)"; 4]
        );
    }

    #[test]
    fn blank_is_what_trim_removes() {
        for blank in ["", " ", "\t\r\n", "\u{a0}", "\u{2003}\u{3000}", "\u{85}"] {
            assert!(is_blank(blank), "{blank:?}");
        }
        // Not whitespace to `str::trim`: a zero-width no-break space (BOM),
        // a unit separator.
        for text in ["x", " x ", "\u{feff}", "\u{1f}"] {
            assert!(!is_blank(text), "{text:?}");
        }
        assert_eq!(trim_text("\u{a0} a b \n"), "a b");
    }

    #[test]
    fn required_members_say_what_to_add() {
        let mut out = Vec::new();
        let at = JsonPath::root();
        let price = at.field("netPrice");
        required(true, &price.field("priceInTransactionCurrency"), &mut out);
        required(false, &price.field("priceInTransactionCurrency"), &mut out);
        required_with(
            true,
            "netWeight",
            &at.field("netWeightUnitOfMeasureIso"),
            &mut out,
        );
        required_with(
            false,
            "netWeight",
            &at.field("netWeightUnitOfMeasureIso"),
            &mut out,
        );
        assert_eq!(
            out.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "`netPrice.priceInTransactionCurrency` is required when sending to Tradecloud: add it",
                "`netWeightUnitOfMeasureIso` is required when `netWeight` is given: add it or \
                 leave out `netWeight`"
            ]
        );
    }

    #[test]
    fn repeated_members_name_both_items_and_skip_blanks() {
        let mut out = Vec::new();
        let root = JsonPath::root();
        let lines = root.field("lines");
        let positions = [
            Some("1".to_string()),
            None,
            Some(" ".to_string()),
            Some("2".to_string()),
            Some(" 1".to_string()),
            None,
            Some(String::new()),
            Some("1".to_string()),
        ];
        unique(
            positions.iter().map(UniqueKey::unique_key),
            "position",
            &lines,
            &mut out,
        );
        assert_eq!(
            out.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                r#"`lines` holds `position` "1" more than once (items [0] and [4]); it must be unique within the list: give each item its own `position`"#,
                r#"`lines` holds `position` "1" more than once (items [0] and [7]); it must be unique within the list: give each item its own `position`"#,
            ]
        );
        assert_eq!(
            out[0].rule,
            Rule::Unique {
                member: "position",
                value: "1".into(),
                first: 0,
                index: 4
            }
        );
        // Required text members are keys too.
        let mut out = Vec::new();
        let required = ["a".to_string(), "b".to_string()];
        unique(
            required.iter().map(UniqueKey::unique_key),
            "position",
            &lines,
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn item_counts_report_both_bounds() {
        let mut out = Vec::new();
        let at = JsonPath::root();
        let lines = at.field("lines");
        items(0, Some(1), Some(500), &lines, &mut out);
        items(501, Some(1), Some(500), &lines, &mut out);
        items(500, Some(1), Some(500), &lines, &mut out);
        assert_eq!(
            out.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "`lines` needs at least 1 item (it has 0)",
                "`lines` holds at most 500 items (it has 501)"
            ]
        );
    }
}
