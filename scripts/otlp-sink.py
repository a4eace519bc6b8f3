#!/usr/bin/env python3
"""A minimal OTLP/HTTP trace sink for the load test (BENCHMARKS.md, "Traces").

    scripts/otlp-sink.py PORT

Accepts `POST /v1/traces` (protobuf `ExportTraceServiceRequest`), counts the
spans in it by walking the protobuf wire format (resource_spans = 1 →
scope_spans = 2 → spans = 2), and answers 200 with an empty
`ExportTraceServiceResponse`. `GET /count` answers {"requests": N,
"spans": N, "bytes": N}. Standard library only; the tests have their own
collector in Rust (cli/tests/telemetry.rs).
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS = {"requests": 0, "spans": 0, "bytes": 0}
LOCK = threading.Lock()


def varint(data, i):
    shift = result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(data):
    """(field number, wire type, value or bytes) of a message."""
    i = 0
    while i < len(data):
        key, i = varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(data, i)
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 2:
            length, i = varint(data, i)
            value, i = data[i:i + length], i + length
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def count_spans(body):
    spans = 0
    for number, wire, resource_spans in fields(body):
        if number != 1 or wire != 2:
            continue
        for n2, w2, scope_spans in fields(resource_spans):
            if n2 != 2 or w2 != 2:
                continue
            spans += sum(1 for n3, w3, _ in fields(scope_spans) if n3 == 2 and w3 == 2)
    return spans


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/traces":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        spans = count_spans(body)
        with LOCK:
            COUNTS["requests"] += 1
            COUNTS["spans"] += spans
            COUNTS["bytes"] += len(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        with LOCK:
            body = json.dumps(COUNTS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
