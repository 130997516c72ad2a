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

The differences between rows are what TLS, AUTH and a message cost; each
round ends with them.

    python bench/dialogue.py --connections 3000 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from submit import Messages, Results, Sink, client, cpuSeconds, startGateway

#: Each dialogue as submit.session's arguments: STARTTLS, AUTH, messages.
DIALOGUES = {
    "plain": (False, False, 0),
    "tls": (True, False, 0),
    "auth": (True, True, 0),
    "message": (True, True, 1),
}


async def load(port: int, dialogue: str, password: str, source: Messages, clients: int, n: int):
    starttls, auth, messages = DIALOGUES[dialogue]
    user = "bench" if auth else None
    results = Results()
    await asyncio.gather(
        *(
            client(port, user, password, n // clients, messages, source, results, starttls)
            for _ in range(clients)
        )
    )
    if results.accepted != n * messages:
        raise SystemExit(f"only {results.accepted} of {n * messages} messages were accepted")


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
    source = Messages(args.size)
    total = args.connections - args.connections % args.clients
    print(
        f"--workers {args.workers}, {args.clients} clients, {total} connections per dialogue;"
        f" {os.cpu_count()} CPUs; Python {sys.version.split()[0]}",
        flush=True,
    )
    try:
        asyncio.run(load(port, "message", password, source, args.clients, args.clients))  # warm-up
        for _ in range(args.rounds):
            costs = {}
            for dialogue in DIALOGUES:
                before, clientBefore = cpuSeconds(process.pid), time.process_time()
                delivered = sink.count()
                started = time.perf_counter()
                asyncio.run(load(port, dialogue, password, source, args.clients, total))
                elapsed = time.perf_counter() - started
                if dialogue == "message":  # its cost includes relaying it
                    deadline = time.monotonic() + 120
                    while sink.count() - delivered < total and time.monotonic() < deadline:
                        time.sleep(0.01)
                gateway = cpuSeconds(process.pid) - before
                generator = time.process_time() - clientBefore
                costs[dialogue] = 1000 * gateway / total
                print(
                    f"{dialogue:>8}: {total / elapsed:6.0f} connections/s"
                    f"  gateway {costs[dialogue]:5.2f} CPU-ms/connection"
                    f"  load generator {1000 * generator / total:5.2f}",
                    flush=True,
                )
            print(
                f"the gateway's CPU-ms for STARTTLS {costs['tls'] - costs['plain']:.2f},"
                f" one AUTH {costs['auth'] - costs['tls']:.2f},"
                f" one message {costs['message'] - costs['auth']:.2f}",
                flush=True,
            )
    finally:
        process.terminate()
        process.wait(30)
        sink.stop()


if __name__ == "__main__":
    main()
