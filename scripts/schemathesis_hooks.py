"""Schemathesis hooks for the tradecloud specs (loaded by scripts/api_conformance.py
through SCHEMATHESIS_HOOKS).

The specs describe Tradecloud's zone-less timestamps with two custom formats
(`format: date-time` would demand a zone, RFC 3339). Other tools treat an
unknown format as any string; these strategies make schemathesis generate
values of the documented shapes instead:

* `local-date-time`: `yyyy-MM-ddTHH:mm:ss[.fraction]`, no zone (ERP times);
* `iso-date-time`: the same, or with `Z` / `+hh:mm` (ISO 8601 allows both).

Every such string also carries a `pattern` (the shape `DateTime` reads, the
same in every spec; scripts/check_specs.py holds it), so that a tool without
these strategies generates that shape too; the values generated here match it.

tXML has no null. The webhook specs make optional members `nullable` (the
receiver reads JSON `null` as an absent member), and schemathesis' XML
serializer writes a null as the text `null`, which in tXML is the string
"null" (`<eta>null</eta>` is an invalid date, not a missing one). For
schema-valid (positive) bodies the XML serializer below leaves such members
out, the one tXML spelling of "absent"; negative bodies are written as
schemathesis writes them, so the receiver must refuse them.

The payload rule (`tradecloud::webhook`, stated in the body schemas'
descriptions) is one OpenAPI 3.0 cannot state without `oneOf` or
`if`/`then`, which the generator's subset leaves out: a *known* event name
needs its payload member (`orderEvent`, ..., `shipment`; `null` counts as
none), or the receiver answers 400 and quarantines the body; an unknown
name without one is accepted and kept as `unhandled`. Schema-valid bodies
with a known name and no payload are therefore not generated
(`filter_case` below); negative bodies still are. The known names and the
payload members are read from the specs.

The id rule (`tradecloud::webhook`, in the same descriptions) is the same
kind: the payload member the receiver reads (the first present of the
order payload members, or `shipment`) must carry its id (`orderId`,
`shipment.id`), not blank, whatever the event name, or the receiver answers
400. Schema-valid bodies whose payload lacks it get one (`map_case`), so
they stay schema-valid and still reach every other member; negative bodies
are sent as generated.

The uniqueness rule (`x-request-rules` `uniqueBy` in the specs: a
despatch advice's `despatchAdviceLinePosition`, an order's line `position`,
a delivery schedule's `position`, ... once within their list) is another:
JSON Schema's `uniqueItems` compares whole items, not one member. The mock
refuses a repeat (400), so schema-valid bodies that repeat one get the
item's index appended to each repeat (`map_case`); the lists and members
are read from the specs, per operation.

A `multipart/form-data` body (the document upload) writes each member as a
part whose name goes into a header; the specs' open objects let the tester
invent member names no header can carry as they are (control characters,
quotes), which RFC 7578 leaves to an encoding the specs do not state.
Schema-valid multipart bodies keep only the members whose names can be
written as they are (`map_case`).

The mock's refresh tokens are single-use (a refresh replaces the token, a
logout invalidates it), so one configured `Refresh-Token` would make every
refresh and logout after the first a 401 and leave their success responses
untested. When scripts/api_conformance.py names the mock's login
(TRADECLOUD_CONFORMANCE_LOGIN and _BASIC), every case whose headers are
schema-valid gets a fresh refresh token from a new login; negative header
cases (missing or malformed) are sent as generated.
"""
import os
import urllib.request
from datetime import datetime, timedelta, timezone

import yaml

import schemathesis
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode
from schemathesis.transport.serialization import serialize_xml

_moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 12, 31))
_fractions = st.sampled_from(["", ".1", ".812", ".123456"])


def _local(moment, fraction):
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction


local_date_time = st.builds(_local, _moments, _fractions)
_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: "Z" if m == 0 else datetime.now(timezone(timedelta(minutes=m))).strftime("%z")[:3]
    + ":" + datetime.now(timezone(timedelta(minutes=m))).strftime("%z")[3:])
iso_date_time = st.one_of(local_date_time, st.builds(lambda t, z: t + z, local_date_time, _offsets))

