"""
End to end: the data directory on a small filesystem of its own (tmpfs),
filled up while the gateway runs. A message that cannot be stored gets a
451 and leaves no file behind; a correct AUTH still succeeds; nothing is
lost once there is room again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest

from ..conftest import Gateway
from .test_submission import connect

MB = 1024 * 1024


@pytest.fixture
def small(tmp_path):
    """A 200 MB tmpfs, mounted for the test."""
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); needs root")
    yield mountpoint
    subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(path, leave: int) -> None:
    """Write a filler file until only C{leave} bytes are free on C{path}'s filesystem."""
    free = shutil.disk_usage(path).free
    with open(path / f"filler-{uuid.uuid4().hex}", "wb") as f:
        chunk = b"\0" * MB
        while free - leave > MB:
            f.write(chunk)
            free -= MB
        f.write(b"\0" * max(0, free - leave))


def test_a_full_disk_costs_a_451_and_leaves_nothing_behind(small, sink):
    gateway = Gateway(small / "data", sink.port, ["--workers", "1"]).start()
    try:
        password = gateway.createLogin("app")
        # Room for the body's spill file (40 MB) but not for its queue file too,
        # and over the 64 MB that MAIL asks to be free.
        fill(small, 70 * MB)
        client = connect(gateway, implicit=False)
        client.login("app", password)
        body = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (40 * MB // 1000)
        assert client.mail("a@example.com")[0] == 250  # no SIZE: MAIL's check passes
        assert client.rcpt("b@example.org")[0] == 250
        code, text = client.data(body)
        assert code == 451 and text.startswith(b"4.3.0"), (code, text)
        client.quit()
        incoming = small / "data" / "spool" / "incoming"
        assert list(incoming.iterdir()) == []  # no spill file, no partial queue file
        queued = [p for p in (small / "data" / "spool").rglob("*") if p.is_file()]
        assert [p for p in queued if p.stat().st_size > MB] == []
        # Completely full: AUTH still answers 235 (its last-used note may fail),
        # and MAIL says why it cannot take mail.
        fill(small, 0)
        time.sleep(1.2)  # the free space is read at most once a second
        client = connect(gateway, implicit=False)
        assert client.login("app", password)[0] == 235
        code, text = client.mail("a@example.com")
        assert code == 452 and text.startswith(b"4.3.1")
        client.quit()
        for filler in small.glob("filler-*"):
            os.unlink(filler)
        time.sleep(1.2)
        client = connect(gateway, implicit=False)
        client.login("app", password)
        client.sendmail("a@example.com", ["b@example.org"], b"Subject: room again\r\n\r\nok\r\n")
        client.quit()
        [received] = sink.wait(1)
        assert b"Subject: room again" in received.data
        log = gateway.logText()
        assert "Traceback" not in log, log[
            log.find("Traceback") - 600 : log.find("Traceback") + 2500
        ]
    finally:
        gateway.stop()
