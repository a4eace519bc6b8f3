#!/usr/bin/env python3
"""CPU time per event of `tradecloud serve`, two binaries side by side.

    scripts/cpu-per-event.py --a OLD_BINARY --b NEW_BINARY --load LOAD_BINARY
                             [--rounds 3] [--secs 10] [--connections 32]
                             [--orders 100] [--mode receive-only|handled|both]
                             [--body FILE] [--rust-log warn]
    scripts/cpu-per-event.py --b BINARY --load LOAD_BINARY --mode MODE
                             (--perf OUT.perf | --strace) [--secs 6] [...]
    scripts/cpu-per-event.py --a-rev 99de869 --b-rev HEAD [--build dev|release] [...]

Each round runs A, then B (interleaved, so that a machine that gets busier
or quieter affects both alike), each on a fresh SQLite inbox
(`serve --dev-tls`, Basic auth, `synchronous=FULL`): benches/load.rs
(`cargo bench --bench load --no-run` builds it) POSTs the 14 KB order event
of tests/fixtures with its own messageId per request and one of `--orders`
order ids, over `--connections` TLS connections for `--secs` seconds.

Reported per run: events stored (2xx), events/s, and the CPU time (user +
system, from /proc/PID/stat) of the serve process divided by the events:

* receive-only: `serve --receive-only`, CPU over the load;
* handled: processing on (the built-in handler), CPU from the start of the
  load until every stored event is `done` (read from the SQLite file).

CPU per event is the figure to compare: events/s depends on what else the
machine does (BENCHMARKS.md). Prints a Markdown table with the medians.

`--a-rev`/`--b-rev` name commits instead of binaries: each is checked out
(a git worktree) and built with `--build` (`dev`: `cargo build`, as
`cargo run` without `--release`; `release`, the default), under
target/cpu-per-event/ (kept, so a second run builds nothing); without
`--load` the load generator is built from this checkout. Issue 24's
check, both ways: `--a-rev 99de869 --b-rev HEAD --build dev`, then
`--build release` (BENCHMARKS.md, "Issue 24 item 14, where it ends").

Where the CPU goes: with `--perf OUT.perf` or `--strace` one run of `--b`
per mode (no `--a`, one round) is watched during the load:

* `--perf OUT.perf`: `perf record` with call graphs of the server (Debian's
  linux-perf; `python3 scripts/perf-parts.py OUT.perf` then gives the share
  of each part; with `--mode both`, OUT.receive-only.perf and OUT.handled.perf);
* `--strace`: the server's system calls (`strace -c -f`) per stored event
  (strace slows the server: counts, not times).
"""

import argparse
import base64
import json
import os
import shutil
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BODY = os.path.join(ROOT, "tests/fixtures/order-webhook/order-event.json")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the line (1-based).
    return (int(fields[11]) + int(fields[12])) / TICKS


def wait_healthy(port, cert, proc, log):
    context = ssl.create_default_context(cafile=cert) if os.path.exists(cert) else None
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit(f"serve exited: {open(log).read()}")
        try:
            if context is None and os.path.exists(cert):
                context = ssl.create_default_context(cafile=cert)
            if context is not None:
                urllib.request.urlopen(f"https://localhost:{port}/healthz", context=context, timeout=2)
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"serve did not become healthy: {open(log).read()}")


