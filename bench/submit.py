#!/usr/bin/env python3
"""
Submission benchmark: N concurrent connections, each STARTTLS + AUTH,
sending M messages of S KB with PIPELINING, against the real gateway
(twistd smtpeter, relaying to Postfix's smtp-sink) and, in the same run, a
minimal loopback Postfix relaying to the same sink, for the ratio.

Prints, per target: accepted msgs/s (submission only), p50/p99 latency from
the end of DATA (the final dot written) to the 250, and end-to-end msgs/s
(from the first connection until the sink has counted every message).

    python bench/submit.py --connections 10 --messages 100 --size 10

Needs Debian's postfix (for smtp-sink and the reference instance) with a
system configuration for the reference tool to copy: if /etc/postfix/main.cf
is missing, copy /usr/share/postfix/main.cf.debian there (and master.cf.dist
as master.cf, and dynamicmaps.cf).
The reference Postfix does not offer AUTH (it has no SASL server set up);
it gets STARTTLS and the same messages, so it does slightly less work.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE_TOOL = HERE.parent.parent / "shared" / "tools" / "reference-postfix"


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def waitFor(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listening on port {port} after {timeout} s")


class Sink:
    """Postfix's smtp-sink, counting what it receives."""

    def __init__(self) -> None:
        self.port = freePort()
        self.out = tempfile.NamedTemporaryFile(prefix="bench-sink-", delete=False)
        binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        self.process = subprocess.Popen(
            [binary, "-u", "nobody", "-c", f"127.0.0.1:{self.port}", "1000"],
            stdout=self.out,
            stderr=subprocess.STDOUT,
        )
        waitFor(self.port)

    def count(self) -> int:
        found = re.findall(rb"mesg=(\d+)", Path(self.out.name).read_bytes())
        return int(found[-1]) if found else 0

    def stop(self) -> None:
        self.process.kill()
        os.unlink(self.out.name)


async def reply(reader: asyncio.StreamReader) -> tuple[int, str]:
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        lines.append(line.decode(errors="replace").rstrip())
        if line[3:4] != b"-":
            return int(line[:3]), "\n".join(lines)


async def session(port, user, password, messages, body, latencies, counts):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reply(reader)
    writer.write(b"EHLO bench.test\r\n")
    code, text = await reply(reader)
    if "STARTTLS" in text:
        writer.write(b"STARTTLS\r\n")
        await reply(reader)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        await writer.start_tls(context)
        writer.write(b"EHLO bench.test\r\n")
        code, text = await reply(reader)
    if "AUTH" in text and user:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        writer.write(f"AUTH PLAIN {token}\r\n".encode())
        code, text = await reply(reader)
        if code != 235:
            raise SystemExit(f"AUTH failed: {text}")
    for _ in range(messages):
        writer.write(b"MAIL FROM:<bench@example.com>\r\nRCPT TO:<sink@example.org>\r\nDATA\r\n")
        for expected in (250, 250, 354):
            code, text = await reply(reader)
            if code != expected:
                raise SystemExit(f"unexpected reply: {text}")
        writer.write(body)
        await writer.drain()
        started = time.perf_counter()
        code, text = await reply(reader)
        latencies.append(time.perf_counter() - started)
        if code == 250:
            counts["accepted"] += 1
    writer.write(b"QUIT\r\n")
    await reply(reader)
    writer.close()


