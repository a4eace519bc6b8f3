#!/usr/bin/env python3
"""Time each step of the operator's console (issue 21) on a large inbox.

Fills a SQLite inbox with N handled events (default 100,000, of 20,000
orders) plus three events of one order, the last of them dead (the ignored
test `fill_an_inbox_for_the_benchmark` in cli/tests/console.rs), starts
`tradecloud serve` with `[console]` on loopback, and times what an operator
does: open the login page, log in, list the events, find the order's events,
open the failed one, its order's timeline, replay it (confirmation page,
then the replay) and wait until it is `done`. Prints one line per step
(the median of --repeat runs for the pages that change nothing); the numbers
in BENCHMARKS.md ("Operator console") come from here.

    scripts/console-bench.py [--events 100000] [--release] [--repeat 5]
"""

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "operator password for the benchmark"
ORDER = "order-under-test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, cookie=None, form=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {}
    body = None
    if cookie:
        headers["Cookie"] = cookie
    if form is not None:
        body = urllib.parse.urlencode(form, doseq=True)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    elapsed = time.perf_counter() - started
    conn.close()
    return response.status, response.getheader("Set-Cookie"), text, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--release", action="store_true", help="build and time release binaries")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    profile = ["--release"] if args.release else []
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    exe = os.path.join(target, "release" if args.release else "debug", "tradecloud")
    subprocess.run(["cargo", "build", "--quiet", "--bin", "tradecloud", *profile], cwd=ROOT, check=True)

    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "inbox.db")
        started = time.perf_counter()
        fill = subprocess.run(
            ["cargo", "test", "--quiet", *profile, "-p", "tradecloud-cli", "--test", "integration",
             "console::fill_an_inbox_for_the_benchmark",
             "--", "--ignored", "--nocapture"],
            cwd=ROOT, check=True, capture_output=True, text=True,
            env={**os.environ, "CONSOLE_BENCH_DB": db, "CONSOLE_BENCH_EVENTS": str(args.events)},
        )
        failed = re.search(r"CONSOLE_BENCH_FAILED=(\d+)", fill.stdout).group(1)
        print(f"filled {args.events + 3} events in {time.perf_counter() - started:.0f} s "
              f"({os.path.getsize(db) / 1e6:.0f} MB); the failed one is #{failed}")

        port = free_port()
        config = os.path.join(tmp, "tradecloud.toml")
        with open(config, "w") as f:
            f.write(
                f'[server]\nlisten = "127.0.0.1:0"\n'
                f'[auth]\nmethod = "basic"\nusername = "tradecloud"\npassword = "a webhook password of length"\n'
                f'[store]\nurl = "sqlite://{db}"\n[processing]\npoll_interval_ms = 50\n'
                f'[console]\nlisten = "127.0.0.1:{port}"\ntls = false\npassword = "{PASSWORD}"\n'
            )
        serve = subprocess.Popen([exe, "serve", "--dev-tls", "--config", config],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env={**os.environ, "RUST_LOG": "warn"})
        try:
            deadline = time.time() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline or serve.poll() is not None:
                        sys.exit("tradecloud serve did not start")
                    time.sleep(0.1)

            def timed(name, method, path, cookie=None, form=None, repeat=1, expect=200):
                times = []
                for _ in range(repeat):
                    status, set_cookie, text, elapsed = request(port, method, path, cookie, form)
                    if status != expect:
                        sys.exit(f"{name}: {method} {path} answered {status}: {text[:300]}")
                    times.append(elapsed)
                print(f"{name:<44} {statistics.median(times) * 1000:8.1f} ms")
                return set_cookie, text

            print(f"{'step':<44} {'time':>11}")
            timed("login page (GET /)", "GET", "/", repeat=args.repeat)
            set_cookie, _ = timed("log in (POST /login)", "POST", "/login",
                                  form={"name": "bench", "password": PASSWORD}, expect=303)
            cookie = set_cookie.split(";")[0]
            timed("overview (GET /)", "GET", "/", cookie, repeat=args.repeat)
            timed("newest events (GET /events)", "GET", "/events", cookie, repeat=args.repeat)
            timed("dead events (GET /events?state=dead)", "GET", "/events?state=dead", cookie,
                  repeat=args.repeat)
            _, page = timed(f"find the order (GET /events?q={ORDER})", "GET", f"/events?q={ORDER}", cookie,
                            repeat=args.repeat)
            if page.count(f"/events/{failed}\"") != 1:
                sys.exit("the failed event is not listed")
            timed("an order of 5 events (GET /events?object=..)", "GET",
                  "/events?object=bench-order-777", cookie, repeat=args.repeat)
            timed("events by name (GET /events?name=..)", "GET",
                  "/events?name=OrderLinesConfirmedBySupplier", cookie, repeat=args.repeat)
            timed("a PO number, by its index (q=PO-...)", "GET",
                  "/events?q=" + urllib.parse.quote("PO-<script>alert(1)</script>"), cookie,
                  repeat=args.repeat)
            timed("events by a name no event has (walks all)", "GET",
                  "/events?name=NoSuchEventName", cookie, repeat=1)
            _, page = timed("a text in no body: one window (q=...)", "GET",
                            "/events?q=no-such-text-anywhere", cookie, repeat=1)
            older = re.search(r'<a rel="next" href="([^"]+)"', page)
            if older:
                timed("  the next window (Older events)", "GET", older.group(1).replace("&amp;", "&"),
                      cookie, repeat=1)
            _, page = timed("open the failed event (GET /events/ID)", "GET", f"/events/{failed}", cookie,
                            repeat=args.repeat)
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
            timed("its order's timeline (GET /objects/ID)", "GET", f"/objects/{ORDER}", cookie,
                  repeat=args.repeat)
            timed("replay: confirmation page (POST /replay)", "POST", "/replay", cookie,
                  form={"csrf": csrf, "id": failed})
            started = time.perf_counter()
            timed("replay: confirmed (POST /replay)", "POST", "/replay", cookie,
                  form={"csrf": csrf, "id": failed, "confirm": "yes"})
            while True:
                _, _, text, _ = request(port, "GET", f"/events/{failed}", cookie)
                if 'class="state done"' in text:
                    break
                if time.perf_counter() - started > 60:
                    sys.exit("the replayed event was not handled within 60 s")
                time.sleep(0.02)
            print(f"{'replayed event shown done (poll /events/ID)':<44} "
                  f"{(time.perf_counter() - started) * 1000:8.1f} ms")
        finally:
            serve.terminate()
            serve.wait()


if __name__ == "__main__":
    main()
