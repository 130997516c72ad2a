#!/usr/bin/env python3
"""
What each step of a submission connection costs the gateway: N connections
from 20 concurrent clients for each dialogue, each a step longer than the
one before, and the CPU milliseconds per connection of the gateway's whole
process tree (and of this load generator) for each.

    plain   connect, EHLO, QUIT
    tls     + STARTTLS and EHLO again
    auth    + AUTH PLAIN
    message + one message of --size KB (MAIL, RCPT, DATA), relayed to a sink

The differences between rows are what TLS, AUTH and a message cost.

    python bench/dialogue.py --connections 3000 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import tempfile
import time
from pathlib import Path

from submit import CLIENT_TLS, Sink, cpuSeconds, makeBody, reply, startGateway

DIALOGUES = ("plain", "tls", "auth", "message")


async def session(port: int, dialogue: str, password: str, body: bytes) -> None:
    steps = DIALOGUES.index(dialogue)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reply(reader)
    writer.write(b"EHLO bench.test\r\n")
    await reply(reader)
    if steps >= 1:
        writer.write(b"STARTTLS\r\n")
        await reply(reader)
        await writer.start_tls(CLIENT_TLS)
        writer.write(b"EHLO bench.test\r\n")
        await reply(reader)
    if steps >= 2:
        token = base64.b64encode(f"\0bench\0{password}".encode()).decode()
        writer.write(f"AUTH PLAIN {token}\r\n".encode())
        code, text = await reply(reader)
        if code != 235:
            raise SystemExit(f"AUTH failed: {text}")
    if steps >= 3:
        writer.write(b"MAIL FROM:<bench@example.com>\r\nRCPT TO:<sink@example.org>\r\nDATA\r\n")
        for expected in (250, 250, 354):
            code, text = await reply(reader)
            if code != expected:
                raise SystemExit(f"unexpected reply: {text}")
        writer.write(body)
        code, text = await reply(reader)
        if code != 250:
            raise SystemExit(f"message refused: {text}")
    writer.write(b"QUIT\r\n")
    await reply(reader)
    writer.close()


async def load(port: int, dialogue: str, password: str, body: bytes, clients: int, n: int):
    async def client() -> None:
        for _ in range(n // clients):
            await session(port, dialogue, password, body)

    await asyncio.gather(*(client() for _ in range(clients)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=2000, help="per dialogue")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="gateway --workers")
    parser.add_argument("--size", type=int, default=10, help="message size in KB")
    parser.add_argument("--rounds", type=int, default=2, help="run every dialogue this many times")
    args = parser.parse_args()
    sink = Sink()
    work = Path(tempfile.mkdtemp(prefix="bench-dialogue-"))
    process, port, password = startGateway(sink, work, args.workers)
    body = makeBody(args.size)
    total = args.connections - args.connections % args.clients
    print(
        f"--workers {args.workers}, {args.clients} clients, {total} connections per dialogue;"
        f" {os.cpu_count()} CPUs; Python {sys.version.split()[0]}",
        flush=True,
    )
    try:
        for _ in range(args.rounds):
            for dialogue in DIALOGUES:
                before, clientBefore = cpuSeconds(process.pid), time.process_time()
                delivered = sink.count()
                started = time.perf_counter()
                asyncio.run(load(port, dialogue, password, body, args.clients, total))
                elapsed = time.perf_counter() - started
                if dialogue == "message":  # its cost includes relaying it
                    deadline = time.monotonic() + 120
                    while sink.count() - delivered < total and time.monotonic() < deadline:
                        time.sleep(0.01)
                gateway = cpuSeconds(process.pid) - before
                client = time.process_time() - clientBefore
                print(
                    f"{dialogue:>8}: {total / elapsed:6.0f} connections/s"
                    f"  gateway {1000 * gateway / total:5.2f} CPU-ms/connection"
                    f"  load generator {1000 * client / total:5.2f}",
                    flush=True,
                )
    finally:
        process.terminate()
        process.wait(30)
        sink.stop()


if __name__ == "__main__":
    main()