def states(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = dict(conn.execute("SELECT state, count(*) FROM events GROUP BY state").fetchall())
    finally:
        conn.close()
    return rows


def start_watcher(pid, mode, args, work):
    """The profiler attached to the server during the load, if one is asked for."""
    if args.perf:
        out = args.perf if args.mode != "both" else f"{os.path.splitext(args.perf)[0]}.{mode}.perf"
        command = ["perf", "record", "-q", "-o", out, "-F", "999", "--call-graph", "dwarf,32768",
                   "-p", str(pid), "--", "sleep", str(args.secs)]
    elif args.strace:
        command = ["timeout", "-s", "INT", str(args.secs), "strace", "-c", "-f", "-p", str(pid),
                   "-o", os.path.join(work, "strace.txt")]
    else:
        return None
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def syscalls_per_event(path, events):
    """`strace -c` output as (system call, calls per event), most first."""
    rows = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            # "% time, seconds, usecs/call, calls, [errors,] syscall"
            if len(fields) >= 5 and fields[3].isdigit() and fields[-1] != "total":
                rows.append((fields[-1], int(fields[3]) / max(events, 1)))
    return sorted(rows, key=lambda row: -row[1])


def run(binary, load, mode, args):
    work = tempfile.mkdtemp(prefix="cpu-per-event-")
    try:
        port = free_port()
        password = base64.b64encode(os.urandom(12)).decode().replace("/", "x").replace("+", "y")
        cert = os.path.join(work, "cert.pem")
        db = os.path.join(work, "inbox.db")
        env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
        if args.rust_log:
            env["RUST_LOG"] = args.rust_log
        env.update(
            TRADECLOUD_AUTH_METHOD="basic",
            TRADECLOUD_AUTH_USERNAME="tradecloud",
            TRADECLOUD_AUTH_PASSWORD=password,
            TRADECLOUD_STORE_URL=f"sqlite://{db}",
            TRADECLOUD_SERVER_MAX_CONCURRENT_REQUESTS="4096",
        )
        flags = ["--receive-only"] if mode == "receive-only" else []
        log = os.path.join(work, "serve.log")
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [binary, "serve", "--dev-tls", "--dev-cert-out", cert, "--listen", f"127.0.0.1:{port}", *flags],
                cwd=work, env=env, stdout=out, stderr=out,
            )
        try:
            wait_healthy(port, cert, proc, log)
            load_env = dict(
                os.environ,
                LOAD_URL=f"https://localhost:{port}/tradecloud/order",
                LOAD_PASSWORD=password,
                LOAD_CACERT=cert,
                LOAD_BODY=args.body,
                LOAD_SECS=str(args.secs),
                LOAD_CONNECTIONS=str(args.connections),
                LOAD_ORDERS=str(args.orders),
            )
            watcher = start_watcher(proc.pid, mode, args, work)
            before = cpu_seconds(proc.pid)
            started = time.monotonic()
            result = subprocess.run([load], env=load_env, capture_output=True, text=True, check=True)
            load_secs = time.monotonic() - started
            stats = json.loads(result.stdout)
            stored = stats["ok"]
            if watcher is not None:
                watcher.wait()
                if args.strace:
                    print(f"{mode}: system calls per stored event ({stored} events, under strace):")
                    for name, per_event in syscalls_per_event(os.path.join(work, "strace.txt"), stored):
                        print(f"  {name:14} {per_event:6.2f}")
            if mode == "handled":
                deadline = time.monotonic() + 900
                while True:
                    counts = states(db)
                    total = sum(counts.values())
                    if total and counts.get("done", 0) == total:
                        break
                    if time.monotonic() > deadline:
                        sys.exit(f"not all done after 15 minutes: {counts}")
                    time.sleep(0.2)
                stored = total
            cpu = cpu_seconds(proc.pid) - before
            elapsed = time.monotonic() - started
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        return {
            "events": stored,
            "per_sec": stats["ok"] / load_secs,
            "handled_per_sec": stored / elapsed,
            "cpu_us": 1e6 * cpu / max(stored, 1),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def cargo_executable(command, cwd, target_dir, name):
    """Run a cargo build `command` and return the path of the executable `name` it made."""
    env = {k: v for k, v in os.environ.items() if k not in ("CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR")}
    env["CARGO_TARGET_DIR"] = target_dir
    print(f"building {name} in {cwd}: {' '.join(command)}", file=sys.stderr)
    built = subprocess.run(
        [*command, "--message-format=json-render-diagnostics"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, text=True,
    )
    if built.returncode != 0:
        sys.exit(f"{' '.join(command)} failed in {cwd} (its errors are above)")
    found = None
    for line in built.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") == "compiler-artifact" and message.get("executable") \
                and message["target"]["name"] == name:
            found = message["executable"]
    if found is None:
        sys.exit(f"{' '.join(command)} made no executable named {name}")
    return found


def build_rev(rev, profile):
    """The `tradecloud` executable of commit `rev`, built with `profile` (dev or release)."""
    commit = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT,
                            capture_output=True, text=True)
    if commit.returncode != 0:
        sys.exit(f"{rev} is not a commit of this repository: {commit.stderr.strip()}")
    short = commit.stdout.strip()[:12]
    cache = os.path.join(ROOT, "target", "cpu-per-event")
    tree = os.path.join(cache, f"src-{short}")
    if not os.path.exists(os.path.join(tree, "Cargo.toml")):
        os.makedirs(cache, exist_ok=True)
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=True)
        subprocess.run(["git", "worktree", "add", "--detach", "--force", tree, short], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    # The command line tool is its own crate since issue 24; before, the
    # library's `tradecloud` binary behind its default `cli` feature.
    package = ["-p", "tradecloud-cli"] if os.path.exists(os.path.join(tree, "cli", "Cargo.toml")) \
        else ["--bin", "tradecloud"]
    command = ["cargo", "build", "--locked", *package, *(["--release"] if profile == "release" else [])]
    return cargo_executable(command, tree, os.path.join(cache, f"target-{short}"), "tradecloud")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", help="the binary to compare against (before); not with --perf or --strace")
    parser.add_argument("--b", help="the binary to measure (after)")
    parser.add_argument("--a-rev", help="instead of --a: the commit to build and compare against")
    parser.add_argument("--b-rev", help="instead of --b: the commit to build and measure")
    parser.add_argument("--build", choices=["dev", "release"], default="release",
                        help="how --a-rev and --b-rev are built (default: release)")
    parser.add_argument("--load", help="benches/load.rs's executable (default: built from this checkout)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--secs", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--mode", choices=["receive-only", "handled", "both"], default="both")
    parser.add_argument(
        "--rust-log",
        default="warn",
        help="RUST_LOG of serve (default: warn, no line per event); an empty value leaves it "
        "unset, so that serve logs at its default level (a line per stored and handled event)",
    )
    parser.add_argument(
        "--body",
        default=BODY,
        help="the event posted (its orderId and messageId values are replaced per request; "
        "default: the 14 KB order event, whose purchase order number is the same for every order)",
    )
    watch = parser.add_mutually_exclusive_group()
    watch.add_argument("--perf", metavar="OUT", help="record the server of one run of --b with perf into OUT")
    watch.add_argument("--strace", action="store_true", help="count the system calls of one run of --b per event")
    args = parser.parse_args()
    # Every mistake in the arguments is said before anything is built.
    for side in ("a", "b"):
        if getattr(args, f"{side}_rev") and getattr(args, side):
            parser.error(f"give --{side} or --{side}-rev, not both")
    if not (args.b or args.b_rev):
        parser.error("--b (or --b-rev) is needed")
    watching = bool(args.perf or args.strace)
    if watching and (args.a or args.a_rev):
        parser.error("--perf and --strace watch one run of --b: leave out --a")
    if not watching and not (args.a or args.a_rev):
        parser.error("--a (or --a-rev) is needed to compare two binaries")
    for side in ("a", "b"):
        rev = getattr(args, f"{side}_rev")
        if rev:
            setattr(args, side, build_rev(rev, args.build))
    if not args.load:
        args.load = cargo_executable(["cargo", "bench", "--locked", "--bench", "load", "--no-run"], ROOT,
                                     os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "load")
    if watching:
        modes = ["receive-only", "handled"] if args.mode == "both" else [args.mode]
        for mode in modes:
            r = run(args.b, args.load, mode, args)
            print(f"{mode}: {r['events']} events, {r['cpu_us']:.0f} µs CPU per event (watched)", file=sys.stderr)
        return
    modes = ["receive-only", "handled"] if args.mode == "both" else [args.mode]
    results = {(label, mode): [] for label in "ab" for mode in modes}
    for n in range(args.rounds):
        for mode in modes:
            for label, binary in (("a", args.a), ("b", args.b)):
                r = run(binary, args.load, mode, args)
                results[(label, mode)].append(r)
                print(
                    f"round {n + 1} {mode:12} {label}: {r['events']} events, {r['per_sec']:.0f}/s received, "
                    f"{r['handled_per_sec']:.0f}/s to done, {r['cpu_us']:.0f} µs CPU per event",
                    file=sys.stderr,
                )
    print("| binary | mode | events/s received (median) | CPU µs per event (each round) | median |")
    print("|---|---|---:|---|---:|")
    for mode in modes:
        for label, binary in (("a", args.a), ("b", args.b)):
            rs = results[(label, mode)]
            cpus = [r["cpu_us"] for r in rs]
            print(
                f"| {label}: `{binary}` | {mode} | {statistics.median(r['per_sec'] for r in rs):,.0f} | "
                f"{' / '.join(f'{c:.0f}' for c in cpus)} | **{statistics.median(cpus):.0f}** |"
            )
    for mode in modes:
        a = statistics.median(r["cpu_us"] for r in results[("a", mode)])
        b = statistics.median(r["cpu_us"] for r in results[("b", mode)])
        print(f"\n{mode}: b needs {b / a:.2f} × a's CPU per event")


if __name__ == "__main__":
    main()