schemathesis.openapi.format("local-date-time", local_date_time)
schemathesis.openapi.format("iso-date-time", iso_date_time)


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _component_is_positive(case, location):
    meta = getattr(case, "meta", None)
    if meta is None:
        return False
    info = next((info for where, info in meta.components.items() if str(where.value) == location), None)
    mode = info.mode if info is not None else meta.generation.mode
    return mode == GenerationMode.POSITIVE


@schemathesis.serializer("application/xml", "text/xml")
def txml(ctx, value):
    if _component_is_positive(ctx.case, "body"):
        value = _without_nulls(value)
    return serialize_xml(ctx.case, value).get("data")


_SPECS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "specs")


def _load(name):
    with open(os.path.join(_SPECS, name)) as f:
        return yaml.safe_load(f)


def _payload_rules():
    """[(known event names, payload members)] of the order and shipment bodies."""
    common = _load("common.yaml")["components"]["schemas"]
    rules = []
    for spec, body, names in (("order-webhook-connector.yaml", "OrderWebhookBody", "OrderEventName"),
                              ("shipment-webhook-connector.yaml", "ShipmentWebhookBody", "ShipmentEventName")):
        members = set(_load(spec)["components"]["schemas"][body]["properties"]) - {"eventName", "meta"}
        rules.append((set(common[names]["x-extensible-enum"]), members))
    return rules


_PAYLOAD_RULES = _payload_rules()

# The payload members in the order the receiver reads them
# (`tradecloud::webhook::ORDER_PAYLOAD_MEMBERS`, then the shipment's), with
# the member that holds each one's id.
_ID_MEMBERS = [("orderEvent", "orderId"), ("singleDeliveryOrderEvent", "orderId"),
               ("simpleOrderEvent", "orderId"), ("orderDocumentsEvent", "orderId"),
               ("shipment", "id")]


# Rust's `char::is_whitespace` (Unicode White_Space), what `str::trim` removes:
# Python's `str.strip()` also removes U+001C..U+001F, which Rust keeps.
_WHITESPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) \
    + "\u2028\u2029\u202f\u205f\u3000"


def _blank(value):
    """`tradecloud::webhook::is_blank_id` (`types::validate::is_blank`): empty
    once the whitespace `str::trim` removes is trimmed (a no-break space and
    the other Unicode spaces too)."""
    return not isinstance(value, str) or value.strip(_WHITESPACE) == ""


def _with_id(body):
    """The first present payload member given an id when it has none."""
    for member, id_member in _ID_MEMBERS:
        payload = body.get(member)
        if payload is None:
            continue
        if isinstance(payload, dict) and _blank(payload.get(id_member)):
            payload[id_member] = "id-1"
        return


def _has_text_xml_cannot_carry(value):
    """Whether a string in `value` (or a member name) holds a character
    XML 1.0 does not allow."""
    if isinstance(value, str):
        return any((c < " " and c not in "\t\n\r") or c in "\ufffe\uffff"
                   or "\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(_has_text_xml_cannot_carry(k) or _has_text_xml_cannot_carry(v)
                   for k, v in value.items())
    if isinstance(value, list):
        return any(_has_text_xml_cannot_carry(v) for v in value)
    return False


