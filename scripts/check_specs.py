#!/usr/bin/env python3
"""Check the OpenAPI specs against their sources, in both directions.

Usage:
    python3 scripts/check_specs.py [--specs DIR] [--fields FILE] [--reference DIR]
                                   [--mirrors DIR] [--update] [-v]

1. Documented -> specs. Every item listed in tests/data/documented-fields.txt
   (written page by page from Tradecloud's documentation and, where named,
   Tradecloud's own code) is in the specs with the right type:

       <RootSchema> <dotted.path> <type>          type: string|number|integer|boolean|
                                                  date|date-time|local-date-time|
                                                  iso-date-time|object|array|enum
       <RootSchema> <dotted.path> enum <Value>    the enum lists <Value>
       operation <spec.yaml> <METHOD> <path> <operationId>
       parameter <operationId> <in> <name> [required]
       status <operationId> <code>
       security <operationId> <scheme>            the operation accepts <scheme>
                                                  (`<spec.yaml>:<operationId>` for one file's)
       no-security <operationId> <scheme>         ... and does NOT accept it
       media <operationId> <media-type>           its request body accepts <media-type>
       no-media <operationId> <media-type>        ... and does NOT accept it
       required <RootSchema> <dotted.path>        the member is required
       max-items <RootSchema> <dotted.path> <n>   the array holds at most <n> items
       min-items <RootSchema> <dotted.path> <n>   ... at least <n>
       no-whitespace <RootSchema> <dotted.path>   its `pattern` refuses whitespace (and the
                                                  empty string) and accepts an identifier
       not-empty <RootSchema> <dotted.path>       its `minLength` is at least 1
       request-no-whitespace <Root> <path>        its `x-request-rules` pattern refuses
                                                  whitespace and accepts an identifier
       request-pattern <Root> <path> <pattern>    its `x-request-rules` pattern is <pattern>
       request-required <Root> <path>             the schema holding it requires it in requests
                                                  (`x-request-rules` `required`)
       request-required-with <Root> <path> <m>    ... when its sibling <m> is given
                                                  (`x-request-rules` `dependentRequired`)
       request-unique <Root> <path> <m>           the list's items each have their own <m> in
                                                  requests (`x-request-rules` `uniqueBy`)

2. Specs -> sources. Every property, enum value, operation, parameter,
   response status, response header, security requirement and security
   scheme in the specs names its source, or says why it has none:

       x-source: order/buyer/receive/README.md#L157      (a reference page, relative
                                                         to reference/tradecloud-docs;
                                                         #L10-L12 for a range;
                                                         ../seeds/<file> for the seeds)
       x-source: tradecloud-bc-connector:tc-bc-connector/TC/Model/SimpleOrderEvent.cs#L25
                                                         (a file of Tradecloud's own code)
       x-source: [<source>, <source>]                    (several)
       x-inferred: <why nobody documents it>

   Rules for requests only (`x-request-rules`, below) carry their own `x-source`, whose
   cited lines must name the member (or one of the members) the rule is about.

   A rule the docs state once for every member, not member by member, may be cited by
   the lines stating it, for a member (or its `x-request-rules`) that has that rule:
   RULE_PHRASES maps it to the words those lines hold (`maxItems`: api/rules.md's
   "100 objects per collection"; a whitespace-refusing `pattern`: "must not contain
   whitespace"; `uniqueBy`: "must be unique"). The `x-source` of a `uniqueBy` may also
   name the items' member instead of the list.

   Enum values: `x-enum-sources: {Value: <source>}` / `x-enum-inferred: {Value: <why>}`
   beside the enum. Security requirements: `x-security-sources: {scheme: <source>}`
   beside the `security` list (operation or document level).

   A source must exist and must name the item: the cited lines contain the
   property name, enum value, parameter or header name, status code, the
   operation id or path, or the auth scheme (`Basic`, `Bearer`, `OAuth`).

   The reference pages are found at --reference, $TRADECLOUD_REFERENCE, or
   `shared/reference` beside the checkout or one of its parent directories
   (CI lays `shared/` beside the clone). Tradecloud's repositories are read
   from --mirrors / $TRADECLOUD_MIRRORS (`<owner>+<name>/repo` bare git
   directories) when present. tests/data/source-lines.txt records, for every
   cited source, a hash of the cited lines and the item names found there;
   where an original is not available (a clone without the mirrors, or
   without shared/), the check uses that record instead, and where it is
   available the record must match it (`--update` rewrites the record).

3. The report specs/SOURCES.md (items per kind and source, the inferred items
   and why) is generated from the specs; it must be up to date (`--update`).

4. Lint: the conventions the code generator relies on (every $ref resolves,
   descriptions, no oneOf/anyOf/allOf/discriminator, no float formats, no
   inline objects or enums, unique operation ids...), the rules constraints
   follow (`pattern` only on strings, and on every `local-date-time` and
   `iso-date-time` string exactly DATE_TIME_PATTERN below, the shape
   `tradecloud::types::DateTime` accepts; `minItems`, `maxItems` and
   `x-keep-empty` only on arrays, `minLength` and `maxLength` only on strings;
   `x-pattern-description` (what a value matching the `pattern` beside it is, in words
   that follow "must be" in the message of a broken rule: one line, no final period)
   only beside the `pattern` of a plain string, as a constraint or in `x-request-rules`;
   no constraint in a webhook body beyond that date pattern, since the
   receiver must not refuse an event), the rules for requests only, and the
   null rule of the webhook bodies: the receiver reads `"member": null` as
   an absent member (a 400 would lose the event), so every optional
   non-array member of a schema a webhook body can contain says
   `nullable: true` (a `$ref` member as `allOf: [{$ref: ...}]` beside it,
   the OpenAPI 3.0 form other tools read), and no other member does (arrays
   and required members refuse null; the mock refuses null in requests).
   The other checks read members with that marking removed, as the
   generator does (codegen/src/normalize/nulls.rs).

5. Rules for requests only. A rule that a message sent to Tradecloud must follow, on a
   schema that webhook bodies share (so it cannot be a constraint), is written as
   `x-request-rules` with its `x-source`:

       <member>:                               on a member: pattern (of a string),
         x-request-rules:                      minLength, maxLength (of a string),
           pattern: ^[A-Z]{3}$                 minItems, maxItems, uniqueBy (of an array)
           x-source: api/rules.md#L32-L49
       <Schema>:                               on an object schema: required (member
         x-request-rules:                      names) and dependentRequired (member
           dependentRequired:                  name -> the member names it needs)
             netWeight: [netWeightUnitOfMeasureIso]
           x-source: order/buyer/issue/README.md#L191-L193

   A member's `pattern` there may have its `x-pattern-description` beside it (see 4).

   `uniqueBy: <m>` of a list: no two items have the same <m>, a text member of the items'
   object schema (`despatchAdviceLinePosition` of the despatch advice lines). The values are
   compared trimmed, and absent or blank ones are nobody's repeat (`required` is about
   those). It is a keyword of `x-request-rules` only: JSON Schema cannot state it.

   Dates and times: a `local-date-time` or `date` member reads every form Tradecloud
   sends (DATE_TIME_PATTERN), but what is sent uses the one form api/standards.md gives.
   Its `x-request-rules` `pattern` (the only request rule such a member takes) is
   LOCAL_DATE_TIME_REQUEST_PATTERN (`YYYY-MM-DDThh:mm:ss`: no zone, no fraction of a
   second) or DATE_REQUEST_PATTERN (`YYYY-MM-DD`), and every `local-date-time` and `date`
   member of a schema a request body can hold has it (api/standards.md#L49-L50 also where
   the member's own page gives no format; a zoned `date-time`, the poll filter
   `lastUpdatedAfter`, keeps its documented zone and takes none).

   The `description` of every member with a request rule (its own `x-request-rules`, or
   named by its schema's) says the rule in a sentence "When sent to Tradecloud: ...".

   The generator checks them in `Validate::check_sent` of the shared type, which the
   request bodies of the API specs call, and never in `Validate::check` of a type a
   webhook body can hold: the receiver still accepts every event. The webhook specs
   (WEBHOOK_SPECS) say so with `x-webhook: true` at the top level, which the generator
   reads; no other spec has it.

Prints one line per failure and a summary line `N passed, M failed`; exits 1
on any failure. Needs Python 3, PyYAML and git (for the mirrors).
"""
import argparse
import copy
import hashlib
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPES = {"string", "number", "integer", "boolean", "date", "date-time", "local-date-time",
         "iso-date-time", "object", "array", "enum"}
