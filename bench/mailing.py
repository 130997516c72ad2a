#!/usr/bin/env python3
"""
A tracked mailing end to end through the real gateway: one submission of
the newsletter (tests/fixtures/messages/newsletter.eml, 57 KB, 176 links)
to N recipients, with every feature on and DKIM, each copy rendered for its
recipient, delivered to Postfix's smtp-sink, and its delivery event written.

Prints the wall time until the sink has every copy and the event log every
delivery, the CPU seconds of the gateway's processes (parent and workers),
and copies per CPU-second, for --workers 1 and one worker per CPU.

    python bench/mailing.py --recipients 1000
"""

from __future__ import annotations

import argparse
import os
import signal
import smtplib
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from submit import Sink, cpuSeconds, startGateway  # noqa: E402  (bench/ is the script's own directory)

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ("trackclicks", "trackopens", "trackbounces", "preventscam", "inlinecss", "hostedimages")


def newsletter() -> bytes:
    raw = (ROOT / "tests/fixtures/messages/newsletter.eml").read_bytes()
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def deliveries(database: Path) -> int:
    db = sqlite3.connect(database, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM events WHERE type = 'delivery'").fetchone()[0]
    finally:
        db.close()


def _ownSeconds(pid: int) -> float:
    """The CPU time of the process itself (for the parent: not its workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(workers: int, recipients: int, workdir: Path) -> dict:
    sink = Sink()
    extra = ("--max-recipients", str(recipients), "--public-url", "https://t.example.com")
    process, port, _ = startGateway(sink, workdir, workers, extra)
    data = workdir / f"data-{workers}"
    bindir = Path(sys.executable).parent
    cli = [str(bindir / "smtpeter"), "--data", str(data)]
    try:
        subprocess.run([*cli, "domain", "add", "example.com"], check=True, capture_output=True)
        features = [a for f in FEATURES for a in ("--feature", f)]
        created = subprocess.run(
            [*cli, "login", "create", "mailing", *features, "--json"],
            check=True,
            capture_output=True,
            text=True,
        )
        password = __import__("json").loads(created.stdout)["password"]
        time.sleep(11)  # DKIM keys are re-read every 10 s
        before = cpuSeconds(process.pid)
        parentBefore = _ownSeconds(process.pid)
        started = time.perf_counter()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        client = smtplib.SMTP("127.0.0.1", port, timeout=60)
        client.starttls(context=context)
        client.login("mailing", password)
        rcpts = [f"reader{i}@example.org" for i in range(recipients)]
        client.sendmail("news@example.com", rcpts, newsletter())
        client.quit()
        accepted = time.perf_counter() - started
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if sink.count() >= recipients and deliveries(data / "smtpeter.sqlite") >= recipients:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu = cpuSeconds(process.pid) - before
        parent = _ownSeconds(process.pid) - parentBefore
        delivered, recorded = sink.count(), deliveries(data / "smtpeter.sqlite")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        sink.stop()
    result = {
        "workers": workers,
        "recipients": recipients,
        "accepted_s": round(accepted, 2),
        "elapsed_s": round(elapsed, 2),
        "delivered": delivered,
        "recorded": recorded,
        "cpu_s": round(cpu, 2),
        "parent_cpu_s": round(parent, 2) if workers > 1 else 0.0,
        "copies_per_s": round(delivered / elapsed, 1),
        "copies_per_cpu_s": round(delivered / cpu, 1),
    }
    print(
        f"--workers {workers}: {delivered}/{recipients} delivered, {recorded} delivery events,"
        f" in {elapsed:.1f} s ({result['copies_per_s']} copies/s);"
        f" gateway CPU {cpu:.1f} s (parent {result['parent_cpu_s']:.2f} s)"
        f" = {result['copies_per_cpu_s']} copies per CPU-second",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=1000, help="recipients of the mailing")
    parser.add_argument(
        "--workers",
        default=f"1,{os.cpu_count()}",
        help="gateways to measure, by --workers, comma-separated [default: 1 and the CPUs]",
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; newsletter 57 KB, 176 links")
    for workers in sorted({int(n) for n in args.workers.split(",")}):
        workdir = Path(tempfile.mkdtemp(prefix="bench-mailing-"))
        run(workers, args.recipients, workdir)


if __name__ == "__main__":
    main()
