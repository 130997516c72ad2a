#!/usr/bin/env python3
"""
Where a one-message connection's time goes: N clients make connections one
after another (STARTTLS, AUTH at the gateway, one message each), as
bench/submit.py does, timing each step of every connection from the
client's side, against the real gateway and, in the same run, the
reference Postfix relaying to the same smtp-sink.

Prints, per target and round, the connections per second and the median
(then the 99th percentile) milliseconds of each step: the greeting after the TCP connect, EHLO,
STARTTLS, the TLS handshake, EHLO again, AUTH (none at Postfix),
MAIL/RCPT/DATA (pipelined), the message up to its 250, QUIT; and the
whole connection. A step that is long at one target and short at the other
is where that target waits.

    python bench/steps.py --workers 2 --rounds 2
    python bench/steps.py --clients 100 --connections 20    # many at once

A greeting whose p99 is about a second is a SYN the server's listen queue
had no room for (the client sent it again a second later).

Needs what bench/submit.py needs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from submit import (
    CLIENT_TLS,
    REFERENCE_TOOL,
    Sink,
    freePort,
    makeBody,
    makeCertificate,
    percentile,
    reply,
    startGateway,
    waitFor,
)

STEPS = ("greeting", "EHLO", "STARTTLS", "handshake", "EHLO-2", "AUTH", "envelope", "250", "QUIT")


async def connection(port: int, user: str | None, password: str | None, body: bytes) -> list[float]:
    """One connection, one message: the seconds each step took, then the whole."""
    marks = [time.perf_counter()]

    def mark() -> None:
        marks.append(time.perf_counter())

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reply(reader)
    mark()
    writer.write(b"EHLO bench.test\r\n")
    await reply(reader)
    mark()
    writer.write(b"STARTTLS\r\n")
    await reply(reader)
    mark()
    await writer.start_tls(CLIENT_TLS)
    mark()
    writer.write(b"EHLO bench.test\r\n")
    await reply(reader)
    mark()
    if user:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        writer.write(f"AUTH PLAIN {token}\r\n".encode())
        if (await reply(reader))[0] != 235:
            raise SystemExit("AUTH failed")
    mark()
    writer.write(b"MAIL FROM:<bench@example.com>\r\nRCPT TO:<sink@example.org>\r\nDATA\r\n")
    for _ in range(3):
        await reply(reader)
    mark()
    writer.write(body)
    if (await reply(reader))[0] != 250:
        raise SystemExit("the message was refused")
    mark()
    writer.write(b"QUIT\r\n")
    await reply(reader)
    writer.close()
    mark()
    return [b - a for a, b in zip(marks, marks[1:], strict=False)] + [marks[-1] - marks[0]]


async def load(port, user, password, body, clients: int, each: int) -> list[list[float]]:
    timings: list[list[float]] = []

    async def client() -> None:
        for _ in range(each):
            timings.append(await connection(port, user, password, body))

    await asyncio.gather(*(client() for _ in range(clients)))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients [20]")
    parser.add_argument("--connections", type=int, default=40, help="per client and round [40]")
    parser.add_argument("--workers", type=int, default=2, help="the gateway's --workers [2]")
    parser.add_argument("--rounds", type=int, default=2, help="each target this many times [2]")
    parser.add_argument("--size", type=int, default=10, help="message size in KB [10]")
    parser.add_argument(
        "--key",
        choices=("ec", "rsa"),
        default="ec",
        help="both servers' certificate key: ECDSA P-256 or RSA-2048 [ec]",
    )
    parser.add_argument(
        "--reference-tool", default=str(REFERENCE_TOOL), help="path of the reference-postfix tool"
    )
    args = parser.parse_args()
    sink = Sink()
    workdir = Path(tempfile.mkdtemp(prefix="bench-steps-"))
    certificate = makeCertificate(workdir, args.key)
    gateway, port, password = startGateway(sink, workdir, args.workers, certificate)
    postfixPort = freePort()
    started = subprocess.run(
        [sys.executable, args.reference_tool, "start", "--listen", str(postfixPort)]
        + ["--relay", str(sink.port), "--tls", "--key", args.key],
        check=True,
        capture_output=True,
        text=True,
    )
    postfixDir = started.stdout.strip().splitlines()[-1]
    waitFor(postfixPort)
    body = makeBody(args.size)
    targets = (
        (f"smtpeter -w {args.workers}", port, "bench", password),
        ("postfix", postfixPort, None, None),
    )
    print("ms per step, median then p99: " + " ".join(STEPS) + " whole")
    try:
        for _ in range(args.rounds):
            for name, target, user, secret in targets:
                asyncio.run(load(target, user, secret, body, 2, 2))  # warm-up
                began = time.perf_counter()
                timings = asyncio.run(
                    load(target, user, secret, body, args.clients, args.connections)
                )
                rate = len(timings) / (time.perf_counter() - began)
                medians = (statistics.median(t[i] for t in timings) for i in range(len(STEPS) + 1))
                print(f"{name:>14} {rate:5.0f}/s " + " ".join(f"{1000 * m:6.2f}" for m in medians))
                tails = (percentile([t[i] for t in timings], 0.99) for i in range(len(STEPS) + 1))
                print(f"{'p99':>14} {'':>7} " + " ".join(f"{1000 * m:6.1f}" for m in tails))
    finally:
        gateway.terminate()
        gateway.wait(30)
        subprocess.run(
            [sys.executable, args.reference_tool, "stop", postfixDir], capture_output=True
        )
        sink.stop()


if __name__ == "__main__":
    main()