DATE_FORMATS = ("date", "date-time", "local-date-time", "iso-date-time")
FORBIDDEN = ("oneOf", "anyOf", "allOf", "discriminator", "nullable", "not")
# The shape `tradecloud::types::DateTime` reads (src/types/iso8601.rs): yyyy-MM-dd,
# optionally followed by T (or t or a space) HH:mm:ss, any number of fraction digits after
# `.` or `,`, and Z, ±HH:mm, ±HHmm or ±HH. Every value DateTime accepts matches it
# (tests/date_time_pattern.rs checks that); digits are written [0-9], since `\d` is
# any Unicode digit in some regex dialects.
DATE_TIME_PATTERN = (r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
                     r"([Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)([.,][0-9]+)?"
                     r"([Zz]|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?)?$")
CUSTOM_DATE_TIME_FORMATS = ("local-date-time", "iso-date-time")
# What a message sent to Tradecloud writes (api/standards.md#L49-L50: "date format
# `YYYY-MM-DD` or local date/time format `YYYY-MM-DDThh:mm:ss`"): DATE_TIME_PATTERN reads
# every form Tradecloud sends, these the one form a request uses, as the `x-request-rules`
# `pattern` of every `local-date-time` member a request body can hold (no zone, no
# fraction of a second, no leap second: the docs' form exactly) and of every `date` member
# it can hold (the date type also reads a date-time).
LOCAL_DATE_TIME_REQUEST_PATTERN = (r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
                                   r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$")
DATE_REQUEST_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
# An identifier without whitespace (api/rules.md: "must not contain whitespace"): no
# character of Unicode `White_Space` (what `str::trim`, the crate's reading of text, takes
# away: U+0085 too) nor U+FEFF (ECMA's `\s`), written out, since `\s` is another set in
# every dialect (ECMA: U+FEFF and not U+0085; Python: U+0085 and U+001C-U+001F and not
# U+FEFF); not empty, or (`*`) empty where the docs let it be.
NO_WHITESPACE_CLASS = (r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
                       r"\u3000\ufeff]")
NO_WHITESPACE_PATTERNS = (f"^{NO_WHITESPACE_CLASS}+$", f"^{NO_WHITESPACE_CLASS}*$")
# The request pattern a member of a date format may have (see `lint_request_rules`).
DATE_REQUEST_PATTERNS = {"local-date-time": LOCAL_DATE_TIME_REQUEST_PATTERN, "date": DATE_REQUEST_PATTERN}
RULE_KINDS = ("required", "max-items", "min-items", "no-whitespace", "not-empty", "request-no-whitespace",
              "request-pattern", "request-required", "request-required-with", "request-unique")
# `x-request-rules` keywords: of a member (by the type it needs) and of an object schema.
MEMBER_REQUEST_RULES = {"pattern": "string", "minLength": "string", "maxLength": "string",
                        "minItems": "array", "maxItems": "array", "uniqueBy": "array"}
SCHEMA_REQUEST_RULES = ("required", "dependentRequired")
# Extensions an `x-request-rules` of a member may hold besides its rules.
MEMBER_REQUEST_EXTENSIONS = ("x-source", "x-pattern-description")

# A rule the docs state for every member (see 2.): the words its source holds, by what
# a member (or its `x-request-rules`) must have for that source to count.
RULE_PHRASES = (
    (lambda rules: "maxItems" in rules, "objects per collection"),
    (lambda rules: rules.get("pattern") in NO_WHITESPACE_PATTERNS, "must not contain whitespace"),
    (lambda rules: "uniqueBy" in rules, "must be unique"),
    (lambda rules: rules.get("pattern") == LOCAL_DATE_TIME_REQUEST_PATTERN, "local date/time format"),
    (lambda rules: rules.get("pattern") == DATE_REQUEST_PATTERN, "format `YYYY-MM-DD`"),
)

WEBHOOK_SPECS = ("order-webhook-connector.yaml", "shipment-webhook-connector.yaml")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
REPOS = {
    "tradecloud-bc-connector": "tradecloud+tradecloud-bc-connector",
    "tradecloud-sdk-dotnet": "tradecloud+tradecloud-sdk-dotnet",
}
SOURCE_LINES = os.path.join(ROOT, "tests", "data", "source-lines.txt")
REPORT = os.path.join(ROOT, "specs", "SOURCES.md")
SOURCE_RE = re.compile(r"^(?:(?P<repo>[a-z0-9-]+):)?(?P<path>[^#]+?)(?:#L(?P<a>\d+)(?:-L(?P<b>\d+))?)?$")


# ----------------------------------------------------------------------------- specs

def read_nullable(node):
    """Remove the null-means-absent marking from every object member, as the
    generator does: `nullable: true` goes, `allOf: [{$ref}]` beside it becomes
    the `$ref`. Anything else stays (and the lint refuses it)."""
    if isinstance(node, dict):
        properties = node.get("properties")
        for member in properties.values() if isinstance(properties, dict) else ():
            if isinstance(member, dict) and member.get("nullable") is True:
                del member["nullable"]
                one = member.get("allOf")
                if isinstance(one, list) and len(one) == 1 and isinstance(one[0], dict) \
                        and list(one[0]) == ["$ref"] and "$ref" not in member:
                    member["$ref"] = one[0]["$ref"]
                    del member["allOf"]
        for key, value in node.items():
            if not key.startswith("x-") and key not in ("example", "examples", "default", "enum"):
                read_nullable(value)
    elif isinstance(node, list):
        for value in node:
            read_nullable(value)
    return node


class Specs:
    def __init__(self, directory):
        self.dir = directory
        self.raw = {}   # as written (the null rule is checked here)
        self.docs = {}  # with the null marking read (every other check)
        for name in sorted(os.listdir(directory)):
            if name.endswith((".yaml", ".yml")):
                with open(os.path.join(directory, name)) as f:
                    self.raw[name] = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
                self.docs[name] = read_nullable(copy.deepcopy(self.raw[name]))
        self.schema_files = {}  # schema name -> [file, ...]
        for fname, doc in self.docs.items():
            for sname in ((doc.get("components") or {}).get("schemas") or {}):
                self.schema_files.setdefault(sname, []).append(fname)

    def pointer(self, fname, ptr):
        node = self.docs.get(fname)
        if node is None:
            raise KeyError(f"unknown file {fname}")
        for part in ptr.lstrip("/").split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"{fname}#{ptr} does not exist")
            node = node[part]
        return node

    def deref(self, fname, node, seen=None):
        """Follow $ref chains. Returns (file, node)."""
        seen = seen or set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            target_file, _, ptr = ref.partition("#")
            target_file = os.path.basename(target_file) if target_file else fname
            key = (target_file, ptr)
            if key in seen:
                raise KeyError(f"circular $ref {ref}")
            seen.add(key)
            node = self.pointer(target_file, ptr)
            fname = target_file
        return fname, node

    def root(self, name):
        files = self.schema_files.get(name, [])
        if len(files) != 1:
            raise KeyError(f"schema {name} is defined in {len(files)} files {files}")
        return files[0], self.docs[files[0]]["components"]["schemas"][name]

    def operations(self):
        """(file, path, method, operation, path item) for every operation."""
        for fname, doc in self.docs.items():
            for pth, item in (doc.get("paths") or {}).items():
                for method in HTTP_METHODS:
                    if isinstance(item, dict) and isinstance(item.get(method), dict):
                        yield fname, pth, method, item[method], item

    def operation(self, op_id):
        """The operations with this id (`file.yaml:id` for one file's)."""
        fname, _, op_id = op_id.rpartition(":")
        found = [o for o in self.operations()
                 if o[3].get("operationId") == op_id and (not fname or o[0] == fname)]
        if not found:
            raise KeyError(f"no operation {op_id}")
        return found


