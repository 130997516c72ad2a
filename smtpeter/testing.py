"""
Helpers for testing smtpeter and things built on it: a receiving SMTP
server that records exactly what arrives and answers as a test scripts it
(L{SinkServer}), L{HTTPResponse}s of a web site read over a transport in
memory (L{serveHTTP}), and the fakes the unit tests share (a clock that
runs what threads hand it, a DNS resolver answering from dicts, the result
of a fired Deferred).

The sink runs in its own threads with plain sockets, independent of any
reactor, so a test can point a real gateway process at it. The sink,
the tests' PostgreSQL server (L{PostgreSQLServer}) and Debian's HAProxy
with a generated configuration (L{HAProxy}) live in modules of their
own, in the private package C{smtpeter._testing}; import them from here.
"""

from __future__ import annotations

import queue
from typing import Any

from attrs import frozen
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.names import dns
from twisted.python.failure import Failure

# The sink, the PostgreSQL server and HAProxy are this module's own parts,
# kept in a private package so that the top level keeps one public testing module.
# private: testing.py's own parts, in modules of their own (see above)
from ._testing import HAProxy, PostgreSQLServer, Received, RoundTrips, SinkServer, _Server  # noqa: F401 (a test's)

__all__ = [
    "FakeResolver",
    "HAProxy",
    "HTTPResponse",
    "PostgreSQLServer",
    "PumpedReactor",
    "Received",
    "RoundTrips",
    "SinkServer",
    "TLSStringTransport",
    "mx",
    "result",
    "serveHTTP",
]


@frozen
class HTTPResponse:
    """What a site answered: its status code, headers (lower-case names, in order) and body."""

    code: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of the header C{name}, if the answer has it."""
        return next((value for key, value in self.headers if key == name.lower()), None)

    def cookies(self) -> dict[str, str]:
        """The cookies the answer sets: name -> value (C{""} for one it removes)."""
        found = {}
        for key, value in self.headers:
            if key == "set-cookie":
                name, _, rest = value.partition("=")
                found[name.strip()] = rest.split(";", 1)[0]
        return found

    def json(self):
        import json

        return json.loads(self.body)


def serveHTTP(
    site,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    peer: str = "192.0.2.1",
    clock=None,
) -> HTTPResponse | None:
    """
    Send one HTTP/1.0 request to C{site} (a twisted.web C{Site}) over a
    transport in memory, through its real channel, parser and resources,
    and read the answer. If the site waits on C{clock} (a L{Clock
    <twisted.internet.task.Clock>}: a delay, say), it is advanced a second
    at a time, a minute at most, until the answer is finished; C{None} if
    it never is.
    """
    channel = site.buildProtocol(IPv4Address("TCP", peer, 40000))
    transport = StringTransport(peerAddress=IPv4Address("TCP", peer, 40000))
    channel.makeConnection(transport)
    lines = [f"{method} {path} HTTP/1.0", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    channel.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    for _ in range(60 if clock is not None else 0):
        if transport.disconnecting:
            break
        clock.advance(1)
    raw = transport.value()
    if not transport.disconnecting or b"\r\n\r\n" not in raw:
        return None
    channel.connectionLost(Failure(ConnectionDone()))  # closed, as a real transport would say
    head, _, content = raw.partition(b"\r\n\r\n")
    status, *fields = head.decode("latin-1").split("\r\n")
    parsed = []
    for line in fields:
        name, _, value = line.partition(":")
        parsed.append((name.strip().lower(), value.strip()))
    return HTTPResponse(int(status.split()[1]), tuple(parsed), content)


def result(d: Deferred[Any]) -> Any:
    """The result of the already fired Deferred C{d}; its failure raised."""
    out: list[Any] = []
    d.addBoth(out.append)
    [value] = out
    if hasattr(value, "raiseException"):
        value.raiseException()
    return value


class PumpedReactor(Clock):
    """A clock that also runs what other threads hand it (callFromThread), in L{wait}."""

    def __init__(self) -> None:
        super().__init__()
        #: What threads handed over (Clock keeps its delayed calls in C{calls}).
        self.handed: queue.Queue = queue.Queue()

    def callFromThread(self, f, *args, **kwargs):
        self.handed.put((f, args, kwargs))

    def outcome(self, d: Deferred[Any], timeout: float = 10.0) -> Any:
        """
        Run what threads hand over until C{d} fires; its result, or the
        L{Failure} it failed with (for tests that look at failures).
        """
        results: list[Any] = []
        d.addBoth(results.append)
        while not results:
            f, args, kwargs = self.handed.get(timeout=timeout)
            f(*args, **kwargs)
        return results[0]

    def wait(self, d: Deferred[Any], timeout: float = 10.0) -> Any:
        """L{outcome}, its failure raised."""
        result = self.outcome(d, timeout)
        if hasattr(result, "raiseException"):
            result.raiseException()
        return result


def mx(name, preference, exchange):
    """An MX record of C{name}, for L{FakeResolver}."""
    return dns.RRHeader(name, dns.MX, payload=dns.Record_MX(preference, exchange))


class FakeResolver:
    """
    A resolver answering from dicts: C{mx} maps a name to MX records (see
    L{mx}), C{a} and C{aaaa} map a name to addresses; with C{error}, every
    MX lookup fails with it.
    """

    def __init__(self, mx=None, a=None, aaaa=None, error=None):
        self.mx, self.a, self.aaaa, self.error = mx or {}, a or {}, aaaa or {}, error

    def lookupMailExchange(self, name):
        if self.error is not None:
            return fail(self.error)
        return succeed((self.mx.get(name, []), [], []))

    def lookupAddress(self, name):
        return succeed(
            (
                [
                    dns.RRHeader(name, dns.A, payload=dns.Record_A(ip))
                    for ip in self.a.get(name, [])
                ],
                [],
                [],
            )
        )

    def lookupIPV6Address(self, name):
        return succeed(
            (
                [
                    dns.RRHeader(name, dns.AAAA, payload=dns.Record_AAAA(ip))
                    for ip in self.aaaa.get(name, [])
                ],
                [],
                [],
            )
        )


class TLSStringTransport(StringTransport):
    """A StringTransport that records STARTTLS instead of doing it."""

    tlsStarted = False
    #: What had been written when TLS started (what went in clear).
    writtenInClear = b""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        super().write(data)

    def startTLS(self, contextFactory) -> None:
        self.tlsStarted = True
        self.writtenInClear = self.value()
