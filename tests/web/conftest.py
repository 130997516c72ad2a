"""Fixtures of the web side's unit tests: a site that sends (POST /v1/send) into a recording queue."""

from __future__ import annotations

import json
from email import message_from_bytes, policy

import pytest
from attrs import evolve
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from smtpeter.admin import MemoryAdministration
from smtpeter.runtime import AddressPolicy
from smtpeter.smtp import SendingLimits, ServerSettings
from smtpeter.store import MemoryLoginUsage, MemoryStore
from smtpeter.testing import serveHTTP
from smtpeter.web import makeSite

NOW = 1_800_000_000  # 2027-01-15T08:00:00Z


class RecordingQueue:
    """An IQueue's enqueue, recording; C{gate} holds the answer until fired."""

    def __init__(self) -> None:
        self.queued: list[tuple] = []
        self.gate: Deferred | None = None

    def enqueue(self, envelope, options, content):
        self.queued.append((envelope, options, content))
        qid = f"{len(self.queued):020X}"
        if self.gate is not None:
            return self.gate.addCallback(lambda _: qid)
        return succeed(qid)


class SendingSite:
    def __init__(self, maxSize: int = 1024 * 1024, maxRecipients: int = 5) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.store = MemoryStore(self.clock)
        self.queue = RecordingQueue()
        self.limits = SendingLimits(MemoryLoginUsage(), self.clock)
        self.settings = ServerSettings(
            hostname="gw.test",
            portal=None,  # type: ignore[arg-type]
            queue=self.queue,  # type: ignore[arg-type]
            throttle=None,  # type: ignore[arg-type]
            clock=self.clock,
            tlsOptions=None,
            maxSize=maxSize,
            maxRecipients=maxRecipients,
            recipientLiterals=AddressPolicy(),
            limits=self.limits,
        )
        self.site = makeSite(self.store, None, None, self.clock, submission=self.settings)
        self.store.logins.add("app", "pw")
        self.token = self.store.addToken("shop", "send", "app")
        self.readToken = self.store.addToken("reader")
        self.adminToken = self.store.addToken("ops", "admin")

    def login(self, **changes) -> None:
        record, password = self.store.logins.logins["app"]
        self.store.logins.logins["app"] = (evolve(record, **changes), password)

    def post(self, body, code=202, token=None, path="/v1/send", headers=None, raw=None):
        token = self.token if token is None else token
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else json.dumps(body).encode()
        response = serveHTTP(self.site, "POST", path, sent, data, clock=self.clock)
        assert response is not None
        assert code is None or response.code == code, response.body
        self.response = response
        return response.json()

    def message(self, index: int = -1):
        envelope, options, content = self.queue.queued[index]
        return envelope, options, message_from_bytes(content, policy=policy.default)


def rawRequest(site, data: bytes) -> StringTransport:
    """Bytes into C{site}'s channel; its transport, to read the answer from."""
    address = IPv4Address("TCP", "192.0.2.1", 40000)
    channel = site.buildProtocol(address)
    transport = StringTransport(peerAddress=address)
    channel.makeConnection(transport)
    channel.dataReceived(data)
    return transport


@pytest.fixture
def gw() -> SendingSite:
    return SendingSite()


class ManagedSite:
    """The site with the administration's endpoints, and an admin token: C{call} one."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_800_000_000)
        self.events = MemoryStore(self.clock)
        self.admin = MemoryAdministration(self.clock)
        self.site = makeSite(self.events, None, None, self.clock, admin=self.admin)
        self.token = self.events.addToken("ops", "admin")

    def call(self, method: str, path: str, body=None, raw: bytes | None = None):
        headers = {"Authorization": f"Bearer {self.token}"}
        data = raw if raw is not None else b""
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        response = serveHTTP(self.site, method, path, headers, data, clock=self.clock)
        assert response is not None, f"{method} {path} did not answer"
        return response


@pytest.fixture
def managed() -> ManagedSite:
    return ManagedSite()


def connect(site, host: str = "192.0.2.7"):
    """A connection from C{host} to C{site}'s channel, over a transport in memory."""
    channel = site.buildProtocol(IPv4Address("TCP", host, 1234))
    transport = StringTransport(peerAddress=IPv4Address("TCP", host, 1234))
    channel.makeConnection(transport)
    return channel, transport
