#!/usr/bin/env python3
"""
The worst shape of message for a line-by-line reader: --size MB of
one-character lines, sent over STARTTLS to a gateway with one worker, while
another session of the same worker sends NOOP every 10 ms. Prints the time
from the first byte of DATA to the 250, the longest and p99 wait of the
other session's NOOPs meanwhile, and the gateway's peak memory once the
message has been delivered too.

    python bench/data.py --size 50
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import signal
import statistics
import tempfile
import time
from pathlib import Path

from submit import CLIENT_TLS, Sink, reply, startGateway  # noqa: E402  (bench/ is the script's own directory)


def peakMemory(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


async def session(port: int, password: str):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reply(reader)
    writer.write(b"EHLO bench.test\r\nSTARTTLS\r\n")
    await reply(reader)
    await reply(reader)
    await writer.start_tls(CLIENT_TLS)
    writer.write(b"EHLO bench.test\r\n")
    await reply(reader)
    token = base64.b64encode(f"\0bench\0{password}".encode())
    writer.write(b"AUTH PLAIN " + token + b"\r\n")
    code, text = await reply(reader)
    if code != 235:
        raise SystemExit(f"AUTH failed: {text}")
    return reader, writer


async def measure(port: int, password: str, size: int) -> dict:
    big = await session(port, password)
    small = await session(port, password)
    waits: list[float] = []
    done = asyncio.Event()

    async def noops():
        reader, writer = small
        while not done.is_set():
            started = time.perf_counter()
            writer.write(b"NOOP\r\n")
            await reply(reader)
            waits.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)

    pinger = asyncio.ensure_future(noops())
    reader, writer = big
    writer.write(b"MAIL FROM:<bench@example.com>\r\nRCPT TO:<sink@example.org>\r\nDATA\r\n")
    for _ in range(3):
        await reply(reader)
    started = time.perf_counter()
    chunk = b"a\r\n" * (1 << 16)  # 192 KiB of one-character lines
    header = b"From: bench@example.com\r\nSubject: one-character lines\r\n\r\n"
    writer.write(header)
    for _ in range(size * 1024 * 1024 // len(chunk)):
        writer.write(chunk)
        await writer.drain()
    writer.write(b".\r\n")
    code, text = await reply(reader)
    elapsed = time.perf_counter() - started
    done.set()
    await pinger
    waits.sort()
    return {
        "reply": text,
        "seconds_to_250": round(elapsed, 1),
        "noops": len(waits),
        "noop_max_ms": round(1000 * waits[-1], 1),
        "noop_p99_ms": round(1000 * waits[int(0.99 * (len(waits) - 1))], 1),
        "noop_p50_ms": round(1000 * statistics.median(waits), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=50, help="megabytes of one-character lines")
    args = parser.parse_args()
    sink = Sink()
    workdir = Path(tempfile.mkdtemp(prefix="bench-data-"))
    process, port, password = startGateway(sink, workdir, 1, ("--max-size", f"{args.size + 1}m"))
    try:
        before = peakMemory(process.pid)
        result = asyncio.run(measure(port, password, args.size))
        deadline = time.monotonic() + 120
        while sink.count() < 1 and time.monotonic() < deadline:
            time.sleep(0.1)  # delivered too: reading it back from the spool counts
        peak = peakMemory(process.pid)
        print(f"{args.size} MB of one-character lines: {result['reply']}")
        print(
            f"  250 after {result['seconds_to_250']} s; the other session's NOOPs"
            f" ({result['noops']}): p50 {result['noop_p50_ms']} ms,"
            f" p99 {result['noop_p99_ms']} ms, longest {result['noop_max_ms']} ms"
        )
        print(
            f"  gateway peak memory {peak / 1e6:.0f} MB (before: {before / 1e6:.0f} MB),"
            f" the message {'delivered' if sink.count() else 'NOT delivered'}"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        sink.stop()


if __name__ == "__main__":
    main()
