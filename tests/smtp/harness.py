"""Drive a SubmissionServer over a StringTransport, with a Clock."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from smtpeter.queue._incoming import IncomingContent, Spilled
from smtpeter.smtp import AuthThrottle, ServerSettings, SubmissionServer, makePortal
from smtpeter.store import MemoryLoginStore
from smtpeter.testing import TLSStringTransport


class RecordingQueue:
    """
    An IQueue that keeps what it is given; C{hold} makes enqueue wait.
    Bodies over C{spillOver} bytes go to files in C{spillDir}, as the spool's do.
    """

    def __init__(self, spillOver: int = 1024 * 1024) -> None:
        self.messages = []
        self.hold = False
        self.waiting: list[Deferred] = []
        self.error: Exception | None = None
        self.spillOver = spillOver
        self.spillDir = Path(tempfile.mkdtemp(prefix="smtpeter-spill-"))
        self.spilled: list[Spilled] = []

    def _spill(self):
        path = Path(tempfile.mktemp(dir=self.spillDir))
        return path, open(path, "wb")

    def incoming(self) -> IncomingContent:
        return IncomingContent(self._spill, self.spillOver)

    def enqueue(self, envelope, options, content):
        from twisted.internet.defer import fail, succeed

        if self.error is not None:
            return fail(self.error)
        if isinstance(content, Spilled):
            self.spilled.append(content)
            content = content.read()
        self.messages.append((envelope, options, content))
        qid = f"Q{len(self.messages)}"
        if self.hold:
            d = Deferred()
            self.waiting.append((d, qid))
            return d
        return succeed(qid)

    def release(self) -> None:
        for d, qid in self.waiting:
            d.callback(qid)
        self.waiting = []


class Harness:
    PASSWORD = "s3cret-password"

    def __init__(
        self,
        implicitTLS: bool = False,
        features=(),
        finishHandshake: bool = True,
        makeProtocol=SubmissionServer,
        **settings,
    ) -> None:
        """C{makeProtocol(settings, implicitTLS)} makes the session (another listener's)."""
        self.clock = Clock()
        self.logins = MemoryLoginStore(self.clock)
        self.logins.add("alice", self.PASSWORD, features)
        self.logins.add("mallory", "x", enabled=False)
        self.queue = RecordingQueue()
        self.settings = ServerSettings(
            hostname="gw.test",
            portal=makePortal(self.logins),
            queue=self.queue,
            throttle=AuthThrottle(self.clock),
            logins=self.logins,
            clock=self.clock,
            tlsOptions=object(),
            **settings,
        )
        self.protocol = makeProtocol(self.settings, implicitTLS)
        self.transport = TLSStringTransport(peerAddress=IPv4Address("TCP", "192.0.2.7", 4321))
        self.protocol.makeConnection(self.transport)
        if implicitTLS and finishHandshake:
            self.protocol.handshakeCompleted()

    def send(self, data: bytes | str) -> list[str]:
        """Send bytes; return the reply lines written in answer."""
        if isinstance(data, str):
            data = data.encode()
        self.transport.clear()
        self.protocol.dataReceived(data)
        return self.lines()

    def lines(self) -> list[str]:
        return self.transport.value().decode("utf-8", "replace").splitlines()

    def codes(self, data: bytes | str) -> list[str]:
        return [line[:3] for line in self.send(data) if line[3:4] == " "]

    def secure(self) -> None:
        self.send("EHLO client.test\r\n")
        self.send("STARTTLS\r\n")
        self.protocol.handshakeCompleted()
        self.send("EHLO client.test\r\n")

    def login(self) -> None:
        self.secure()
        blob = base64.b64encode(b"\0alice\0" + self.PASSWORD.encode()).decode()
        assert self.send(f"AUTH PLAIN {blob}\r\n") == ["235 2.7.0 Authentication successful"]

    def transaction(self, sender="a@example.com", rcpt="b@example.org") -> None:
        self.send(f"MAIL FROM:<{sender}>\r\n")
        self.send(f"RCPT TO:<{rcpt}>\r\n")
        assert self.send("DATA\r\n")[0].startswith("354")


def plain(user: str, password: str, authzid: str = "") -> str:
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()
