"""
Click redirects per second, with every click durably recorded.

Starts a real gateway (twistd) on a fresh data directory with a receiving
sink, sends one message with trackclicks on and 20 links, takes the
rewritten links from the delivered copy, then drives GET /c/... with
keep-alive connections from client processes for --seconds. Prints
redirects/s, latency percentiles, the gateway's CPU seconds (so the
redirects per second per core can be read off on a shared machine), and
checks that the database holds one click event per redirect answered.

    python bench/tracking.py [--seconds 10] [--connections 32] [--clients 2]
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import multiprocessing
import os
import re
import signal
import smtplib
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from submit import cpuSeconds, freePort, waitFor  # noqa: E402  (bench/ is the script's own directory)

from smtpeter.testing import SinkServer  # noqa: E402

BIN = Path(sys.executable).parent
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


async def _client(port: int, paths: list[str], until: float, latencies: list, worker: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = worker
    while time.monotonic() < until:
        path = paths[i % len(paths)]
        i += 1
        started = time.perf_counter()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: click.bench\r\nUser-Agent: {BROWSER}\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: *(\d+)", head)
        if length and int(length[1]):
            await reader.readexactly(int(length[1]))
        if not head.startswith(b"HTTP/1.1 302"):
            raise SystemExit(f"unexpected answer: {head[:80]!r}")
        latencies.append(time.perf_counter() - started)
    writer.close()


def _clientProcess(port, paths, until, connections, queue, offset):
    latencies: list[float] = []

    async def main():
        await asyncio.gather(
            *(_client(port, paths, until, latencies, offset + c) for c in range(connections))
        )

    asyncio.run(main())
    queue.put(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32, help="per client process")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    args = parser.parse_args()

    sink = SinkServer().start()
    work = Path(tempfile.mkdtemp(prefix="smtpeter-bench-"))
    smtp, http = freePort(), freePort()
    log = open(work / "gateway.log", "wb")
    gateway = subprocess.Popen(
        [
            str(BIN / "twistd"),
            "-n",
            "--pidfile=",
            "smtpeter",
            "--data",
            str(work / "data"),
            "--hostname",
            "gw.bench",
            "--smtp",
            f"tcp:{smtp}:interface=127.0.0.1",
            "--smtps",
            f"tcp:{freePort()}:interface=127.0.0.1",
            "--http",
            f"tcp:{http}:interface=127.0.0.1",
            "--dashboard",
            "none",  # its default port may be another gateway's
            "--relay",
            f"127.0.0.1:{sink.port}",
            "--public-url",
            "http://click.bench",
            # 20 links replayed: every click recorded, as 20 people's would be.
            "--track-limit",
            "0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=work,
    )
    try:
        waitFor(smtp)
        waitFor(http)
        created = subprocess.run(
            [
                str(BIN / "smtpeter"),
                "--data",
                str(work / "data"),
                "login",
                "create",
                "bench",
                "--feature",
                "trackclicks",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        password = re.search(r"password: (\S+)", created.stdout)[1]
        message = email.message.EmailMessage()
        message["From"], message["To"], message["Subject"] = "b@bench.test", "r@bench.test", "b"
        links = "".join(
            f'<a href="https://shop.example.com/item/{i}">item {i}</a> ' for i in range(20)
        )
        message.set_content(f"<html><body><p>{links}</p></body></html>", subtype="html")
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", smtp) as client:
            client.starttls(context=context)
            client.login("bench", password)
            client.sendmail(
                "b@bench.test", ["r@bench.test"], message.as_bytes(policy=email.policy.SMTP)
            )
        [received] = sink.wait(1)
        body = email.message_from_bytes(received.data, policy=email.policy.default)
        paths = re.findall(r'href="http://click\.bench(/c/[^"]+)"', body.get_content())
        assert len(paths) == 20, paths
        time.sleep(6)  # past the "clicked within 5 seconds of sending" rule

        cpuBefore = cpuSeconds(gateway.pid)
        until = time.monotonic() + args.seconds
        queue = multiprocessing.Queue()
        started = time.monotonic()
        clients = [
            multiprocessing.Process(
                target=_clientProcess,
                args=(http, paths, until, args.connections, queue, n * args.connections),
            )
            for n in range(args.clients)
        ]
        for c in clients:
            c.start()
        latencies = sorted(x for _ in clients for x in queue.get())
        for c in clients:
            c.join()
        elapsed = time.monotonic() - started
        cpu = cpuSeconds(gateway.pid) - cpuBefore
        db = sqlite3.connect(work / "data" / "smtpeter.sqlite")
        recorded = db.execute("SELECT count(*) FROM events WHERE type = 'click'").fetchone()[0]

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

        total = len(latencies)
        print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        print(
            f"{total} redirects in {elapsed:.1f} s with {args.clients}x{args.connections}"
            " keep-alive connections"
        )
        print(f"redirects/s: {total / elapsed:.0f}")
        print(
            f"latency ms: p50 {pct(50):.1f}  p90 {pct(90):.1f}  p99 {pct(99):.1f}"
            f"  max {latencies[-1] * 1000:.1f}"
        )
        print(f"gateway CPU: {cpu:.1f} s, so {total / cpu:.0f} redirects per CPU-second")
        print(
            f"click events in the database: {recorded} (every redirect answered: "
            f"{'yes' if recorded >= total else 'NO'})"
        )
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(20)
        sink.stop()


if __name__ == "__main__":
    main()
