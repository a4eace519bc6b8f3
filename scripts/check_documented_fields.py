#!/usr/bin/env python3
"""Check that every documented Tradecloud field is present, with the right type,
in the OpenAPI specs.

Usage:
    python3 scripts/check_documented_fields.py [--specs DIR] [--fields FILE] [-v]

Reads tests/data/documented-fields.txt (one documented field per line, written
from the Tradecloud docs):

    <RootSchema> <dotted.path> <type>          type: string|number|integer|boolean|
                                               date|date-time|object|array|enum
    <RootSchema> <dotted.path> enum <Value>    the enum must list <Value>

RootSchema is a schema name under components/schemas of any specs/*.yaml file.
The checker resolves local refs (`#/components/schemas/X`) and relative external
refs (`common.yaml#/components/schemas/X`), walks the dotted path property by
property (arrays are stepped through transparently) and checks the type of the
last property.

It also lints the specs against the conventions the code generator relies on:
every $ref resolves, every schema and property has a description, no
oneOf/anyOf/allOf/discriminator/nullable/pattern/additionalProperties:false, no
float/double formats, no inline object schemas, every enum is a named string
component, every operation has a unique operationId, a summary and a description.

Prints one line per failure and a summary line `N passed, M failed`; exits 1 on
any failure. Needs only Python 3 and PyYAML.
"""
import argparse
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPES = {"string", "number", "integer", "boolean", "date", "date-time", "object", "array", "enum"}
FORBIDDEN = ("oneOf", "anyOf", "allOf", "discriminator", "nullable", "pattern", "not")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class Specs:
    def __init__(self, directory):
        self.dir = directory
        self.docs = {}
        for name in sorted(os.listdir(directory)):
            if name.endswith((".yaml", ".yml")):
                with open(os.path.join(directory, name)) as f:
                    self.docs[name] = yaml.safe_load(f)
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


def through_arrays(specs, fname, node):
    fname, node = specs.deref(fname, node)
    while isinstance(node, dict) and node.get("type") == "array":
        fname, node = specs.deref(fname, node.get("items", {}))
    return fname, node


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
    if t == "string" and "enum" in node:
        actual = "enum"
    elif t == "string" and fmt in ("date", "date-time"):
        actual = fmt
    elif t is None and "properties" in node:
        actual = "object"
    return actual == expected, actual


def check_fields(specs, fields_file, report):
    with open(fields_file) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            label = f"{os.path.basename(fields_file)}:{lineno}: {line}"
            if len(parts) not in (3, 4) or parts[2] not in TYPES or (len(parts) == 4 and parts[2] != "enum"):
                report(False, f"{label}: malformed line")
                continue
            root, path, expected = parts[:3]
            try:
                fname, node = walk(specs, root, path)
                if len(parts) == 4:
                    fname, node = through_arrays(specs, fname, node)
                    values = node.get("enum") or []
                    report(parts[3] in values, f"{label}: enum value missing (has {len(values)} values)")
                else:
                    ok, actual = type_ok(specs, fname, node, expected)
                    report(ok, f"{label}: type is {actual}")
            except KeyError as e:
                report(False, f"{label}: {e}")


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


def lint(specs, report):
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
            if "enum" in schema:
                report(schema.get("type") == "string", f"{base}: enum component must be type string")
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
                    report("enum" not in s, f"{path}: inline enum (give it a name)")
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--specs", default=os.path.join(ROOT, "specs"))
    ap.add_argument("--fields", default=os.path.join(ROOT, "tests", "data", "documented-fields.txt"))
    ap.add_argument("-v", "--verbose", action="store_true", help="also print the section totals")
    args = ap.parse_args()

    specs = Specs(args.specs)
    totals = {"fields": [0, 0], "lint": [0, 0]}

    def reporter(section):
        def report(ok, msg):
            totals[section][0 if ok else 1] += 1
            if not ok:
                print(f"FAIL {msg}")
        return report

    check_fields(specs, args.fields, reporter("fields"))
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
