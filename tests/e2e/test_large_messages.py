"""
End to end: a large message made of one-character lines, the shape that
costs a line-by-line reader the most. The gateway's memory stays a small
multiple of the message, and the message arrives intact.
"""

from __future__ import annotations

import pytest

from .conftest import connect


def peakMemory(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.e2e
def test_twenty_megabytes_of_one_character_lines(makeGateway, sink):
    gateway = makeGateway(sink)
    password = gateway.createLogin("big")
    body = b"a\r\n" * 7_000_000  # 21 MB, 7 million lines
    message = (
        b"From: a@example.com\r\nMessage-ID: <big@client.test>\r\n"
        b"Date: Tue, 24 Nov 2026 02:00:00 +0000\r\nSubject: big\r\n\r\n" + body
    )
    before = peakMemory(gateway.process.pid)
    client = connect(gateway, implicit=False)
    client.login("big", password)
    assert client.sendmail("a@example.com", ["b@example.org"], message) == {}
    client.quit()
    [received] = sink.wait(1, timeout=120)
    assert received.data.endswith(b"Subject: big\r\n\r\n" + body)
    grown = peakMemory(gateway.process.pid) - before
    # A reader that keeps a list of lines needs ~40 bytes a line here
    # (~300 MB); the gateway holds the body on disk while it arrives and
    # once in memory to deliver it.
    assert grown < 4 * len(message), f"peak memory grew by {grown / 1e6:.0f} MB"
