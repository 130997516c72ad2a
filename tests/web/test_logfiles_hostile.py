"""
Security regression of the log files: a day is written no faster than the
client reads it. A client (with a read token) that asked for a day of
120,000 events and read nothing made its worker's memory grow from 95 MB
to 327 MB: every row was written into the transport's buffer at once.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.defer import succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from smtpeter.store import MemoryStore
from smtpeter.testing import serveHTTP
from smtpeter.web import makeSite

DAY = 1_800_000_000 - 1_800_000_000 % 86400  # 2027-01-15, midnight UTC


class FullTransport(StringTransport):
    """A transport whose buffer is full past C{room} bytes: it pauses its producer then."""

    def __init__(self, room: int) -> None:
        super().__init__(peerAddress=IPv4Address("TCP", "192.0.2.1", 40000))
        self.room = room

    def write(self, data: bytes) -> None:
        super().write(data)
        if len(self.value()) > self.room and self.producer is not None:
            self.producer.pauseProducing()

    def writeSequence(self, data) -> None:
        self.write(b"".join(data))


def test_a_client_that_stops_reading_stops_the_rows():
    clock = Clock()
    clock.advance(DAY + 86399)
    events = MemoryStore(clock)
    for n in range(10000):
        events.recordClick("0123456789ABCDEF0123", f"r{n}@x.test", (), {"ip": "192.0.2.7"}, DAY + n)
    token = events.addToken("reader")
    site = makeSite(events, None, None, clock)
    channel = site.buildProtocol(IPv4Address("TCP", "192.0.2.1", 40000))
    transport = FullTransport(room=64 * 1024)
    channel.makeConnection(transport)
    channel.dataReceived(
        b"GET /v1/logfiles/click?date=2027-01-15&format=csv HTTP/1.1\r\nHost: gw\r\n"
        + f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    held = len(transport.value())
    assert 64 * 1024 < held < 64 * 1024 + 200 * 1024, held  # a batch or two, not 10,000 rows
    assert not transport.disconnecting
    # The client reads: the rest comes, to the last row.
    transport.room = 10**9
    transport.clear()
    channel.resumeProducing()
    rest = transport.value()
    assert b"r9999@x.test" in rest and rest.endswith(b"0\r\n\r\n")


def test_a_head_reads_no_rows_and_the_file_is_named_by_the_day_read():
    clock = Clock()
    clock.advance(DAY + 86399)
    events = MemoryStore(clock)
    token = events.addToken("reader")
    days = []
    events.day = lambda *args: days.append(args) or succeed([])  # type: ignore[method-assign]
    site = makeSite(events, None, None, clock)
    path = "/v1/logfiles/click?date=%0D%0A2027-01-15%20%09"
    headers = {"Authorization": f"Bearer {token}"}
    head = serveHTTP(site, "HEAD", path, headers, clock=clock)
    assert head is not None and head.code == 200 and days == []
    got = serveHTTP(site, "GET", path, headers, clock=clock)
    assert got is not None and got.code == 200 and len(days) == 1
    assert got.header("content-disposition") == 'attachment; filename="click-2027-01-15.json"'