def _has_padded_text(value):
    """Whether a string in `value` has whitespace at either end: the tXML
    reader trims element text (" " reads as "", an absent member), so a
    negative case whose fault is only its padding arrives valid."""
    if isinstance(value, str):
        return value != value.strip()
    if isinstance(value, dict):
        return any(_has_padded_text(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_padded_text(v) for v in value)
    return False


_SKIP_NEGATIVE_TXML = os.environ.get("TRADECLOUD_CONFORMANCE_SKIP_NEGATIVE_TXML") == "1"

# The negative body cases tXML can carry: text cannot say that a value has
# another JSON type (`<position>true</position>` is the text "true", which
# a string member rightly takes), nor hold an empty list (no items is an
# absent member), but it can leave a required member out, write a string
# that breaks its pattern, length, format or enum, a number beyond its
# bounds, or a list with too many items. Schemathesis (4.x) tells how a
# case was made negative: the coverage phase by its scenario
# (`case.meta.phase.data.scenario`), the other phases by the mutations
# applied (`.mutations`, each an operator and the keywords it broke; a
# negated constraint keeps the value's type). A case made otherwise (a
# changed type, a negated `anyOf`, random bytes) or that does not say is
# left out.
_TXML_SCENARIOS = {"object_missing_required_property", "string_above_max_length",
                   "string_below_min_length", "invalid_pattern", "invalid_format",
                   "invalid_enum_value", "value_above_maximum", "value_below_minimum",
                   "array_above_max_items"}
_TXML_OPERATORS = {"remove_required_property", "negate_constraints", "value_violator"}
_TXML_KEYWORDS = {"required", "pattern", "minLength", "maxLength", "format", "enum",
                  "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "maxItems"}


def _negative_txml_expressible(case):
    """Whether a negative tXML body breaks only rules tXML can break (see
    above); unknown how it was made: no."""
    meta = getattr(case, "meta", None)
    data = getattr(getattr(meta, "phase", None), "data", None)
    scenario = getattr(data, "scenario", None)
    if scenario is not None:
        return str(scenario) in _TXML_SCENARIOS
    mutations = [m for m in getattr(data, "mutations", ()) or ()
                 if str(m.parameter_location.value) == "body"]
    return bool(mutations) and all(
        str(m.operator) in _TXML_OPERATORS and set(m.keywords) <= _TXML_KEYWORDS
        for m in mutations)


@schemathesis.hook
def filter_case(ctx, case):
    body = case.body
    # Requests to the mock (scripts/api_conformance.py sets the variable):
    # tXML is text, so a member given a number or a boolean where the schema
    # wants a string (schemathesis' usual negative body) is written as valid
    # text and rightly accepted: such a negative tXML request proves nothing
    # and is left out; the ones tXML can carry (`_negative_txml_expressible`:
    # a required member left out, a string breaking its pattern or length,
    # ...) are sent. Negative JSON requests are all sent, and negative tXML
    # webhooks to the receiver too (it refuses them: they passed as generated).
    # Any run: a schema-valid body (to the mock, a negative one too) with
    # text XML 1.0 cannot carry (control characters, U+FFFE, U+FFFF) is no
    # valid tXML; the serializer drops such characters, so `\x1f` (valid
    # for `^\S+$`) arrives as "".
    media_type = (getattr(case, "media_type", None) or "").lower()
    if media_type.endswith("xml"):
        if not _component_is_positive(case, "body"):
            if _SKIP_NEGATIVE_TXML and (not _negative_txml_expressible(case)
                                        or _has_text_xml_cannot_carry(body)
                                        or _has_padded_text(body)):
                return False
        elif _has_text_xml_cannot_carry(body):
            return False
    if not isinstance(body, dict) or not _component_is_positive(case, "body"):
        return True
    name = body.get("eventName")
    if not isinstance(name, str):
        return True
    for known, members in _PAYLOAD_RULES:
        if name in known and all(body.get(member) is None for member in members):
            return False
    return True


_LOGIN = os.environ.get("TRADECLOUD_CONFORMANCE_LOGIN")
_BASIC = os.environ.get("TRADECLOUD_CONFORMANCE_BASIC")


def _fresh_refresh_token():
    request = urllib.request.Request(_LOGIN, headers={"Authorization": _BASIC})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["Set-Refresh-Token"]


def _form_field_name(name):
    """Whether `name` can be written as it is into a part's
    `Content-Disposition: form-data; name="..."` header (visible ASCII, no
    quote or backslash)."""
    return bool(name) and all("!" <= c <= "~" and c not in '"\\' for c in name)


# What Rust's `str::trim` (`char::is_whitespace`) removes, which the
# generated `uniqueBy` check trims before comparing (Python's `str.strip`
# removes more: U+001C..U+001F).
_RUST_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200b)) \
    + "\u2028\u2029\u202f\u205f\u3000"


