#!/usr/bin/env python3
"""Our servers against our specs, checked by an external tester (schemathesis).

Usage:
    python3 scripts/api_conformance.py --bin target/debug/tradecloud [--examples 30] [--seed 1]
        [--only mock|serve] [--serve-phases examples,coverage,fuzzing (the default)]

1. Starts `tradecloud mock` on a free port, logs in, reads the ids of its
   orders, shipments and documents, and runs schemathesis (`--checks all`,
   a fixed seed and number of examples) with every API spec against it, the
   path parameters set to those real ids so that requests reach real objects.
   Everything those specs describe is sent to Tradecloud, so schemathesis
   gets a copy of `specs/` in which the rules for what is sent
   (`x-request-rules`, which the mock enforces and the webhook specs must not
   carry) are written as plain constraints (`sent_specs`): without them a
   request the mock rightly refuses (a `currencyIso` of `00`) reads as a
   valid one refused.
2. Starts `tradecloud serve --receive-only` (development TLS, Basic auth, an
   SQLite inbox in a temporary directory) and runs schemathesis with both
   webhook specs against its order and shipment webhook paths: the
   examples and fuzzing phases, then the coverage phase (every boundary and
   null of the body schemas; not for the order PUT, which is the POST
   handler).

Both servers are stopped again. Prints schemathesis' summary per spec and a
closing `N passed, M failed` line (one per spec run); exits 1 on any failure
or error. Needs schemathesis 4.x (scripts/test.sh installs the pinned
version) and the `tradecloud` binary.
"""
import argparse
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
API_SPECS = ["api-connector.yaml", "authentication.yaml", "order.yaml", "order-search.yaml", "shipment.yaml", "object-storage.yaml"]
USER, PASSWORD = "integration@example.com", "tradecloud-mock-secret"
WEBHOOK_USER, WEBHOOK_PASSWORD = "tradecloud", "conformance-secret"


