"""
The HTTP channel of every HTTP listener (L{BoundedChannel}), which keeps
the limits L{smtpeter.web._bounded} describes as a request arrives: it
counts connections per address, times each request from its first byte,
measures its line and headers, has its site screen it before its body is
read, and answers a refusal itself; and the path as sites judge it
(L{decodedPath}).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import RESPONSES, HTTPChannel

if TYPE_CHECKING:
    from ._bounded import BoundedRequest, BoundedSite

log = Logger()

#: A refusal: the HTTP status and what it says.
Refusal = tuple[int, str]
#: Reasons as RFC 9110 and RFC 6585 name them (Twisted's table is older, or lacks them).
REASONS = {
    408: b"Request Timeout",
    414: b"URI Too Long",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
}
_SLASHES = re.compile(r"/{2,}")


def decodedPath(target: bytes) -> str:
    """
    The path of a request's target as a site judges it: without the query,
    percent-decoded (UTF-8, errors replaced), repeated slashes made one and
    C{.} and C{..} segments resolved (RFC 3986 5.2.4), so that no spelling
    of a path escapes a check made on it.
    """
    text = _SLASHES.sub("/", unquote(target.split(b"?", 1)[0].decode("latin-1"), errors="replace"))
    segments: list[str] = []
    parts = text.split("/")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "..":
            if len(segments) > 1:
                segments.pop()
            if last:
                segments.append("")
        elif part == ".":
            if last:
                segments.append("")
        else:
            segments.append(part)
    path = "/".join(segments)
    return path if path.startswith("/") else "/" + path


class BoundedChannel(HTTPChannel):
    """
    An HTTP channel that keeps its site's limits: connections per address,
    a deadline for each whole request, the size of its line, headers and
    body; and that lets its site refuse a request on its headers alone.
    """

    site: BoundedSite
    #: The most header fields a request may have (browsers send about 20).
    maxHeaders = 100
    #: The client address counted in the site's connections, once counted.
    _address: str | None = None
    #: The peer's address, counted or not (a trusted proxy's is not), for the log.
    _peer: str | None = None
    #: The call that answers 408 if the request being read is not all in by then.
    _deadline: IDelayedCall | None = None
    #: Refused: whatever else the client sends is not read.
    _readNothing = False

    @property
    def target(self) -> bytes:
        """The request target of the request whose headers are being read (path and query)."""
        return self._path

    def connectionMade(self) -> None:
        super().connectionMade()
        site = self.site
        assert self.transport is not None  # connected
        address = self._peer = getattr(self.transport.getPeer(), "host", None)
        if address is None or site.proxies.trusts(address):
            return  # a UNIX socket, or a proxy that carries many clients: not counted
        self._address = address
        if not site.connections.enter(address, site.maxConnectionsPerAddress):
            # Not logged: a line per refused connection would cost more than
            # the refusal (the SMTP side's 421 is not logged either).
            self.refuse(
                None,
                429,
                f"too many connections from {address}; at most"
                f" {site.maxConnectionsPerAddress} at once",
                [(b"retry-after", b"%d" % site.retryAfter)],
            )

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
        if self._address is not None:
            self.site.connections.leave(self._address)
            self._address = None
        super().connectionLost(reason)

    def dataReceived(self, data: bytes) -> None:
        if self._readNothing:
            return
        # A request's first byte (the first of the connection or the first
        # after the previous answer) starts its deadline.
        if self._deadline is None and not self._handlingRequest and self.site.requestTimeout:
            self._deadline = self.callLater(self.site.requestTimeout, self._tooSlow)
        super().dataReceived(data)

    def allContentReceived(self) -> None:
        if self._deadline is not None:
            if self._deadline.active():
                self._deadline.cancel()
            self._deadline = None
        super().allContentReceived()

    def _tooSlow(self) -> None:
        self._deadline = None
        seconds = self.site.requestTimeout
        log.info(
            "closing the connection of {address}: its request took over {seconds} s",
            address=self._peer,
            seconds=seconds,
        )
        self.refuse(
            self.requests[-1] if self.requests else None,
            408,
            f"the request did not arrive within {seconds:g} seconds",
        )

    # -- the size of the request line and headers ----------------------

    def lineLengthExceeded(self, line: bytes) -> None:
        self._headersTooLarge()

    def lineReceived(self, line: bytes) -> None:
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            return self._headersTooLarge()
        return super().lineReceived(line)

    def headerReceived(self, line: bytes) -> bool:
        if self._receivedHeaderCount >= self.maxHeaders:
            self.refuse(
                self.requests[-1], 431, f"the request has more than {self.maxHeaders} headers"
            )
            return False
        return super().headerReceived(line)

    def _headersTooLarge(self) -> None:
        if self._receivedHeaderSize == 0:  # no line of this request is in yet
            self.refuse(None, 414, f"the request line is longer than {self.MAX_LENGTH // 1024} KiB")
        else:
            self.refuse(
                self.requests[-1],
                431,
                f"the request's headers are larger than {self.totalHeadersSize // 1024} KiB",
            )

    # -- the body ------------------------------------------------------

    def allHeadersReceived(self) -> None:
        request = self.requests[-1]
        path = decodedPath(self._path)
        screened = self.site.screen(request, self._command, path, self.length)
        if screened is not None and not isinstance(screened, Deferred):
            return self.refuse(request, *screened)
        if self.length != 0 and not self.site.takesBody(self._command, path):
            # Answered as a request without a body would be, at once; the
            # body is never read, and the connection closed after.
            self.length = 0
            request.requestHeaders.removeHeader(b"expect")
            super().allHeadersReceived()
            self.persistent = False
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            self._readNothing = True
            return
        if self.length is None:
            request.chunkedBody = True
        elif self.length and not request.hold(self.length):
            return self.refuseBusy(request)
        # A client that waits for 100 Continue is told to go on only once
        # the screening has let its request through.
        expect = isinstance(screened, Deferred) and request.requestHeaders.getRawHeaders(b"expect")
        if expect:
            request.requestHeaders.removeHeader(b"expect")
        super().allHeadersReceived()
        if isinstance(screened, Deferred):
            # The body is read (up to the ceiling) meanwhile; a refusal that
            # comes before the request is handed on closes it.
            if expect:
                screened.addCallback(self._goOn, request, expect)
            screened.addCallback(self._screened, request)
            screened.addErrback(lambda f: log.failure("screening a request failed", f))

    def _goOn(
        self, refusal: Refusal | None, request: BoundedRequest, expect: list
    ) -> Refusal | None:
        """Tell the client to send its body, if it is let through and has not sent it."""
        request.requestHeaders.setRawHeaders(b"expect", expect)
        if (
            refusal is None
            and not (request.dispatched or request.refused)
            and expect[0].lower() == b"100-continue"
            and self._version == b"HTTP/1.1"
        ):
            self._send100Continue()
        return refusal

    def _screened(self, refusal: Refusal | None, request: BoundedRequest) -> None:
        if refusal is not None and not request.dispatched and not request.refused:
            self.refuse(request, *refusal)

    def refuseBusy(self, request: BoundedRequest) -> None:
        """Refuse C{request}: its site holds as many bodies as it may already."""
        site = self.site
        log.info(
            "refusing a request body from {address}: {held} bytes of bodies held already",
            address=self._peer,
            held=site.bodiesHeld,
        )
        self.refuse(
            request,
            503,
            "the gateway is receiving too many request bodies at once; try again shortly",
            [(b"retry-after", b"%d" % site.retryAfter)],
        )

    def refuse(
        self,
        request: BoundedRequest | None,
        code: int,
        message: str,
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        """
        Answer C{code} before the rest of the request is read, and close the
        connection; abort it if the client has not read the answer after
        C{abortTimeout} seconds.
        """
        if request is not None:
            request.refused = True
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
        self._readNothing = True
        contentType, body = self.site.refusal(code, message)
        reason = REASONS.get(code) or RESPONSES.get(code, b"Refused")
        extra = b"".join(b"%s: %s\r\n" % pair for pair in headers)
        assert self.transport is not None  # connected
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n"
            b"cache-control: no-store\r\n%sconnection: close\r\n\r\n%s"
            % (code, reason, contentType, len(body), extra, body)
        )
        self.loseConnection()
        if self._abortingCall is None and self.abortTimeout is not None:
            self._abortingCall = self.callLater(self.abortTimeout, self.forceAbortClient)


__all__ = ["BoundedChannel", "Refusal", "decodedPath"]
