"""
Issue 33, item 15: `smtpeter suppression import` reads any file in bounded
memory, names the line of any error, imports all or nothing, and keeps the
gateway's own writes (here POST /v1/suppressions) waiting no more than a
moment while it imports a large file.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from ..conftest import BIN
from .conftest import Client


def status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return dict(line.split(":", 1) for line in lines if ":" in line)


def run(gateway, *args: str, stdin=None, timeout: float = 20.0):
    """The CLI's exit code, stderr, peak memory (KiB, the most /proc showed and wait4's) and fds."""
    process = subprocess.Popen(
        [str(BIN / "smtpeter"), "--data", str(gateway.data), *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    peak = fds = 0
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        found = status(process.pid)
        if found.get("VmHWM"):
            peak = max(peak, int(found["VmHWM"].split()[0]))
            try:
                fds = max(fds, len(os.listdir(f"/proc/{process.pid}/fd")))
            except FileNotFoundError:
                pass
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"smtpeter {' '.join(args)} ran for more than {timeout} s")
        time.sleep(0.01)
    out, err = process.communicate()
    return process.returncode, err.decode(), peak, fds


def suppressed(gateway) -> list[str]:
    return [e["email"] for e in json.loads(gateway.cli("suppression", "list", "--json").stdout)]


def test_dev_zero_is_refused_in_bounded_memory_with_one_line(gateway):
    code, err, peak, fds = run(gateway, "suppression", "import", "/dev/zero")
    assert code == 1
    assert err == (
        "smtpeter: /dev/zero, line 1 is longer than 1000 bytes (one address, and optionally"
        " a reason, per line); nothing was imported\n"
    )
    assert peak < 100_000, f"peak memory {peak} KiB"
    assert fds < 20
    with open("/dev/zero", "rb") as zero:  # the same from a pipe that never ends
        code, err, peak, _ = run(gateway, "suppression", "import", "/dev/stdin", stdin=zero)
    assert code == 1 and err.count("\n") == 1 and "line 1 is longer" in err
    assert peak < 100_000, f"peak memory {peak} KiB"


def test_a_huge_field_or_a_bad_address_names_its_line_and_imports_nothing(gateway, tmp_path):
    big = tmp_path / "big.csv"
    big.write_text("a@example.com,fine\nb@example.com," + "x" * 1_000_000 + "\n")
    code, err, _, _ = run(gateway, "suppression", "import", str(big))
    assert code == 1 and err.count("\n") == 1 and f"{big}, line 2 is longer" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("one@example.com\ntwo@example.com\nnot an address\nfour@example.com\n")
    code, err, _, _ = run(gateway, "suppression", "import", str(bad))
    assert code == 1
    assert err == (
        f"smtpeter: {bad}, line 3: 'not an address' is not an email address; nothing was imported\n"
    )
    assert suppressed(gateway) == []
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"one@example.com\n\xff\xfe@example.com\n")
    code, err, _, _ = run(gateway, "suppression", "import", str(binary))
    assert code == 1 and "line 2: not a line of UTF-8" in err and err.count("\n") == 1
    assert suppressed(gateway) == []


def test_a_large_import_keeps_api_writes_quick(gateway, tmp_path):
    lines = 200_000
    source = tmp_path / "many.csv"
    with source.open("w") as f:
        f.write("email,reason\n")
        f.writelines(f"user{n}@example.com,imported\n" for n in range(lines))
    token = json.loads(gateway.cli("token", "create", "w", "--scope", "admin", "--json").stdout)
    api = Client(gateway, token["token"])
    process = subprocess.Popen(
        [str(BIN / "smtpeter"), "--data", str(gateway.data), "suppression", "import"]
        + [str(source), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    slowest, writes = 0.0, 0
    while process.poll() is None:
        started = time.monotonic()
        code, _, _ = api.call("POST", "/v1/suppressions", {"email": f"api{writes}@example.net"})
        slowest = max(slowest, time.monotonic() - started)
        assert code == 201
        writes += 1
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert json.loads(out) == {"imported": lines}
    assert writes >= 5
    assert slowest < 1.0, f"an API write waited {slowest:.2f} s during the import"
    assert len(suppressed(gateway)) == lines + writes
