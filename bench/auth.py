#!/usr/bin/env python3
"""
What one AUTH costs the gateway: N connections with STARTTLS, EHLO, AUTH
PLAIN and QUIT, against N with the same but no AUTH, from 20 clients; the
difference in the CPU of the gateway's processes, per AUTH.

    python bench/auth.py --connections 2000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from submit import Sink, client, cpuSeconds, startGateway  # noqa: E402  (bench/ is the script's own directory)


def run(port: int, user, password, connections: int, clients: int = 20) -> float:
    latencies: list[float] = []
    counts = {"accepted": 0}

    async def load():
        await asyncio.gather(
            *(
                client(port, user, password, connections // clients, 0, b"", latencies, counts)
                for _ in range(clients)
            )
        )

    started = time.perf_counter()
    asyncio.run(load())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=2000, help="connections per kind")
    parser.add_argument("--workers", type=int, default=1, help="the gateway's --workers")
    args = parser.parse_args()
    sink = Sink()
    workdir = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    process, port, password = startGateway(sink, workdir, args.workers)
    try:
        run(port, "bench", password, 100)  # warm-up
        results = {}
        for kind, user in (("without AUTH", None), ("with AUTH", "bench")):
            before = cpuSeconds(process.pid)
            elapsed = run(port, user, password, args.connections)
            results[kind] = (cpuSeconds(process.pid) - before) / args.connections
            print(
                f"{kind:>13}: {args.connections / elapsed:7.1f} connections/s,"
                f" {1000 * results[kind]:.2f} CPU-ms per connection",
                flush=True,
            )
        perAuth = results["with AUTH"] - results["without AUTH"]
        print(f"one AUTH costs the gateway {1000 * perAuth:.2f} CPU-ms")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        sink.stop()


if __name__ == "__main__":
    print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    main()