class Server:
    """A child process whose output is collected; `wait_for` a line."""

    def __init__(self, args, env=None, cwd=None):
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env, cwd=cwd)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, pattern, timeout=60):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.proc.args[:2]} did not print /{pattern}/:\n" + "\n".join(self.lines[-30:]))
                self.cond.wait(0.2)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def request(url, method="GET", headers=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.headers, resp.read()


def toml_string(value):
    return json.dumps(value)


# A text with a character that Rust's `str::trim` keeps (not `char::is_whitespace`):
# what the generated `check_sent` takes as given. Written out, since `\s` differs
# between Python and ECMA-262.
NOT_BLANK = "[^\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"


def _apply_request_rules(node):
    """Write every `x-request-rules` below `node` as plain JSON Schema
    constraints, in place. A member's rules (`pattern`, `minLength`, ...)
    go on its schema (`null` still passes where it is `nullable`, as in the
    generated `check_sent`, which checks present values only); a schema's
    `required` members are also no longer `nullable` (an absent and a `null`
    member are both `None`); `dependentRequired` (not in OpenAPI 3.0)
    becomes an `anyOf`: the member absent or `null`, or every member it
    needs present and not `null`."""
    if isinstance(node, list):
        for item in node:
            _apply_request_rules(item)
        return
    if not isinstance(node, dict):
        return
    rules = node.pop("x-request-rules", None)
    for value in node.values():
        _apply_request_rules(value)
    if not rules:
        return
    props = node.get("properties") or {}
    for key, value in rules.items():
        if key.startswith("x-"):
            continue
        if key == "required":
            node["required"] = sorted(set(node.get("required", [])) | set(value))
            for name in value:
                if isinstance(props.get(name), dict):
                    props[name]["nullable"] = False
        elif key == "dependentRequired":
            for name, needed in value.items():
                node.setdefault("allOf", []).append({"anyOf": [
                    {"not": {"required": [name]}},
                    {"required": [name], "properties": {name: {"enum": [None]}}},
                    # Not blank either (the generated `check_sent`: tXML
                    # trims an element's text, so a blank one reads as "").
                    {"required": list(needed),
                     "properties": {n: {"not": {"enum": [None]}, "pattern": NOT_BLANK}
                                    for n in needed}},
                ]})
        elif key == "uniqueBy":
            # No JSON Schema keyword says it (`uniqueItems` compares whole
            # items): scripts/schemathesis_hooks.py makes the positive cases
            # unique instead.
            continue
        else:
            node[key] = value


def _trimmed_lengths(node):
    """`minLength` counts the text as the tXML reader reads it, trimmed
    (`types::validate::length`): a blank text is empty. JSON Schema counts
    the whitespace, so a `minLength: 1` string without a `pattern` also gets
    NOT_BLANK, in place (no spec has a larger `minLength`)."""
    if isinstance(node, list):
        for item in node:
            _trimmed_lengths(item)
        return
    if not isinstance(node, dict):
        return
    for value in node.values():
        _trimmed_lengths(value)
    if node.get("type") == "string" and node.get("minLength") == 1 and "pattern" not in node:
        node["pattern"] = NOT_BLANK


def sent_specs(tmp):
    """A copy of `specs/` in `tmp` with the request rules made plain (see
    `_apply_request_rules`) and `minLength` read as the mock reads it (see
    `_trimmed_lengths`); for the API specs, whose every body is sent."""
    import yaml  # schemathesis' own dependency
    out = os.path.join(tmp, "specs-sent")
    os.makedirs(out)
    for name in os.listdir(os.path.join(ROOT, "specs")):
        if not name.endswith((".yaml", ".yml")):
            continue
        with open(os.path.join(ROOT, "specs", name)) as f:
            doc = yaml.safe_load(f)
        _apply_request_rules(doc)
        _trimmed_lengths(doc)
        with open(os.path.join(out, name), "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False, allow_unicode=True)
    return out


def schemathesis(spec, url, config, examples, seed, extra, env, specs_dir=None):
    """Run schemathesis (in the config's directory, where it keeps its cache)."""
    cmd = [sys.executable, "-m", "schemathesis.cli", "--config-file", config, "run",
           os.path.join(specs_dir or os.path.join(ROOT, "specs"), spec), "--url", url, "--checks", "all",
           "--max-examples", str(examples), "--seed", str(seed), "--no-color",
           "--generation-database", "none", "--workers", "1",
           "--suppress-health-check", "all", *extra]
    phases = extra[extra.index("--phases") + 1] if "--phases" in extra else "all phases"
    print(f"== schemathesis: {spec} against {url} ({phases})", flush=True)
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=os.path.dirname(config))
    out = result.stdout + result.stderr
    summary = out[out.rfind("SUMMARY"):] if "SUMMARY" in out else out[-3000:]
    failed = result.returncode != 0
    print((out if failed else summary).rstrip(), flush=True)
    return not failed


def run_mock(binary, tmp, examples, seed, env):
    mock = Server([binary, "mock", "--listen", "127.0.0.1:0"])
    try:
        base = mock.wait_for(r"listening on (http://\S+)").group(1)
        mock.wait_for(r"press Ctrl-C")
        documents = [m.group(1) for m in (re.match(r"\s+document (\S+)", l) for l in mock.lines) if m]
        basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        headers, _ = request(f"{base}/authentication/login", headers={"Authorization": basic})
        token = headers["Set-Authorization"]
        bearer = {"Authorization": f"Bearer {token}"}
        orders = json.loads(request(f"{base}/order-search/poll", "POST", bearer, {})[1])["data"]
        shipments = json.loads(request(f"{base}/shipment/poll", "POST", bearer, {})[1])["data"]
        if not (orders and shipments and documents):
            raise RuntimeError("the mock's demo data has no order, shipment or document")
        config = os.path.join(tmp, "mock.toml")
        with open(config, "w") as f:
            f.write("[parameters]\n")
            f.write(f'"path.orderId" = {toml_string(orders[0]["id"])}\n')
            f.write(f'"path.shipmentId" = {toml_string(shipments[0]["id"])}\n')
            f.write(f'"path.objectId" = {toml_string(documents[0])}\n')
            f.write(f'"path.id" = {toml_string(documents[-1])}\n')
        # Basic credentials for login only; in a file of its own, because an
        # operations filter that matches nothing is a warning in the other specs.
        login_config = os.path.join(tmp, "login", "mock.toml")
        os.makedirs(os.path.dirname(login_config))
        with open(login_config, "w") as f:
            f.write('[[operations]]\ninclude-operation-id = "login"\n')
            f.write(f"auth.basic = {{ username = {toml_string(USER)}, password = {toml_string(PASSWORD)} }}\n")
        # The upload: every part of a multipart/form-data body is bytes, so
        # schemathesis' negative cases (a `file` of another type, an object
        # where the schema mutated to a string) reach the server as valid
        # uploads, stored as they should be: for that one operation the
        # negative-data check also takes a 200 (a missing `file`, the one
        # rule a form can break, is a 400 in tests/mock_write.rs). In a file
        # of its own, as an operations filter matching nothing warns in the
        # other specs.
        upload_config = os.path.join(tmp, "upload", "mock.toml")
        os.makedirs(os.path.dirname(upload_config))
        with open(config) as src, open(upload_config, "w") as f:
            f.write(src.read())
            f.write('[[operations]]\ninclude-operation-id = "uploadDocument"\n')
            f.write("checks.negative_data_rejection.expected-statuses = [200, 400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, \"5XX\"]\n")
        # Refresh tokens are single-use: the hooks log in for a fresh one per
        # case (see schemathesis_hooks.py) instead of one configured token.
        # Negative tXML requests that tXML cannot carry (a changed type) are
        # left out (schemathesis_hooks.py says why and which).
        env = dict(env, TRADECLOUD_CONFORMANCE_LOGIN=f"{base}/authentication/login",
                   TRADECLOUD_CONFORMANCE_BASIC=basic,
                   TRADECLOUD_CONFORMANCE_SKIP_NEGATIVE_TXML="1")
        specs_dir = sent_specs(tmp)
        results = []
        for spec in API_SPECS:
            if spec == "authentication.yaml":
                results.append(schemathesis(spec, base, login_config, examples, seed, [], env, specs_dir))
            else:
                extra = ["--header", f"Authorization: Bearer {token}"]
                spec_config = upload_config if spec == "object-storage.yaml" else config
                results.append(schemathesis(spec, base, spec_config, examples, seed, extra, env, specs_dir))
        return results
    finally:
        mock.stop()


def run_serve(binary, tmp, examples, seed, env, phases):
    config = os.path.join(tmp, "serve.toml")
    with open(config, "w") as f:
        f.write('[server]\nlisten = "127.0.0.1:0"\norder_path = "/tradecloud/order"\n'
                'shipment_path = "/tradecloud/shipment"\n\n'
                f'[auth]\nmethod = "basic"\nusername = "{WEBHOOK_USER}"\n\n'
                f'[store]\nurl = "sqlite://{os.path.join(tmp, "inbox.db")}"\n')
    serve_env = dict(os.environ, TRADECLOUD_AUTH_PASSWORD=WEBHOOK_PASSWORD)
    serve = Server([binary, "serve", "--config", config, "--dev-tls", "--receive-only"], env=serve_env, cwd=tmp)
    try:
        addr = serve.wait_for(r"listening on https://(\S+)").group(1)
        st_config = os.path.join(tmp, "serve-st.toml")
        with open(st_config, "w") as f:
            f.write("# no per-parameter data: webhook ids are any non-empty string\n")
        extra = ["--auth", f"{WEBHOOK_USER}:{WEBHOOK_PASSWORD}", "--tls-verify", "false"]
        wanted = [p for p in phases.split(",") if p]
        others = ",".join(p for p in wanted if p != "coverage")
        results = []
        for spec, path, same_handler in (
                ("order-webhook-connector.yaml", "/tradecloud/order", ["--exclude-operation-id", "webhookPut"]),
                ("shipment-webhook-connector.yaml", "/tradecloud/shipment", [])):
            url = f"https://{addr}{path}"
            if others:
                results.append(schemathesis(spec, url, st_config, examples, seed,
                                            extra + ["--phases", others], env))
            if "coverage" in wanted:
                # PUT and POST of the order webhook are one handler
                # (src/receiver/routes.rs, `store_order`) with one body
                # schema: the coverage phase (every boundary and null of the
                # body, JSON and tXML: about 30,000 requests) walks POST only.
                # A separate run, because a per-operation setting in the
                # config file makes schemathesis' examples phase 3x slower.
                results.append(schemathesis(spec, url, st_config, examples, seed,
                                            extra + ["--phases", "coverage", *same_handler], env))
        return results
    finally:
        serve.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the tradecloud binary")
    ap.add_argument("--examples", type=int, default=30, help="examples per operation (schemathesis -n)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", choices=["mock", "serve"], help="run one half")
    # The coverage phase walks every boundary of the order body (about 1,000
    # schema nodes, JSON and tXML): about three minutes on a 2-core machine
    # (debug binary), the examples and fuzzing phases about one more.
    ap.add_argument("--serve-phases", default="examples,coverage,fuzzing",
                    help="schemathesis phases against serve (default: all three)")
    args = ap.parse_args()
    # The servers run in a temporary directory: resolve the binary first.
    args.bin = os.path.abspath(args.bin)
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"error: no tradecloud binary at {args.bin}: build it (cargo build --bin tradecloud) or pass --bin")
    env = dict(os.environ, SCHEMATHESIS_HOOKS="schemathesis_hooks",
               PYTHONPATH=os.path.dirname(os.path.abspath(__file__)) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    results = []
    with tempfile.TemporaryDirectory(prefix="api-conformance-") as tmp:
        if args.only in (None, "mock"):
            results += run_mock(args.bin, tmp, args.examples, args.seed, env)
        if args.only in (None, "serve"):
            results += run_serve(args.bin, tmp, args.examples, args.seed, env, args.serve_phases)
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
