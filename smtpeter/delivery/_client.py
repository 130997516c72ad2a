"""
The outbound SMTP client: one connection to a next hop, reused for
consecutive messages. Our own, rather than twisted.mail.smtp.ESMTPClient,
because that client dot-stuffs per 16 KiB chunk (a "." line at a chunk
boundary or at the start goes out unescaped), rewrites every LF to CRLF,
and reads lines a server sends after its STARTTLS 220 as the answer to the
next command. Here the whole message is stuffed at once, sent as stored
(CRLF already), and anything after the 220 is dropped.
"""

from __future__ import annotations

import base64
import re
from collections import deque
from datetime import timedelta
from typing import Any, cast

from attrs import frozen
from twisted.internet import tcp
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IDelayedCall, IReactorTime, ITLSTransport
from twisted.internet.protocol import Protocol
from twisted.logger import Logger

from ..runtime import writeThrough
from ..smtp import noDelay

log = Logger()
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\s")
MAX_REPLY_BYTES = 64 * 1024


class ClientError(Exception):
    """The conversation with the next hop broke down (not a normal SMTP reply)."""


@frozen
class ServerReply:
    """A reply received from the next hop."""

    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    @property
    def enhanced(self) -> str:
        match = _ENHANCED.match(self.lines[0] + " ") if self.lines else None
        return ".".join(match.groups()) if match else ""

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


def dotStuff(content: bytes) -> list[bytes]:
    """
    The DATA payload for stored CRLF content, in pieces to write in turn:
    every line that starts with a dot gets one more, including the first
    line, and the terminator follows. Content without such lines is sent
    as it is, not copied (it may be 50 MB).
    """
    stuffed = content.replace(b"\r\n.", b"\r\n..") if b"\r\n." in content else content
    pieces = [b".", stuffed] if stuffed.startswith(b".") else [stuffed]
    if stuffed and not stuffed.endswith(b"\r\n"):
        pieces.append(b"\r\n")
    return [*pieces, b".\r\n"]


#: Messages up to this size go out joined to their final dot, in one write.
_ONE_SEND = 64 * 1024