def enum_values(node):
    return list(node.get("enum") or node.get("x-extensible-enum") or [])


def through_arrays(specs, fname, node):
    fname, node = specs.deref(fname, node)
    while isinstance(node, dict) and node.get("type") == "array":
        fname, node = specs.deref(fname, node.get("items", {}))
    return fname, node


def walk_parent(specs, root, path):
    """(file, object schema, member name) of the last member of `path`."""
    parent, _, name = path.rpartition(".")
    if parent:
        fname, node = walk(specs, root, parent)
    else:
        fname, node = specs.root(root)
    fname, node = through_arrays(specs, fname, node)
    if name not in ((node.get("properties") or {}) if isinstance(node, dict) else {}):
        raise KeyError(f"no property '{name}' under {parent or '<root>'}")
    return fname, node, name


def ecma_search(rx, value):
    """Whether `rx` matches `value` as JSON Schema's (ECMA-262) regexes do: Python's `$`
    also matches before a final newline, ECMA's only at the end."""
    m = rx.search(value)
    if m is None:
        return False
    ends_before_newline = value.endswith("\n") and m.end() == len(value) - 1
    return not (ends_before_newline and rx.pattern.endswith("$"))


def check_rule(specs, parts, label, report):
    """`required`, `max-items`, `min-items` and `no-whitespace` lines."""
    kind = parts[0]
    with_argument = ("max-items", "min-items", "request-pattern", "request-required-with", "request-unique")
    if len(parts) != (4 if kind in with_argument else 3):
        report(False, f"{label}: malformed line")
        return
    root, path = parts[1], parts[2]
    if kind == "required":
        _, parent, name = walk_parent(specs, root, path)
        report(name in (parent.get("required") or []), f"{label}: not required")
        return
    if kind in ("request-required", "request-required-with"):
        _, parent, name = walk_parent(specs, root, path)
        rules = parent.get("x-request-rules") or {}
        if kind == "request-required":
            report(name in (rules.get("required") or []), f"{label}: not in x-request-rules required")
        else:
            needs = (rules.get("dependentRequired") or {}).get(parts[3]) or []
            report(name in needs, f"{label}: not in x-request-rules dependentRequired of {parts[3]}")
        return
    _, node = walk(specs, root, path)
    if kind == "not-empty":
        report(isinstance(node.get("minLength"), int) and node["minLength"] >= 1,
               f"{label}: minLength is {node.get('minLength')}")
        return
    if kind.startswith("request-"):
        node = node.get("x-request-rules") or {}
        if kind == "request-pattern":
            report(node.get("pattern") == parts[3], f"{label}: x-request-rules pattern is {node.get('pattern')!r}")
            return
        if kind == "request-unique":
            report(node.get("uniqueBy") == parts[3], f"{label}: x-request-rules uniqueBy is {node.get('uniqueBy')!r}")
            return
    if kind in ("max-items", "min-items"):
        key = "maxItems" if kind == "max-items" else "minItems"
        report(node.get("type") == "array" and node.get(key) == int(parts[3]),
               f"{label}: {key} is {node.get(key)}")
        return
    pattern = node.get("pattern")
    if not isinstance(pattern, str):
        report(False, f"{label}: no pattern")
        return
    rx = re.compile(pattern)
    accepts = ecma_search(rx, "PO-123_4/B")
    spaced = ("PO 123", "PO\t123", " PO123", "PO123\n", "PO\u00a0123", "PO123\u0085", "PO\ufeff123")
    # An identifier that is required is not empty either; for requests only, the docs let
    # some be empty (`item.number`, a split delivery line's position).
    refuses = not any(ecma_search(rx, v) for v in spaced + (() if kind == "request-no-whitespace" else ("",)))
    report(accepts and refuses, f"{label}: pattern {pattern!r} does not refuse whitespace (or refuses an identifier)")


def walk(specs, root, path):
    fname, node = specs.root(root)
    parts = path.split(".")
    for i, part in enumerate(parts):
        fname, node = through_arrays(specs, fname, node)
        props = node.get("properties") if isinstance(node, dict) else None
        if not props or part not in props:
            where = ".".join(parts[:i]) or "<root>"
            raise KeyError(f"no property '{part}' under {where}")
        node = props[part]
    return specs.deref(fname, node)


def type_ok(specs, fname, node, expected):
    if expected == "array":
        return node.get("type") == "array", node.get("type")
    fname, node = through_arrays(specs, fname, node)
    t, fmt = node.get("type"), node.get("format")
    actual = t
    if t == "string" and enum_values(node):
        actual = "enum"
    elif t == "string" and fmt in DATE_FORMATS:
        actual = fmt
    elif t is None and "properties" in node:
        actual = "object"
    return actual == expected, actual


def effective_security(doc, op):
    """The security requirements of an operation and the node holding their sources."""
    if "security" in op:
        return op.get("security") or [], op
    return doc.get("security") or [], doc


# ------------------------------------------------------------ documented -> specs

def check_fields(specs, fields_file, report):
    with open(fields_file) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            label = f"{os.path.basename(fields_file)}:{lineno}: {line}"
            try:
                if parts[0] in ("operation", "parameter", "status", "security", "no-security", "media", "no-media"):
                    check_operation_line(specs, parts, label, report)
                    continue
                if parts[0] in RULE_KINDS:
                    check_rule(specs, parts, label, report)
                    continue
                if len(parts) not in (3, 4) or parts[2] not in TYPES or (len(parts) == 4 and parts[2] != "enum"):
                    report(False, f"{label}: malformed line")
                    continue
                root, path, expected = parts[:3]
                fname, node = walk(specs, root, path)
                if len(parts) == 4:
                    fname, node = through_arrays(specs, fname, node)
                    values = enum_values(node)
                    report(parts[3] in values, f"{label}: enum value missing (has {len(values)} values)")
                else:
                    ok, actual = type_ok(specs, fname, node, expected)
                    report(ok, f"{label}: type is {actual}")
            except (KeyError, IndexError) as e:
                report(False, f"{label}: {e}")


