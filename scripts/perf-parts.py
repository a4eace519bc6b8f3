#!/usr/bin/env python3
"""Share of a receiver's CPU samples by part, from a `perf record -g` file.

    python3 scripts/perf-parts.py OUT.perf

(`scripts/cpu-per-event.py --b BINARY --load LOAD --mode receive-only
--perf OUT.perf` records one.) A sample in
the kernel goes to the first kernel part its stack names (fsync, pwrite,
pread, network, scheduling); a sample whose own frame is the allocator or a
copy goes to "alloc" or "copy"; any other goes to the part of the nearest
frame, from the leaf up, that names one (LZ4, decode, SQLite, TLS, HTTP,
logging, metrics, Tokio, the rest of tradecloud).
"""

import collections
import re
import subprocess
import sys

PARTS = [
    ("lz4", r"lz4_flex"),
    ("decode", r"serde_json|serde_core::de|serde::private::de"
     r"|tradecloud::webhook::json|types::decimal|iso8601|open_enum|FlatMap|__deserialize_content"),
    ("sqlite", r"sqlite3|rusqlite|pager|btree|Vdbe|wal[A-Z]|memjrnl|subjournal|tradecloud::inbox::sqlite"),
    ("tls", r"rustls|aws_lc|aes|gcm|ghash|chacha"),
    ("http", r"hyper|axum|tower|http::|httparse"),
    ("tracing/log", r"tracing|core::fmt|write_fmt|Formatter"),
    ("metrics", r"prometheus"),
    ("tokio", r"tokio"),
    ("tradecloud (rest)", r"tradecloud"),
]
KERNEL = [
    ("kernel: fsync", r"fsync|fdatasync|file_write_and_wait|filemap_fdatawait"),
    ("kernel: pwrite", r"pwrite|ext4_buffered_write|generic_perform_write"),
    ("kernel: pread", r"pread|filemap_read"),
    ("kernel: network", r"tcp_|sock_|inet_|__sys_sendto|__sys_recvfrom|sendmsg|recvmsg|epoll"),
    ("kernel: scheduling", r"futex|schedule|finish_task_switch"),
]
ALLOC = re.compile(r"^_?mi_|mimalloc|malloc|free|realloc")
COPY = re.compile(r"memmove|memcpy|memset")


def part(lines):
    frames = []
    for line in lines:
        fields = line.strip().split(None, 1)
        frames.append((fields[0], fields[1] if len(fields) > 1 else ""))
    if frames[0][0].startswith("ffffffff"):
        for name, pattern in KERNEL:
            if any(re.search(pattern, sym) for _, sym in frames):
                return name
        return "kernel: other"
    if ALLOC.search(frames[0][1]):
        return "alloc"
    if COPY.search(frames[0][1]):
        return "copy"
    for _, sym in frames:
        for name, pattern in PARTS:
            if re.search(pattern, sym):
                return name
    return "other"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    text = subprocess.run(
        ["perf", "script", "-i", sys.argv[1], "-F", "ip,sym"],
        capture_output=True, text=True, check=True,
    ).stdout
    counts = collections.Counter()
    for block in text.split("\n\n"):
        lines = [l for l in block.strip().splitlines() if l.strip()]
        if lines:
            counts[part(lines)] += 1
    total = sum(counts.values())
    if not total:
        sys.exit("no samples")
    for name, n in counts.most_common():
        print(f"{name:20} {100 * n / total:5.1f} %")
    print(f"({total} samples)")


if __name__ == "__main__":
    main()