def makeBody(sizeKB: int) -> bytes:
    line = b"The quick brown fox jumps over the lazy dog, 0123456789 abcdefghij ABCDEFGHIJ.\r\n"
    header = b"From: bench@example.com\r\nTo: sink@example.org\r\nSubject: benchmark\r\n\r\n"
    lines = max(1, (sizeKB * 1024 - len(header)) // len(line))
    return header + line * lines + b".\r\n"


async def load(port, user, password, connections, messages, body):
    latencies: list[float] = []
    counts = {"accepted": 0}
    started = time.perf_counter()
    await asyncio.gather(
        *(
            session(port, user, password, messages, body, latencies, counts)
            for _ in range(connections)
        )
    )
    return time.perf_counter() - started, latencies, counts["accepted"]


def measure(name, port, user, password, sink, args) -> dict:
    body = makeBody(args.size)
    before = sink.count()
    total = args.connections * args.messages
    started = time.perf_counter()
    elapsed, latencies, accepted = asyncio.run(
        load(port, user, password, args.connections, args.messages, body)
    )
    deadline = time.monotonic() + 120
    while sink.count() - before < total and time.monotonic() < deadline:
        time.sleep(0.02)
    endToEnd = time.perf_counter() - started
    delivered = sink.count() - before
    latencies.sort()
    result = {
        "target": name,
        "messages": total,
        "accepted": accepted,
        "delivered": delivered,
        "accepted_per_s": round(accepted / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
        "end_to_end_per_s": round(delivered / endToEnd, 1),
    }
    print(
        f"{name:>10}: accepted {result['accepted_per_s']:8.1f} msgs/s   "
        f"p50 {result['p50_ms']:7.2f} ms   p99 {result['p99_ms']:7.2f} ms   "
        f"end-to-end {result['end_to_end_per_s']:8.1f} msgs/s   "
        f"({delivered}/{total} delivered)",
        flush=True,
    )
    return result


def startGateway(sink: Sink, workdir: Path):
    port, sport = freePort(), freePort()
    bindir = Path(sys.executable).parent
    data = workdir / "data"
    logfile = open(workdir / "gateway.log", "wb")
    process = subprocess.Popen(
        [
            str(bindir / "twistd"),
            "-n",
            "--pidfile=",
            "smtpeter",
            "--data",
            str(data),
            "--hostname",
            "gw.bench",
            "--smtp",
            f"tcp:{port}:interface=127.0.0.1",
            "--smtps",
            f"tcp:{sport}:interface=127.0.0.1",
            "--relay",
            f"127.0.0.1:{sink.port}",
            "--relay-tls",
            "none",
        ],
        stdout=logfile,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    waitFor(port)
    created = subprocess.run(
        [str(bindir / "smtpeter"), "--data", str(data), "login", "create", "bench", "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    return process, port, json.loads(created.stdout)["password"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=10, help="concurrent connections")
    parser.add_argument("--messages", type=int, default=100, help="messages per connection")
    parser.add_argument("--size", type=int, default=10, help="message size in KB")
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate the two targets this many times"
    )
    parser.add_argument("--no-postfix", action="store_true", help="measure the gateway only")
    parser.add_argument(
        "--reference-tool", default=str(REFERENCE_TOOL), help="path of the reference-postfix tool"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-submit-"))
    sink = Sink()
    gateway, port, password = startGateway(sink, workdir)
    postfixDir = None
    results = []
    try:
        print(
            f"{args.connections} connections x {args.messages} messages x {args.size} KB; "
            f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}",
            flush=True,
        )
        if not args.no_postfix:
            pport = freePort()
            out = subprocess.run(
                [
                    sys.executable,
                    args.reference_tool,
                    "start",
                    "--listen",
                    str(pport),
                    "--relay",
                    str(sink.port),
                    "--tls",
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            postfixDir = out.stdout.strip().splitlines()[-1]
            waitFor(pport)
        # Warm-up: TLS contexts, imports, connection to the sink.
        measure(
            "warm-up",
            port,
            "bench",
            password,
            sink,
            argparse.Namespace(connections=2, messages=5, size=args.size),
        )
        for _ in range(args.rounds):
            results.append(measure("smtpeter", port, "bench", password, sink, args))
            if postfixDir:
                results.append(measure("postfix", pport, None, None, sink, args))
        if postfixDir:
            ours = [r for r in results if r["target"] == "smtpeter"]
            theirs = [r for r in results if r["target"] == "postfix"]
            for key in ("accepted_per_s", "end_to_end_per_s"):
                a = statistics.median(r[key] for r in ours)
                b = statistics.median(r[key] for r in theirs)
                print(f"ratio smtpeter/postfix {key}: {a / b:.2f}")
            a = statistics.median(r["p50_ms"] for r in ours)
            b = statistics.median(r["p50_ms"] for r in theirs)
            print(f"ratio smtpeter/postfix p50 latency: {a / b:.2f}")
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(20)
        if postfixDir:
            subprocess.run(
                [sys.executable, args.reference_tool, "stop", postfixDir], capture_output=True
            )
        sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
