#!/usr/bin/env python3
"""
Overview benchmark: fill a gateway's database with N events (default
1,000,000) through the event writer's own code (messages, events, tags and
the hourly counters in the same transactions), spread over 30 days, then
start the real gateway on it and time GET /v1/stats, the overview's query:
the last day by hour, the last 30 days by day, and both filtered by tag,
login and sender domain.

Prints the fill rate, the database size, and the p50/p99/max milliseconds
of each query over --repeat requests.

    python bench/stats.py --events 1000000
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from submit import launchGateway  # noqa: E402  (bench/ is the script's own directory)

from smtpeter.queue import Envelope, Options, QueuedMessage
from smtpeter.queue._message import Recipient
from smtpeter.store import connect
from smtpeter.store._apitokens import TokenStore
from smtpeter.store._events import EventStore

DAY = 86400
LOGINS = ("shop", "newsletter", "alerts", "billing")
DOMAINS = ("example.com", "shop.example", "news.example.org")
TAGS = ("spring", "autumn", "weekly", "receipt", "launch")


def fill(path: Path, events: int, now: float) -> float:
    """Write C{events} events (5 per message) in transactions of 10,000; return the seconds."""
    db = connect(path)
    store = EventStore(db)
    started = time.perf_counter()
    written = 0
    n = 0
    while written < events:
        db.execute("BEGIN")
        for _ in range(2000):
            n += 1
            qid = f"{n:020X}"
            when = now - random.random() * 30 * DAY
            tags = tuple(random.sample(TAGS, random.randint(0, 2)))
            content = (
                f"From: News <news@{random.choice(DOMAINS)}>\r\nSubject: message {n}\r\n\r\nx\r\n"
            ).encode()
            message = QueuedMessage(
                qid,
                Envelope("bounce@example.com", (Recipient(f"reader{n}@example.net"),)),
                Options(frozenset(), tags, random.choice(LOGINS)),
                when,
                content,
            )
            store.addMessage(message)
            recipient = f"reader{n}@example.net"
            outcome = random.random()
            kinds = [("attempt", {}), ("delivery", {})]
            if outcome < 0.1:
                kinds = [("attempt", {}), ("failure", {"permanent": False}), ("delivery", {})]
            elif outcome < 0.15:
                kinds = [("attempt", {}), ("bounce", {"class": random.choice(("hard", "soft"))})]
            kinds += [("open", {}), ("click", {})][: random.randint(0, 2)]
            for offset, (kind, details) in enumerate(kinds):
                store.addEvent(kind, when + offset * 60, qid, recipient, tags, details)
                written += 1
        db.execute("COMMIT")
    db.close()
    return time.perf_counter() - started


def get(port: int, path: str, token: str) -> tuple[float, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    assert response.status == 200, body
    return elapsed, json.loads(body)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events to store")
    parser.add_argument("--repeat", type=int, default=30, help="requests per query")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-stats-"))
    data = workdir / "data"
    bindir = Path(sys.executable).parent
    subprocess.run(
        [str(bindir / "smtpeter"), "--data", str(data), "init"], check=True, capture_output=True
    )
    now = time.time()
    seconds = fill(data / "smtpeter.sqlite", args.events, now)
    size = (data / "smtpeter.sqlite").stat().st_size
    print(
        f"filled {args.events} events in {seconds:.1f} s ({args.events / seconds:,.0f}/s);"
        f" database {size / 2**20:.0f} MiB",
        flush=True,
    )
    token = TokenStore(connect(data / "smtpeter.sqlite")).create("bench")[1]
    process, _, http_ = launchGateway(workdir, data, 9, 1)
    try:
        queries = {
            "last day by hour": "/v1/stats",
            "30 days by day": "/v1/stats?by=day",
            "30 days by day, one tag": "/v1/stats?by=day&tag=spring",
            "30 days by day, login and domain": "/v1/stats?by=day&login=shop&domain=example.com",
        }
        for name, path in queries.items():
            times = []
            for _ in range(args.repeat):
                elapsed, body = get(http_, path, token)
                times.append(1000 * elapsed)
            times.sort()
            print(
                f"{name:>34}: p50 {statistics.median(times):6.1f} ms"
                f"  p99 {times[int(0.99 * (len(times) - 1))]:6.1f} ms  max {times[-1]:6.1f} ms"
                f"  ({sum(body['totals'].values()):,} counted)",
                flush=True,
            )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
