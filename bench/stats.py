#!/usr/bin/env python3
"""
Overview benchmark: fill a gateway's database with N events (default
1,000,000) through the event writer's own code (messages, events, tags and
the hourly counters in the same transactions), spread over 30 days, then
start the real gateway on it and time GET /v1/stats, the overview's query:
the last day by hour, the last 30 days by day, and both filtered by tag,
login and sender domain; then the dashboard's pages for the same (logged
in, as a browser would be), and its activity search.

Prints the fill rate, the database size, and the p50/p99/max milliseconds
of each query over --repeat requests.

    python bench/stats.py --events 1000000
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from submit import freePort, launchGateway  # noqa: E402  (bench/ is the script's own directory)

from smtpeter.message import Envelope, Options, QueuedMessage, Recipient
from smtpeter.store import openDatabase
from smtpeter.store._admins import AdminStore
from smtpeter.store._apitokens import TokenStore
from smtpeter.store._events import EventStore

DAY = 86400
LOGINS = ("shop", "newsletter", "alerts", "billing")
DOMAINS = ("example.com", "shop.example", "news.example.org")
TAGS = ("spring", "autumn", "weekly", "receipt", "launch")


def fill(path: Path, events: int, now: float) -> float:
    """Write C{events} events (5 per message) in transactions of 10,000; return the seconds."""
    db = openDatabase(path)
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


def logIn(port: int, name: str, password: str) -> str:
    """Log in to the dashboard as a browser does; the session cookie."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("set-cookie").split(";")[0]
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    form = urlencode({"csrf": csrf, "name": name, "password": password, "next": "/"})
    connection.request(
        "POST",
        "/login",
        form,
        {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 303, response.status
    return response.getheader("set-cookie").split(";")[0]


def page(port: int, path: str, cookie: str) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Cookie": cookie})
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    assert response.status == 200, (path, response.status, body[:200])
    return elapsed


def report(name: str, times: list[float], more: str = "") -> None:
    times = sorted(1000 * t for t in times)
    print(
        f"{name:>34}: p50 {statistics.median(times):6.1f} ms"
        f"  p99 {times[int(0.99 * (len(times) - 1))]:6.1f} ms  max {times[-1]:6.1f} ms{more}",
        flush=True,
    )


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
    token = TokenStore(openDatabase(data / "smtpeter.sqlite")).create("bench")[1]
    password = AdminStore(openDatabase(data / "smtpeter.sqlite")).create("bench", "viewer")[1]
    dashboard = freePort()
    process, _, http_ = launchGateway(
        workdir, data, 9, 1, ("--dashboard", f"tcp:{dashboard}:interface=127.0.0.1")
    )
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
                times.append(elapsed)
            report(name, times, f"  ({sum(body['totals'].values()):,} counted)")
        cookie = logIn(dashboard, "bench", password)
        pages = {
            "dashboard: overview, 24 hours": "/",
            "dashboard: overview, 30 days": "/?range=30d",
            "dashboard: 30 days, tag and login": "/?range=30d&tag=spring&login=shop",
            "dashboard: activity, newest": "/activity",
            "dashboard: activity, one login": "/activity?login=alerts",
            "dashboard: activity, subject part": "/activity?subject=message+12345",
            "dashboard: activity, bounced": "/activity?status=bounced",
        }
        for name, path in pages.items():
            report(name, [page(dashboard, path, cookie) for _ in range(args.repeat)])
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