def check_operation_line(specs, parts, label, report):
    kind = parts[0]
    if kind == "operation":
        _, fname, method, pth, op_id = parts
        doc = specs.docs.get(fname) or {}
        op = ((doc.get("paths") or {}).get(pth) or {}).get(method.lower())
        report(isinstance(op, dict) and op.get("operationId") == op_id, f"{label}: operation missing")
        return
    ops = specs.operation(parts[1])
    if kind == "parameter":
        where, name = parts[2], parts[3]
        required = len(parts) > 4 and parts[4] == "required"
        for _, _, _, op, item in ops:
            params = (op.get("parameters") or []) + (item.get("parameters") or [])
            match = [p for p in params if p.get("name") == name and p.get("in") == where]
            report(bool(match) and (not required or match[0].get("required") is True),
                   f"{label}: parameter missing{' or not required' if required else ''}")
    elif kind == "status":
        for _, _, _, op, _ in ops:
            report(str(parts[2]) in {str(k) for k in (op.get("responses") or {})}, f"{label}: status missing")
    elif kind in ("media", "no-media"):
        for _, _, _, op, _ in ops:
            present = parts[2] in ((op.get("requestBody") or {}).get("content") or {})
            report(present if kind == "media" else not present,
                   f"{label}: request media type {'missing' if kind == 'media' else 'offered'}")
    else:
        scheme = parts[2]
        for fname, _, _, op, _ in ops:
            reqs, _ = effective_security(specs.docs[fname], op)
            present = any(scheme in r for r in reqs)
            report(present if kind == "security" else not present,
                   f"{label}: {scheme} {'missing' if kind == 'security' else 'offered'}")


# ----------------------------------------------------------------- specs -> items

class Item:
    """One thing in a spec that needs a source."""

    def __init__(self, kind, where, tokens, sources, inferred, case_insensitive=False):
        self.kind = kind            # property, enum value, operation, ...
        self.where = where          # human readable location
        self.tokens = tokens        # names that the cited lines must contain (any of)
        self.sources = sources      # list of source strings
        self.inferred = inferred    # reason, or None
        self.case_insensitive = case_insensitive


def request_rule_names(rules):
    """The member names an object schema's `x-request-rules` mention."""
    names = [n for n in (rules.get("required") or []) if isinstance(n, str)]
    dependent = rules.get("dependentRequired")
    for member, needs in (dependent.items() if isinstance(dependent, dict) else ()):
        names.append(member)
        names.extend(n for n in (needs if isinstance(needs, list) else []) if isinstance(n, str))
    return names


def rule_phrases(rules):
    """The words of the general rules (RULE_PHRASES) that `rules` (a member schema or
    its `x-request-rules`) has: cited lines holding them name the rule, not the member."""
    return [words for has, words in RULE_PHRASES if has(rules)]


def as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def scheme_tokens(scheme):
    t = (scheme or {}).get("type")
    if t == "http":
        return [str(scheme.get("scheme", "")).capitalize()]
    if t == "oauth2":
        return ["OAuth"]
    if t == "apiKey":
        return [scheme.get("name", "")]
    return []


def path_tokens(pth, method):
    tokens = [pth, re.sub(r"\{(\w+)\}", r":\1", pth)]
    # `/order/{orderId}` is also cited as the URL the id is appended to.
    prefix = re.fullmatch(r"(/[^{}]*[^{}/]/)\{\w+\}", pth)
    if prefix:
        tokens.append(prefix.group(1))
    if pth == "/" or re.fullmatch(r"/\{\w+\}", pth):
        tokens.append(method.upper())
    return tokens


def collect_items(specs):
    items = []
    for fname, doc in specs.docs.items():
        comps = doc.get("components") or {}
        for sname, schema in (comps.get("schemas") or {}).items():
            if not isinstance(schema, dict):
                continue
            for pname, p in (schema.get("properties") or {}).items():
                p = p if isinstance(p, dict) else {}
                items.append(Item("property", f"{fname} {sname}.{pname}", [pname] + rule_phrases(p),
                                  as_list(p.get("x-source")), p.get("x-inferred")))
                rules = p.get("x-request-rules")
                if isinstance(rules, dict):
                    unique = [rules["uniqueBy"]] if isinstance(rules.get("uniqueBy"), str) else []
                    items.append(Item("request rule", f"{fname} {sname}.{pname} x-request-rules",
                                      [pname] + unique + rule_phrases(rules), as_list(rules.get("x-source")),
                                      None))
            rules = schema.get("x-request-rules")
            if isinstance(rules, dict):
                items.append(Item("request rule", f"{fname} {sname} x-request-rules", request_rule_names(rules),
                                  as_list(rules.get("x-source")), None))
            sources = schema.get("x-enum-sources") or {}
            inferred = schema.get("x-enum-inferred") or {}
            for value in enum_values(schema):
                items.append(Item("enum value", f"{fname} {sname}={value}", [str(value)],
                                  as_list(sources.get(value)), inferred.get(value)))
        for name, scheme in (comps.get("securitySchemes") or {}).items():
            items.append(Item("security scheme", f"{fname} securitySchemes.{name}", scheme_tokens(scheme),
                              as_list(scheme.get("x-source")), scheme.get("x-inferred")))
        schemes = comps.get("securitySchemes") or {}
        for pth, item in (doc.get("paths") or {}).items():
            for method in HTTP_METHODS:
                op = item.get(method) if isinstance(item, dict) else None
                if not isinstance(op, dict):
                    continue
                where = f"{fname} {method.upper()} {pth}"
                items.append(Item("operation", where, [op.get("operationId", "")] + path_tokens(pth, method),
                                  as_list(op.get("x-source")), op.get("x-inferred")))
                for p in (op.get("parameters") or []) + (item.get("parameters") or []):
                    items.append(Item("parameter", f"{where} {p.get('in')} {p.get('name')}", [p.get("name", "")],
                                      as_list(p.get("x-source")), p.get("x-inferred"), case_insensitive=True))
                for status, r in (op.get("responses") or {}).items():
                    r = r if isinstance(r, dict) else {}
                    items.append(Item("response", f"{where} {status}", [str(status)],
                                      as_list(r.get("x-source")), r.get("x-inferred")))
                    for hname, h in (r.get("headers") or {}).items():
                        items.append(Item("header", f"{where} {status} {hname}", [hname],
                                          as_list(h.get("x-source")), h.get("x-inferred"), case_insensitive=True))
                # x-party: the company that alone takes the operation; its
                # source must say "ByBuyer"/"BySupplier" (security/authorization.md).
                party = op.get("x-party")
                if party is not None:
                    token = {"buyer": "ByBuyer", "supplier": "BySupplier"}.get(party)
                    items.append(Item("party", f"{where} x-party {party}",
                                      [token or f"(x-party must be buyer or supplier, not {party!r})"],
                                      as_list(op.get("x-party-source")), None))
                reqs, holder = effective_security(doc, op)
                srcs = holder.get("x-security-sources") or {}
                for req in reqs:
                    for name in req:
                        items.append(Item("security requirement", f"{where} security {name}",
                                          scheme_tokens(schemes.get(name)), as_list(srcs.get(name)), None))
    return items