class SMTPClientProtocol(Protocol):
    """Reads replies and hands them, in order, to whoever waits for them."""

    def __init__(self, clock: IReactorTime, timeout: timedelta = timedelta(minutes=5)) -> None:
        self.clock = clock
        self.timeout = timeout
        self._buffer = b""
        self._lines: list[str] = []
        #: Who waits for replies, in order: C{[Deferred, how many, those come so far]}.
        self._waiting: deque[list] = deque()
        self._early: deque[ServerReply] = deque()
        self._dropAfterNextReply = False
        #: Fires when the hop has kept a wait without a reply for C{timeout}.
        self._timer: IDelayedCall | None = None
        self.lost = False
        self.extensions: dict[str, str] = {}

    @property
    def connection(self) -> ITLSTransport:
        """The transport, once connected: Twisted's TCP connection, which can start TLS."""
        return cast(ITLSTransport, self.transport)

    def connectionMade(self) -> None:
        noDelay(self.transport)
        self.greeting = self.expect()

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_REPLY_BYTES:
                    self._abort("reply line too long")
                return
            raw, self._buffer = self._buffer[:end].rstrip(b"\r"), self._buffer[end + 1 :]
            line = raw.decode("utf-8", "replace")
            if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in ("", " ", "-"):
                self._abort(f"malformed reply line {line[:80]!r}")
                return
            self._lines.append(line[4:])
            if sum(map(len, self._lines)) > MAX_REPLY_BYTES:
                self._abort("reply too long")
                return
            if line[3:4] != "-":
                reply = ServerReply(int(line[:3]), tuple(self._lines))
                self._lines = []
                if self._dropAfterNextReply:
                    # After the 220 to STARTTLS nothing sent in clear counts.
                    self._dropAfterNextReply = False
                    self._buffer = b""
                    self._deliver(reply)
                    return
                self._deliver(reply)

    def _deliver(self, reply: ServerReply) -> None:
        if not self._waiting:
            self._early.append(reply)
            return
        d, count, replies = self._waiting[0]
        if count == 1 and replies is None:
            self._waiting.popleft()
            d.callback(reply)
        else:
            replies.append(reply)
            assert self._timer is not None  # armed while anyone waits
            if len(replies) < count:
                self._timer.reset(self._seconds)
                return
            self._waiting.popleft()
            d.callback(replies)
        if self._waiting:
            assert self._timer is not None  # armed while anyone waits
            self._timer.reset(self._seconds)  # the next reply has its full time

    def _abort(self, why: str) -> None:
        log.warn("next hop protocol error: {why}", why=why)
        self.connection.abortConnection()
        self._failAll(ClientError(why))

    def _failAll(self, error: Exception) -> None:
        while self._waiting:
            self._waiting.popleft()[0].errback(error)

    def connectionLost(self, reason=None) -> None:
        self.lost = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._failAll(ConnectionLost("connection to next hop lost"))

    @property
    def _seconds(self) -> float:
        return self.timeout.total_seconds()

    def expect(self) -> Deferred[ServerReply]:
        """C{Deferred[ServerReply]}: the next reply not yet taken."""
        if self._early:
            d: Deferred[ServerReply] = Deferred()
            d.callback(self._early.popleft())
            return d
        return self._wait(1, None)

    def expectReplies(self, count: int) -> Deferred[list[ServerReply]]:
        """
        C{Deferred[list[ServerReply]]}: the next C{count} replies, together
        (those to a pipelined group of commands): one wait, not one each.
        """
        replies: list[ServerReply] = []
        while self._early and len(replies) < count:
            replies.append(self._early.popleft())
        if len(replies) == count:
            d: Deferred[list[ServerReply]] = Deferred()
            d.callback(replies)
            return d
        return self._wait(count, replies)

    def _wait(self, count: int, replies: list[ServerReply] | None) -> Deferred[Any]:
        """A reply (C{replies} is C{None}) or C{count} replies, C{replies} those come so far."""
        d: Deferred[Any] = Deferred()
        if self.lost:
            d.errback(ConnectionLost("connection to next hop lost"))
            return d
        if not self._waiting:
            # One timer for the connection, not one per reply: armed again
            # (a cheap move to a later time) when a wait starts or a reply comes.
            if self._timer is None:
                self._timer = self.clock.callLater(self._seconds, self._timedOut)
            else:
                self._timer.reset(self._seconds)
        self._waiting.append([d, count, replies])
        return d

    def _timedOut(self) -> None:
        self._timer = None
        if not self._waiting:
            return  # idle: nothing was awaited
        self.connection.abortConnection()
        self._failAll(ClientError(f"no reply from next hop within {self._seconds:.0f} s"))

    def write(self, data: bytes) -> None:
        """
        Send C{data}: on plain TCP at once (L{writeThrough}), not at the
        reactor's next turn, as the server side sends its replies; over TLS
        as Twisted's TLS layer sends it.
        """
        if isinstance(self.transport, tcp.Connection) and not self.transport.TLS:
            writeThrough(self.transport, data)
        else:
            self.connection.write(data)

    def send(self, line: str) -> None:
        self.write(line.encode("utf-8") + b"\r\n")

    async def command(self, line: str) -> ServerReply:
        self.send(line)
        return await self.expect()

    async def ehlo(self, name: str) -> ServerReply:
        reply = await self.command(f"EHLO {name}")
        if reply.code != 250:
            reply = await self.command(f"HELO {name}")
            self.extensions = {}
            return reply
        self.extensions = {}
        for line in reply.lines[1:]:
            keyword, _, value = line.partition(" ")
            self.extensions[keyword.upper()] = value
        return reply

    async def startTLS(self, contextFactory) -> ServerReply:
        self._dropAfterNextReply = True
        reply = await self.command("STARTTLS")
        self._dropAfterNextReply = False
        if reply.code == 220:
            self.connection.startTLS(contextFactory)
        return reply

    async def authenticate(self, user: str, password: str) -> ServerReply:
        mechanisms = self.extensions.get("AUTH", "").upper().split()
        if "PLAIN" in mechanisms or "LOGIN" not in mechanisms:
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
            return await self.command(f"AUTH PLAIN {token}")
        reply = await self.command("AUTH LOGIN")
        if reply.code == 334:
            reply = await self.command(base64.b64encode(user.encode()).decode())
        if reply.code == 334:
            reply = await self.command(base64.b64encode(password.encode()).decode())
        return reply

    def sendData(self, content: bytes, dot: bool = True) -> None:
        """The DATA payload; without C{dot}, all but its final dot (write it with L{sendDot})."""
        pieces = dotStuff(content)
        if not dot:
            pieces.pop()
        if len(content) <= _ONE_SEND:
            self.write(b"".join(pieces))  # one send, not one for the final dot too
            return
        for piece in pieces:
            self.write(piece)

    def sendDot(self) -> None:
        """The final dot that ends a payload sent with C{sendData(content, dot=False)}."""
        self.write(b".\r\n")
