#!/usr/bin/env python3
"""
Submission benchmark: N concurrent clients, each making connections one
after another (STARTTLS + AUTH each time) and sending M messages of S KB on
each, with PIPELINING, against the real gateway (twistd smtpeter with
--workers 1 and with one worker per CPU, relaying to Postfix's smtp-sink)
and, in the same run, a loopback Postfix relaying to the same sink.

Prints, per target and workload: accepted msgs/s (submission only),
end-to-end msgs/s (from the first connection until the sink has counted
every message), p50/p99 latency from the final dot to the 250, and the CPU
milliseconds per message of the target's whole process tree (for Postfix:
master, smtpd, cleanup, qmgr, smtp, including exited ones); then each
gateway's ratios to Postfix.

    python bench/submit.py --clients 20 --messages 1000 --per-connection 1,50

Needs Debian's postfix (for smtp-sink and the reference instance) with a
system configuration for the reference tool to copy: if /etc/postfix/main.cf
is missing, copy /usr/share/postfix/main.cf.debian there (and master.cf.dist
as master.cf, and dynamicmaps.cf).
The reference Postfix does not offer AUTH (it has no SASL server set up);
it gets STARTTLS and the same messages, so it does slightly less work.

The load generator runs here too, on the CPUs its target uses: its own CPU
per message is printed ("client"), as what it takes from a target that is
short of CPU. It verifies no certificate, and so loads none.
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


# Made once, and without the system's CA certificates: the load generator
# verifies nothing (CERT_NONE), yet with them loaded OpenSSL still looked
# for each server's chain among them: a handshake cost the generator 0.72
# ms of CPU instead of 0.44, on the CPUs the gateway under test shares.
CLIENT_TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
CLIENT_TLS.check_hostname = False
CLIENT_TLS.verify_mode = ssl.CERT_NONE


async def session(port, user, password, messages, body, latencies, counts, starttls=True):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reply(reader)
    writer.write(b"EHLO bench.test\r\n")
    code, text = await reply(reader)
    if starttls and "STARTTLS" in text:
        writer.write(b"STARTTLS\r\n")
        await reply(reader)
        await writer.start_tls(CLIENT_TLS)
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


async def client(
    port, user, password, connections, messages, body, latencies, counts, starttls=True
):
    """One client: C{connections} connections one after the other, C{messages} each."""
    for _ in range(connections):
        await session(port, user, password, messages, body, latencies, counts, starttls)


def makeBody(sizeKB: int) -> bytes:
    line = b"The quick brown fox jumps over the lazy dog, 0123456789 abcdefghij ABCDEFGHIJ.\r\n"
    header = b"From: bench@example.com\r\nTo: sink@example.org\r\nSubject: benchmark\r\n\r\n"
    lines = max(1, (sizeKB * 1024 - len(header)) // len(line))
    return header + line * lines + b".\r\n"


async def load(port, user, password, clients, connections, messages, body):
    latencies: list[float] = []
    counts = {"accepted": 0}
    started = time.perf_counter()
    await asyncio.gather(
        *(
            client(port, user, password, connections, messages, body, latencies, counts)
            for _ in range(clients)
        )
    )
    return time.perf_counter() - started, latencies, counts["accepted"]


def _ticks(pid: int, children: bool) -> int:
    """CPU clock ticks of a process (and of its reaped children, with C{children})."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0
    used = int(fields[11]) + int(fields[12])  # utime, stime
    return used + (int(fields[13]) + int(fields[14]) if children else 0)  # cutime, cstime


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def cpuSeconds(root: int) -> float:
    """CPU time of a process tree: the root, its reaped children, and the live ones."""
    ticks = _ticks(root, children=True) + sum(_ticks(c, children=False) for c in _children(root))
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(name, port, user, password, sink, args, workload, root) -> dict:
    """
    Run C{workload} (clients, connections per client, messages per
    connection) against one target; C{root} is the pid whose process tree
    does the target's work (for CPU per message).
    """
    clients, connections, messages = workload
    body = makeBody(args.size)
    before = sink.count()
    total = clients * connections * messages
    cpuBefore = cpuSeconds(root) if root else 0.0
    clientBefore = time.process_time()
    started = time.perf_counter()
    elapsed, latencies, accepted = asyncio.run(
        load(port, user, password, clients, connections, messages, body)
    )
    deadline = time.monotonic() + 300
    while sink.count() - before < total and time.monotonic() < deadline:
        time.sleep(0.01)
    endToEnd = time.perf_counter() - started
    delivered = sink.count() - before
    cpu = cpuSeconds(root) - cpuBefore if root else 0.0
    clientCPU = time.process_time() - clientBefore
    latencies.sort()
    result = {
        "target": name,
        "workload": f"{messages}/conn",
        "messages": total,
        "accepted": accepted,
        "delivered": delivered,
        "accepted_per_s": round(accepted / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
        "end_to_end_per_s": round(delivered / endToEnd, 1),
        "cpu_ms_per_msg": round(1000 * cpu / max(1, delivered), 2),
        "client_cpu_ms_per_msg": round(1000 * clientCPU / max(1, total), 2),
    }
    print(
        f"{name:>18} {result['workload']:>8}: accepted {result['accepted_per_s']:7.1f}/s"
        f"  end-to-end {result['end_to_end_per_s']:7.1f}/s"
        f"  p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:7.2f} ms"
        f"  CPU {result['cpu_ms_per_msg']:5.2f} ms/msg"
        f" (client {result['client_cpu_ms_per_msg']:.2f})"
        f"  ({delivered}/{total} delivered)",
        flush=True,
    )
    return result


def launchGateway(
    workdir: Path, data: Path, relayPort: int, workers: int, extra: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, int, int]:
    """twistd smtpeter on C{data}, relaying to C{relayPort}, once ready: (process, SMTP, HTTP)."""
    port, http = freePort(), freePort()
    log = workdir / f"gateway-{workers}.log"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "twistd"),
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
            f"tcp:{freePort()}:interface=127.0.0.1",
            "--http",
            f"tcp:{http}:interface=127.0.0.1",
            *(() if "--dashboard" in extra else ("--dashboard", "none")),
            "--relay",
            f"127.0.0.1:{relayPort}",
            "--relay-tls",
            "none",
            "--workers",
            str(workers),
            *extra,
        ],
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    waitFor(port)
    deadline = time.monotonic() + 30
    while b"ready" not in log.read_bytes():
        if time.monotonic() > deadline:
            raise SystemExit("the gateway did not get ready")
        time.sleep(0.1)
    return process, port, http