# ------------------------------------------------------------------ the originals

def find_up(start, rel):
    d = os.path.abspath(start)
    while True:
        candidate = os.path.join(d, rel)
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def locate_reference(arg):
    for c in (arg, os.environ.get("TRADECLOUD_REFERENCE")):
        if c:
            return c if os.path.isdir(os.path.join(c, "tradecloud-docs")) else None
    found = find_up(os.path.dirname(ROOT), os.path.join("shared", "reference"))
    return found if found and os.path.isdir(os.path.join(found, "tradecloud-docs")) else None


def locate_mirrors(arg):
    for c in (arg, os.environ.get("TRADECLOUD_MIRRORS")):
        if c:
            return c if os.path.isdir(c) else None
    return find_up(os.path.dirname(ROOT), ".mirror")


class Originals:
    """Reads cited lines from the reference pages and Tradecloud's repositories."""

    def __init__(self, reference, mirrors):
        self.reference = reference
        self.mirrors = mirrors
        self.cache = {}

    def repo_dir(self, repo):
        if not self.mirrors or repo not in REPOS:
            return None
        d = os.path.join(self.mirrors, REPOS[repo], "repo")
        return d if os.path.isdir(d) else None

    def available(self, repo):
        return self.repo_dir(repo) is not None if repo else self.reference is not None

    def lines(self, repo, path):
        """The file's lines, or None when it does not exist."""
        key = (repo, path)
        if key not in self.cache:
            text = None
            if repo:
                r = subprocess.run(["git", "-C", self.repo_dir(repo), "show", f"HEAD:{path}"],
                                   capture_output=True)
                if r.returncode == 0:
                    text = r.stdout.decode("utf-8", "replace")
            else:
                full = os.path.normpath(os.path.join(self.reference, "tradecloud-docs", path))
                if full.startswith(os.path.normpath(self.reference)) and os.path.isfile(full):
                    with open(full, encoding="utf-8") as f:
                        text = f.read()
            self.cache[key] = None if text is None else text.split("\n")
        return self.cache[key]


def word_re(token, case_insensitive):
    """The token as a whole word (boundaries only where the token has word characters)."""
    flags = re.IGNORECASE if case_insensitive else 0
    before = r"(?<![A-Za-z0-9_])" if re.match(r"\w", token) else ""
    after = r"(?![A-Za-z0-9_])" if re.search(r"\w$", token) else ""
    return re.compile(before + re.escape(token) + after, flags)


def cited(originals, source):
    """(text of the cited lines, None) or (None, error)."""
    m = SOURCE_RE.match(source)
    if not m:
        return None, f"`{source}` is not a source (`page.md#L10`, `repo:path#L10`)"
    repo, path = m.group("repo"), m.group("path")
    if repo and repo not in REPOS:
        return None, f"`{source}`: unknown repository {repo} (known: {', '.join(sorted(REPOS))})"
    lines = originals.lines(repo, path)
    if lines is None:
        return None, f"`{source}`: no such file"
    if m.group("a") is None:
        return "\n".join(lines), None
    a = int(m.group("a"))
    b = int(m.group("b") or a)
    if not (1 <= a <= b <= len(lines)) or b - a > 20:
        return None, f"`{source}`: lines {a}-{b} do not exist (the file has {len(lines)})"
    return "\n".join(lines[a - 1:b]), None


def load_record(path):
    record = {}
    if os.path.isfile(path):
        with open(path) as f:
            for raw in f:
                if raw.strip() and not raw.startswith("#"):
                    source, digest, *tokens = raw.rstrip("\n").split("\t")
                    record[source] = (digest, set(tokens))
    return record


def check_sources(specs, originals, record, report, new_record):
    items = collect_items(specs)
    for item in items:
        label = f"{item.kind} {item.where}"
        if item.inferred is not None:
            report(isinstance(item.inferred, str) and len(item.inferred.strip()) >= 10,
                   f"{label}: x-inferred needs a reason")
            report(not item.sources, f"{label}: both x-source and x-inferred")
            continue
        if not item.sources:
            report(False, f"{label}: no x-source (name where it is documented, or x-inferred: <why>)")
            continue
        for source in item.sources:
            m = SOURCE_RE.match(str(source))
            repo = m.group("repo") if m else None
            ci = item.case_insensitive or bool(repo)
            if m and originals.available(repo):
                text, error = cited(originals, str(source))
                if error:
                    report(False, f"{label}: {error}")
                    continue
                found = [t for t in item.tokens if t and word_re(t, ci).search(text)]
                report(bool(found), f"{label}: `{source}` does not mention {' / '.join(repr(t) for t in item.tokens)}")
                digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
                entry = new_record.setdefault(str(source), [digest, set()])
                entry[1].update(found[:1])
            else:
                recorded = record.get(str(source))
                if recorded is None:
                    report(False, f"{label}: `{source}` is neither available here nor in "
                                  f"{os.path.relpath(SOURCE_LINES, ROOT)} (run with the originals and --update)")
                    continue
                names = recorded[1]
                found = [t for t in item.tokens if t and any((t.lower() == n.lower()) if ci else (t == n) for n in names)]
                report(bool(found), f"{label}: `{source}` does not mention {' / '.join(repr(t) for t in item.tokens)} (as recorded)")
                entry = new_record.setdefault(str(source), [recorded[0], set()])
                entry[1].update(found[:1])
    return items


def render_record(record):
    out = ["# Generated by scripts/check_specs.py --update: every source the specs cite, a hash",
           "# of the cited lines, and the item names found there. Used where the originals",
           "# (shared/reference, Tradecloud's repositories) are not available; checked",
           "# against them where they are.",
           "# source\tsha256[:16]\tnames"]
    for source in sorted(record):
        digest, names = record[source]
        out.append("\t".join([source, digest] + sorted(names)))
    return "\n".join(out) + "\n"