def _resolve(spec, node):
    """`node` of `spec`, its `$ref` (or the one-`$ref` `allOf` of a nullable
    member) followed: (spec, schema)."""
    for _ in range(8):
        if not isinstance(node, dict):
            return spec, {}
        one = node.get("allOf")
        if "$ref" not in node and isinstance(one, list) and len(one) == 1:
            node = one[0]
            continue
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return spec, node
        target, _, pointer = ref.partition("#")
        spec = os.path.basename(target) if target else spec
        node = _load_cached(spec)
        for part in pointer.strip("/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
    return spec, node


_DOCS = {}


def _load_cached(name):
    if name not in _DOCS:
        _DOCS[name] = _load(name)
    return _DOCS[name]


def _unique_lists(spec, schema, path, out, depth=0):
    """Every list below `schema` whose `x-request-rules` has `uniqueBy`, as
    (path from the body, `*` for each list item; member)."""
    spec, schema = _resolve(spec, schema)
    if depth > 12:
        return
    for name, member in (schema.get("properties") or {}).items():
        if not isinstance(member, dict):
            continue
        if member.get("type") == "array":
            unique = (member.get("x-request-rules") or {}).get("uniqueBy")
            if isinstance(unique, str):
                out.append((path + (name,), unique))
            _unique_lists(spec, member.get("items"), path + (name, "*"), out, depth + 1)
        else:
            _unique_lists(spec, member, path + (name,), out, depth + 1)


def _unique_rules():
    """{(method, path): [(list path, member)]} of the operations whose request
    body holds a list with `uniqueBy` (in the specs that are not webhooks)."""
    rules = {}
    for name in sorted(os.listdir(_SPECS)):
        if not name.endswith(".yaml"):
            continue
        doc = _load_cached(name)
        if doc.get("x-webhook") is True:
            continue
        for path, item in (doc.get("paths") or {}).items():
            for method, op in (item or {}).items():
                content = ((op or {}).get("requestBody") or {}).get("content") if isinstance(op, dict) else None
                for media in (content or {}).values():
                    found = []
                    _unique_lists(name, (media or {}).get("schema"), (), found)
                    if found:
                        rules[(method.lower(), path)] = found
                    break
    return rules


_UNIQUE_RULES = _unique_rules()


def _lists_at(node, path):
    """The lists `path` (member names, `*` for every item) leads to in `node`."""
    if not path:
        return [node] if isinstance(node, list) else []
    head, rest = path[0], path[1:]
    if head == "*":
        return [found for item in (node if isinstance(node, list) else []) for found in _lists_at(item, rest)]
    return _lists_at(node.get(head), rest) if isinstance(node, dict) else []


def _make_unique(items, member):
    """Items of a list whose `member` must be unique (`x-request-rules`
    `uniqueBy`, compared as the generated check does: trimmed, blank or absent
    ones repeating nothing) get the item's index appended to a repeat (still
    `^\\S+$`)."""
    seen = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get(member), str):
            continue
        value = item[member]
        key = value.strip(_RUST_WHITESPACE)
        if not key:
            continue
        while key in seen:
            value = f"{value}-{index}"
            key = value.strip(_RUST_WHITESPACE)
        item[member] = value
        seen.add(key)


def _unique_members(case):
    """The identifiers a schema-valid body must not repeat within their list
    (`x-request-rules` `uniqueBy`: a despatch advice's
    `despatchAdviceLinePosition`, an order's line `position`, a delivery
    schedule's `position`, ...), a rule no schema can state: the mock refuses
    a repeat. Read from the specs by operation."""
    operation = getattr(case, "operation", None)
    key = (str(getattr(operation, "method", "")).lower(), getattr(operation, "path", None))
    for path, member in _UNIQUE_RULES.get(key, ()):
        for items in _lists_at(case.body, path):
            _make_unique(items, member)


@schemathesis.hook
def map_case(ctx, case):
    if _LOGIN and _BASIC and case.headers is not None and "Refresh-Token" in case.headers \
            and _component_is_positive(case, "header"):
        case.headers["Refresh-Token"] = _fresh_refresh_token()
    if isinstance(case.body, dict) and "eventName" in case.body and _component_is_positive(case, "body"):
        _with_id(case.body)
    if isinstance(case.body, dict) and _component_is_positive(case, "body"):
        _unique_members(case)
    if (getattr(case, "media_type", None) or "").startswith("multipart/form-data") \
            and isinstance(case.body, dict) and _component_is_positive(case, "body"):
        case.body = {k: v for k, v in case.body.items() if _form_field_name(k)}
    return case