def startGateway(sink: Sink, workdir: Path, workers: int, extra: tuple[str, ...] = ()):
    data = workdir / f"data-{workers}"
    process, port, _ = launchGateway(workdir, data, sink.port, workers, extra)
    created = subprocess.run(
        [
            str(Path(sys.executable).parent / "smtpeter"),
            "--data",
            str(data),
            "login",
            "create",
            "bench",
            "--json",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return process, port, json.loads(created.stdout)["password"]


def medians(results: list[dict]) -> list[dict]:
    """One row per target: the median of each figure over its rounds."""
    targets = list(dict.fromkeys(r["target"] for r in results))
    merged = []
    for target in targets:
        rows = [r for r in results if r["target"] == target]
        row = dict(rows[0])
        for key, value in row.items():
            if isinstance(value, float):
                row[key] = statistics.median(r[key] for r in rows)
        merged.append(row)
    return merged


def postfixMaster(instance: str) -> int:
    return int(Path(instance, "spool", "pid", "master.pid").read_text().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument(
        "--messages",
        type=int,
        default=1000,
        help="messages per target and workload (rounded to whole connections)",
    )
    parser.add_argument(
        "--per-connection",
        default="1,50",
        help="workloads: messages per connection, comma-separated [default: 1,50]",
    )
    parser.add_argument("--size", type=int, default=10, help="message size in KB")
    parser.add_argument(
        "--workers",
        default=f"1,{os.cpu_count()}",
        help="gateways to measure, by --workers, comma-separated [default: 1 and the CPUs]",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measure every target this many times, in turn, and compare medians [default: 3]",
    )
    parser.add_argument("--no-postfix", action="store_true", help="measure the gateway only")
    parser.add_argument(
        "--reference-tool", default=str(REFERENCE_TOOL), help="path of the reference-postfix tool"
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    perConnection = [int(n) for n in args.per_connection.split(",")]
    workerCounts = sorted({int(n) for n in args.workers.split(",")})

    workdir = Path(tempfile.mkdtemp(prefix="bench-submit-"))
    sink = Sink()
    gateways = {}
    postfixDir = None
    results = []
    try:
        print(
            f"{args.clients} clients, {args.size} KB messages, STARTTLS (+ AUTH at the gateway);"
            f" {os.cpu_count()} CPUs; Python {sys.version.split()[0]}",
            flush=True,
        )
        for workers in workerCounts:
            gateways[workers] = startGateway(sink, workdir, workers)
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
        for perConn in perConnection:
            connections = max(1, args.messages // (args.clients * perConn))
            workload = (args.clients, connections, perConn)
            warmUp = (2, 1, min(perConn, 5))
            # Every target in turn, round after round: a minute when this
            # host is slow then falls on all of them alike.
            for _ in range(args.rounds):
                for workers, (process, port, password) in gateways.items():
                    name = f"smtpeter -w {workers}"
                    measure("warm-up", port, "bench", password, sink, args, warmUp, None)
                    results.append(
                        measure(name, port, "bench", password, sink, args, workload, process.pid)
                    )
                if postfixDir:
                    master = postfixMaster(postfixDir)
                    measure("warm-up", pport, None, None, sink, args, warmUp, None)
                    results.append(
                        measure("postfix", pport, None, None, sink, args, workload, master)
                    )
        if postfixDir:
            print(
                f"\nmedians of {args.rounds} rounds, as ratios to Postfix"
                " (accepted/s, end-to-end/s; p99 ms: lower is better)"
            )
            for perConn in perConnection:
                same = medians([r for r in results if r["workload"] == f"{perConn}/conn"])
                ref = next(r for r in same if r["target"] == "postfix")
                for r in same:
                    print(
                        f"{r['target']:>18} {r['workload']:>8}:"
                        f" accepted {r['accepted_per_s']:7.1f}/s"
                        f" ({r['accepted_per_s'] / ref['accepted_per_s']:.2f}x)"
                        f"  end-to-end {r['end_to_end_per_s']:7.1f}/s"
                        f" ({r['end_to_end_per_s'] / ref['end_to_end_per_s']:.2f}x)"
                        f"  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms"
                        f"  CPU {r['cpu_ms_per_msg']:.2f} ms/msg"
                    )
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        for process, _, _ in gateways.values():
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        if postfixDir:
            subprocess.run(
                [sys.executable, args.reference_tool, "stop", postfixDir], capture_output=True
            )
        sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
