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
from smtpeter.testing import HTTPResponse, serveHTTP
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


class API:
    """
    The site with the administration's endpoints, a read token and an
    admin token in its store: L{call} asserts a JSON answer, L{request}
    gives any answer whole.
    """

    def __init__(self) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.events = MemoryStore(self.clock)
        self.admin = MemoryAdministration(self.clock)
        self.checked: list[dict] = []
        self.site = makeSite(
            self.events, None, None, self.clock, admin=self.admin, checkDomain=self.check
        )
        self.token = self.adminToken = self.events.addToken("ops", "admin")
        self.readToken = self.events.addToken("reader")

    async def check(self, domain: dict) -> dict:
        self.checked.append(domain)
        return {"domain": domain["domain"], "ok": True}

    def request(
        self, method: str, path: str, body=None, raw: bytes | None = None, token="admin"
    ) -> HTTPResponse:
        token = {"admin": self.adminToken, "read": self.readToken}.get(token, token)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = raw if raw is not None else b""
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        response = serveHTTP(self.site, method, path, headers, data, clock=self.clock)
        assert response is not None, f"{method} {path} did not answer"
        return response

    def call(
        self, method: str, path: str, body=None, token: str | None = "admin", code=200, answer=None
    ):
        """The JSON of an answer with C{code}; C{answer}: a list given the whole response."""
        response = self.request(method, path, body, token=token)
        assert response.code == code, (method, path, response.body)
        assert response.header("content-type") == "application/json"
        if answer is not None:
            answer.append(response)
        return response.json()


@pytest.fixture
def api() -> API:
    return API()


@pytest.fixture
def managed() -> API:
    return API()


def connect(site, host: str = "192.0.2.7"):
    """A connection from C{host} to C{site}'s channel, over a transport in memory."""
    channel = site.buildProtocol(IPv4Address("TCP", host, 1234))
    transport = StringTransport(peerAddress=IPv4Address("TCP", host, 1234))
    channel.makeConnection(transport)
    return channel, transport