def render_report(items):
    def origin(item):
        if item.inferred is not None:
            return "inferred"
        if any(":" in s.split("#")[0] for s in map(str, item.sources)):
            return "Tradecloud code" if all(":" in s.split("#")[0] for s in map(str, item.sources)) else "docs + code"
        return "docs"
    kinds = ["property", "enum value", "operation", "parameter", "response", "header",
             "security requirement", "security scheme", "party", "request rule"]
    cols = ["docs", "docs + code", "Tradecloud code", "inferred"]
    counts = {(k, c): 0 for k in kinds for c in cols}
    for it in items:
        counts[(it.kind, origin(it))] += 1
    lines = ["# Where every item of the specs comes from", "",
             "Generated by `python3 scripts/check_specs.py --update`; do not edit. The check",
             "(`scripts/check_specs.py`, run by `scripts/test.sh`) fails when this file is stale.", "",
             "Sources are lines of Tradecloud's documentation (`reference/tradecloud-docs`, the",
             "seeds as `../seeds/...`) or files of Tradecloud's own code",
             "(`tradecloud-bc-connector`, `tradecloud-sdk-dotnet`), written as `x-source` in the specs.", "",
             "| item | " + " | ".join(cols) + " | total |",
             "|---|" + "---:|" * (len(cols) + 1)]
    for k in kinds:
        row = [counts[(k, c)] for c in cols]
        lines.append(f"| {k} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    lines += ["", "## Items nobody documents (`x-inferred`)", ""]
    for it in items:
        if it.inferred is not None:
            lines.append(f"- {it.kind} `{it.where}`: {' '.join(str(it.inferred).split())}")
    lines += ["", "## Items known only from Tradecloud's code", ""]
    for it in items:
        if it.inferred is None and origin(it) == "Tradecloud code":
            lines.append(f"- {it.kind} `{it.where}`: {', '.join(map(str, it.sources))}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------- lint

def iter_schemas(node, path):
    """Yield (path, schema) for every schema-like dict below node (properties/items)."""
    yield path, node
    if not isinstance(node, dict):
        return
    for pname, p in (node.get("properties") or {}).items():
        yield from iter_schemas(p, f"{path}.{pname}")
    if isinstance(node.get("items"), dict):
        yield from iter_schemas(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from iter_schemas(node["additionalProperties"], f"{path}{{}}")


def all_refs(node, path="#"):
    if isinstance(node, dict):
        if "$ref" in node and isinstance(node["$ref"], str):
            yield path, node["$ref"]
        for k, v in node.items():
            yield from all_refs(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from all_refs(v, f"{path}/{i}")


def body_schemas(specs, fnames, on_schema=None):
    """(file, schema name) of every component a request body of the specs `fnames` can
    contain, following `$ref`s across files. `on_schema(where, node)`, when given, is
    called on every object below those request bodies, the inline schemas too (a
    request body's own schema, an inline object member, the items of an inline array),
    each component's once: `where` names it as the messages do, `file Schema.member` or
    `file METHOD /path requestBody.member`."""
    found = set()

    def visit(fname, node, where):
        if isinstance(node, dict):
            if on_schema is not None:
                on_schema(where, node)
            ref = node.get("$ref")
            if isinstance(ref, str) and "#/components/schemas/" in ref:
                target = os.path.basename(ref.partition("#")[0]) or fname
                key = (target, ref.rpartition("/")[2])
                if key not in found and target in specs.docs:
                    found.add(key)
                    visit(target, ((specs.docs[target].get("components") or {}).get("schemas") or {}).get(key[1]),
                          f"{target} {key[1]}")
            for key, value in node.items():
                if key == "$ref":
                    continue
                if key == "properties" and isinstance(value, dict):
                    for pname, p in value.items():
                        visit(fname, p, f"{where}.{pname}")
                elif key == "items":
                    visit(fname, value, f"{where}[]")
                else:
                    visit(fname, value, where)
        elif isinstance(node, list):
            for value in node:
                visit(fname, value, where)

    for fname in fnames:
        for path, item in ((specs.docs.get(fname) or {}).get("paths") or {}).items():
            for method in HTTP_METHODS:
                op = item.get(method) if isinstance(item, dict) else None
                if isinstance(op, dict) and "requestBody" in op:
                    visit(fname, op["requestBody"], f"{fname} {method.upper()} {path} requestBody")
    return found


def webhook_schemas(specs):
    """(file, schema name) of every component a webhook request body can contain."""
    return body_schemas(specs, WEBHOOK_SPECS)


def lint_nulls(specs, report):
    """The null rule (see the module documentation), on the specs as written."""
    in_webhooks = webhook_schemas(specs)
    for fname, doc in specs.raw.items():
        for sname, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
            webhook = (fname, sname) in in_webhooks
            for path, s in iter_schemas(schema, f"{fname} {sname}"):
                if not isinstance(s, dict) or not isinstance(s.get("properties"), dict):
                    continue
                required = set(s.get("required") or [])
                for pname, p in s["properties"].items():
                    if not isinstance(p, dict):
                        continue
                    where = f"{path}.{pname}"
                    want = webhook and pname not in required and p.get("type") != "array"
                    has = p.get("nullable") is True
                    if want:
                        report(has, f"{where}: optional member of a webhook body without `nullable: true` "
                                    "(the receiver reads null as absent; add it, a $ref as `allOf: [{$ref: ...}]`)")
                    else:
                        why = ("a required member" if pname in required else "an array (null is refused)"
                               if p.get("type") == "array" else "a member outside the webhook bodies (the mock refuses null)")
                        report("nullable" not in p, f"{where}: `nullable` on {why}; remove it")
                    if "allOf" in p:
                        one = p["allOf"]
                        report(has and isinstance(one, list) and len(one) == 1 and isinstance(one[0], dict)
                               and list(one[0]) == ["$ref"] and "$ref" not in p,
                               f"{where}: allOf is only read as `allOf: [{{$ref: ...}}]` beside `nullable: true`")


def lint_constraints(specs, report):
    """`pattern`, `minItems`, `maxItems` and `x-keep-empty` (see the module
    documentation), on the specs as written."""
    in_webhooks = webhook_schemas(specs)
    for fname, doc in specs.raw.items():
        for sname, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
            webhook = (fname, sname) in in_webhooks
            for path, s in iter_schemas(schema, f"{fname} {sname}"):
                if not isinstance(s, dict):
                    continue
                fmt = s.get("format")
                if s.get("type") == "string" and fmt in CUSTOM_DATE_TIME_FORMATS:
                    report(s.get("pattern") == DATE_TIME_PATTERN,
                           f"{path}: a `{fmt}` string needs `pattern: '{DATE_TIME_PATTERN}'` (the shape "
                           "tradecloud::types::DateTime reads), so that tools without the format check it")
                elif "pattern" in s:
                    ok = s.get("type") == "string" and isinstance(s["pattern"], str)
                    report(ok, f"{path}: `pattern` on a schema that is not a string")
                    if ok:
                        try:
                            re.compile(s["pattern"])
                            report(True, "")
                        except re.error as e:
                            report(False, f"{path}: `pattern` does not compile: {e}")
                        lint_space_escape(path, s["pattern"], report)
                    report(not webhook, f"{path}: `pattern` in a webhook body (the receiver must not refuse "
                                        "an event Tradecloud sends)")
                for kw in ("minItems", "maxItems", "x-keep-empty", "minLength", "maxLength"):
                    if kw in s:
                        kind = "string" if kw in ("minLength", "maxLength") else "array"
                        report(s.get("type") == kind, f"{path}: `{kw}` on a schema that is not an {kind}")
                        report(not webhook, f"{path}: `{kw}` in a webhook body (the receiver must not refuse "
                                            "an event Tradecloud sends; for requests only, use x-request-rules)")
                if "x-pattern-description" in s:
                    plain = s.get("type") == "string" and "format" not in s and not enum_values(s)
                    lint_pattern_description(path, s, plain, report)
                if "x-keep-empty" in s:
                    report(s["x-keep-empty"] is True, f"{path}: `x-keep-empty` must be `true`")
                for pname in (s.get("required") or []) if isinstance(s.get("properties"), dict) else []:
                    member = s["properties"].get(pname)
                    report(not (isinstance(member, dict) and "x-keep-empty" in member),
                           f"{path}.{pname}: `x-keep-empty` on a required member (it is always sent)")


def lint_space_escape(where, pattern, report):
    """No `\\s` or `\\S` in a pattern: the ECMA engine of the crate and the mock reads
    them otherwise than Python (schemathesis generates with it) and than `str::trim` (the
    crate's reading of text); see NO_WHITESPACE_CLASS."""
    report(not re.search(r"(?<!\\)(\\\\)*\\[sS]", pattern),
           f"{where}: `pattern` uses \\s or \\S, read differently by ECMA, Python and str::trim "
           f"(U+0085, U+FEFF): write the characters out, as NO_WHITESPACE_PATTERNS in scripts/check_specs.py")


def lint_pattern_description(where, rules, plain, report):
    """`x-pattern-description` in `rules` (a member schema, or its `x-request-rules`):
    beside the `pattern` of a plain string, which the generator checks, and words that
    follow "must be" in a message (`Rule::Pattern` in src/types/validate.rs)."""
    if "x-pattern-description" not in rules:
        return
    words = rules["x-pattern-description"]
    report("pattern" in rules and plain,
           f"{where}: `x-pattern-description` without the `pattern` of a plain string beside it")
    report(isinstance(words, str) and words.strip() == words and words and "\n" not in words
           and not words.endswith(".") and not words.lower().startswith("must"),
           f"{where}: `x-pattern-description` must be one line of words that follow \"must be\" "
           f"(no final period): {words!r}")


def lint_unique_by(specs, fname, where, prop, member, report):
    """`uniqueBy` of a list's `x-request-rules`: the name of a plain text member of the
    items' object schema (the generator reads it from every item)."""
    if not isinstance(member, str):
        report(False, f"{where}: `uniqueBy` must be a member name")
        return
    try:
        _, items = specs.deref(fname, prop.get("items") or {})
    except KeyError as e:
        report(False, f"{where}: `uniqueBy` on a list whose items do not resolve: {e}")
        return
    target = ((items or {}).get("properties") or {}).get(member) if isinstance(items, dict) else None
    plain = isinstance(target, dict) and target.get("type") == "string" and "format" not in target \
        and not enum_values(target) and "$ref" not in target
    report(plain, f"{where}: `uniqueBy: {member}` is not a text member of the list's items (name a "
                  f"plain string member of the items' object schema)")


def lint_request_rules(specs, report):
    """`x-request-rules` (see the module documentation) and `x-webhook`, on the specs as
    written."""
    for fname, doc in specs.raw.items():
        marked = doc.get("x-webhook")
        if fname in WEBHOOK_SPECS:
            report(marked is True, f"{fname}: a webhook spec needs `x-webhook: true` (the generator "
                                   "keeps x-request-rules out of what its bodies hold)")
        else:
            report(marked is None, f"{fname}: `x-webhook` on a spec that is not in WEBHOOK_SPECS")
        for sname, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
            if not isinstance(schema, dict):
                continue
            base = f"{fname} {sname}"
            properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
            rules = schema.get("x-request-rules")
            if rules is not None:
                where = f"{base} x-request-rules"
                if not isinstance(rules, dict):
                    report(False, f"{where}: must be a mapping")
                else:
                    unknown = set(rules) - set(SCHEMA_REQUEST_RULES) - {"x-source"}
                    report(not unknown, f"{where}: unknown keywords {sorted(unknown)} (an object schema "
                                        f"takes {', '.join(SCHEMA_REQUEST_RULES)})")
                    report(any(k in rules for k in SCHEMA_REQUEST_RULES), f"{where}: states no rule")
                    required = rules.get("required", [])
                    dependent = rules.get("dependentRequired", {})
                    report(isinstance(required, list) and all(isinstance(n, str) for n in required),
                           f"{where}: `required` must be a list of member names")
                    report(isinstance(dependent, dict) and all(
                        isinstance(v, list) and v and all(isinstance(n, str) for n in v) for v in dependent.values()),
                        f"{where}: `dependentRequired` must map a member name to a list of member names")
                    for name in request_rule_names(rules):
                        report(name in properties, f"{where}: `{name}` is not a member of {sname}")
            for pname, p in properties.items():
                if not isinstance(p, dict) or "x-request-rules" not in p:
                    continue
                where = f"{base}.{pname} x-request-rules"
                rules = p["x-request-rules"]
                if not isinstance(rules, dict):
                    report(False, f"{where}: must be a mapping")
                    continue
                unknown = set(rules) - set(MEMBER_REQUEST_RULES) - set(MEMBER_REQUEST_EXTENSIONS)
                report(not unknown, f"{where}: unknown keywords {sorted(unknown)} (a member takes "
                                    f"{', '.join(MEMBER_REQUEST_RULES)})")
                report(any(k in rules for k in MEMBER_REQUEST_RULES), f"{where}: states no rule")
                plain = p.get("type") == "string" and "format" not in p and not enum_values(p)
                # A date or local date-time reads every form Tradecloud sends; what is sent
                # uses one (DATE_REQUEST_PATTERNS), checked on the value's text.
                dated = p.get("type") == "string" and p.get("format") in DATE_REQUEST_PATTERNS
                lint_pattern_description(where, rules, plain or dated, report)
                if dated and "pattern" in rules:
                    wanted = DATE_REQUEST_PATTERNS[p["format"]]
                    report(rules["pattern"] == wanted,
                           f"{where}: the request `pattern` of a `{p['format']}` member must be '{wanted}' "
                           "(the form api/standards.md gives)")
                for kw, kind in MEMBER_REQUEST_RULES.items():
                    if kw not in rules:
                        continue
                    fits = plain if kind == "string" else p.get("type") == "array"
                    fits = fits or (dated and kw == "pattern")
                    report(fits, f"{where}: `{kw}` on a member that is not a{' plain' if kind == 'string' else 'n'} {kind}")
                    # The pattern of a date-time reads what is received; its request
                    # pattern is the narrower form a request writes.
                    report(kw not in p or (dated and kw == "pattern"),
                           f"{where}: `{kw}` both as a constraint and for requests only")
                    if kw == "uniqueBy":
                        lint_unique_by(specs, fname, where, p, rules[kw], report)
                    elif kw == "pattern":
                        try:
                            re.compile(str(rules[kw]))
                            report(isinstance(rules[kw], str), f"{where}: `pattern` must be text")
                        except re.error as e:
                            report(False, f"{where}: `pattern` does not compile: {e}")
                        lint_space_escape(where, str(rules[kw]), report)
                    else:
                        report(isinstance(rules[kw], int) and not isinstance(rules[kw], bool) and rules[kw] >= 0,
                               f"{where}: `{kw}` must be a count")


def request_schemas(specs):
    """(file, schema name) of every component a request body sent to Tradecloud can
    contain (the request bodies of the specs that are not WEBHOOK_SPECS)."""
    return body_schemas(specs, [f for f in specs.docs if f not in WEBHOOK_SPECS])


def lint_sent_dates(specs, report):
    """Every `local-date-time` and `date` member of a schema a request body can hold has
    the request pattern of the documented form (DATE_REQUEST_PATTERNS): its type reads
    more, and what is sent must be `YYYY-MM-DDThh:mm:ss` or `YYYY-MM-DD`
    (api/standards.md#L49-L50, which every integration must support, also where the
    member's own page gives no format). The members of components and of inline schemas
    alike (an inline object member, the items of an inline array, a request body's own
    schema), as `body_schemas` reaches them. A zoned `date-time` member is not one of
    them: the poll filter `lastUpdatedAfter` is documented and exemplified with its zone."""
    def check(where, schema):
        props = schema.get("properties")
        if not isinstance(props, dict):
            return
        for pname, p in props.items():
            if isinstance(p, dict) and p.get("format") in DATE_REQUEST_PATTERNS:
                wanted = DATE_REQUEST_PATTERNS[p["format"]]
                form = "local date/time `YYYY-MM-DDThh:mm:ss`" if p["format"] == "local-date-time" \
                    else "date `YYYY-MM-DD`"
                rules = p.get("x-request-rules") if isinstance(p.get("x-request-rules"), dict) else {}
                report(rules.get("pattern") == wanted,
                       f"{where}.{pname}: a `{p['format']}` member of a request needs "
                       f"`x-request-rules` `pattern: '{wanted}'` (api/standards.md#L49-L50: {form})")

    body_schemas(specs, [f for f in specs.docs if f not in WEBHOOK_SPECS], on_schema=check)


def lint_request_rule_descriptions(specs, report):
    """The `description` of every member with a request rule (its own `x-request-rules`,
    or named in the `required` or `dependentRequired` of its schema's) says the rule in a
    sentence starting "When sent to Tradecloud:", as the reader of the spec or of the
    generated documentation sees no `x-request-rules`."""
    for fname, doc in specs.raw.items():
        for sname, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
            if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
                continue
            rules = schema.get("x-request-rules") if isinstance(schema.get("x-request-rules"), dict) else {}
            named = set(request_rule_names(rules))
            for pname, p in schema["properties"].items():
                if not isinstance(p, dict) or ("x-request-rules" not in p and pname not in named):
                    continue
                description = p.get("description")
                report(isinstance(description, str) and "When sent to Tradecloud:" in description,
                       f"{fname} {sname}.{pname}: a member with a request rule needs a sentence "
                       "\"When sent to Tradecloud: ...\" in its `description` saying the rule")


def lint(specs, report):
    lint_nulls(specs, report)
    lint_constraints(specs, report)
    lint_request_rules(specs, report)
    lint_sent_dates(specs, report)
    lint_request_rule_descriptions(specs, report)
    for fname, doc in specs.docs.items():
        report(doc.get("openapi") == "3.0.3", f"{fname}: openapi must be 3.0.3")
        for where, ref in all_refs(doc):
            try:
                specs.deref(fname, {"$ref": ref})
                report(True, "")
            except KeyError as e:
                report(False, f"{fname} {where}: unresolvable $ref {ref}: {e}")
        for sname, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
            base = f"{fname} {sname}"
            report(bool(sname.isascii() and sname[:1].isupper() and sname.isalnum()), f"{base}: component name is not PascalCase ASCII")
            report(bool(schema.get("description")), f"{base}: schema without description")
            if enum_values(schema):
                report(schema.get("type") == "string", f"{base}: enum component must be type string")
                report("enum" not in schema, f"{base}: closed enum; Tradecloud adds values, use x-extensible-enum")
            elif "$ref" not in schema:
                report(schema.get("type") == "object" and "properties" in schema, f"{base}: object component needs type: object and properties")
            for path, s in iter_schemas(schema, base):
                if not isinstance(s, dict):
                    continue
                for kw in FORBIDDEN:
                    report(kw not in s, f"{path}: forbidden keyword {kw}")
                report(s.get("additionalProperties") is not False, f"{path}: additionalProperties: false")
                report(s.get("format") not in ("float", "double"), f"{path}: float/double format")
                if path != base:
                    report(not (s.get("type") == "object" or "properties" in s), f"{path}: inline object schema (give it a name)")
                    report("enum" not in s and "x-extensible-enum" not in s, f"{path}: inline enum (give it a name)")
            for pname, p in (schema.get("properties") or {}).items():
                report(bool(p.get("description")), f"{base}.{pname}: property without description")
        op_ids = set()
        for pth, item in (doc.get("paths") or {}).items():
            for method in HTTP_METHODS:
                op = item.get(method)
                if not op:
                    continue
                where = f"{fname} {method.upper()} {pth}"
                oid = op.get("operationId")
                report(bool(oid) and oid not in op_ids, f"{where}: missing or duplicate operationId {oid}")
                op_ids.add(oid)
                report(bool(op.get("summary")) and bool(op.get("description")), f"{where}: needs summary and description")


# ------------------------------------------------------------------------- main

def read_text(path):
    if not os.path.isfile(path):
        return ""
    with open(path) as f:
        return f.read()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--specs", default=os.path.join(ROOT, "specs"))
    ap.add_argument("--fields", default=os.path.join(ROOT, "tests", "data", "documented-fields.txt"))
    ap.add_argument("--reference", help="the reference directory (holding tradecloud-docs/ and seeds/)")
    ap.add_argument("--mirrors", help="directory of Tradecloud's repositories as <owner>+<name>/repo")
    ap.add_argument("--record", default=SOURCE_LINES, help="the recorded source lines")
    ap.add_argument("--report", default=REPORT, help="the generated report")
    ap.add_argument("--update", action="store_true", help="rewrite the record and the report")
    ap.add_argument("-v", "--verbose", action="store_true", help="also print the section totals")
    args = ap.parse_args(argv)

    specs = Specs(args.specs)
    reference = locate_reference(args.reference)
    mirrors = locate_mirrors(args.mirrors)
    originals = Originals(reference, mirrors)
    totals = {"documented": [0, 0], "sources": [0, 0], "record": [0, 0], "lint": [0, 0]}

    def reporter(section):
        def report(ok, msg):
            totals[section][0 if ok else 1] += 1
            if not ok:
                print(f"FAIL {msg}")
        return report

    print(f"reference pages: {reference or 'not found: using ' + os.path.relpath(args.record, ROOT)}")
    available = [r for r in REPOS if originals.available(r)]
    print(f"Tradecloud repositories: {', '.join(available) if available else 'not found: using ' + os.path.relpath(args.record, ROOT)}")

    check_fields(specs, args.fields, reporter("documented"))
    record = load_record(args.record)
    new_record = {}
    items = check_sources(specs, originals, record, reporter("sources"), new_record)
    # Entries of sources whose original is not here are carried over as recorded.
    merged = {s: (d, n) for s, (d, n) in ((s, tuple(v)) for s, v in new_record.items())}
    report_text = render_report(items)
    record_text = render_record(merged)
    check = reporter("record")
    if args.update:
        with open(args.record, "w") as f:
            f.write(record_text)
        with open(args.report, "w") as f:
            f.write(report_text)
        print(f"wrote {os.path.relpath(args.record, ROOT)} and {os.path.relpath(args.report, ROOT)}")
    else:
        old = read_text(args.record)
        stale = [s for s in set(record) | set(merged)
                 if (s not in merged) or (s not in record) or record[s][0] != merged[s][0] or record[s][1] != set(merged[s][1])]
        check(not stale and old == record_text,
              f"{os.path.relpath(args.record, ROOT)} is stale ({len(stale)} sources differ, e.g. "
              f"{sorted(stale)[:3]}): run python3 scripts/check_specs.py --update")
        current = read_text(args.report)
        check(current == report_text,
              f"{os.path.relpath(args.report, ROOT)} is stale: run python3 scripts/check_specs.py --update")
    lint(specs, reporter("lint"))
    if args.verbose:
        for k, (p, f) in totals.items():
            print(f"{k}: {p} passed, {f} failed")
    passed = sum(p for p, _ in totals.values())
    failed = sum(f for _, f in totals.values())
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
