"""
Limits kept by the HTTP channel itself, on every HTTP listener (C{--http}
and C{--dashboard}), before any resource sees a request: Twisted reads
whatever body a client announces (or streams, chunked) into memory or a
temporary file, waits as long as a client trickles bytes, and holds as
many connections as clients open.

 - Connections: an address with L{maxConnectionsPerAddress
   <BoundedSite.maxConnectionsPerAddress>} open already is answered C{429}
   (with C{Retry-After}) and closed, before a byte of its request is read.
 - Time: a request's line, headers and body must all arrive within
   L{requestTimeout<BoundedSite.requestTimeout>} of its first byte, else
   C{408} and close (a slowloris, a trickled body). Between requests, an
   idle keep-alive connection has Twisted's idle timeout as before.
 - Size: a request line longer than Twisted's line limit (16 KiB) is
   C{414}; headers past 16 KiB in all or past L{maxHeaders
   <BoundedChannel.maxHeaders>} of them C{431}, not a silent close or a
   bare 400.
 - Bodies held at once: past the site's L{maxBodiesHeld
   <BoundedSite.maxBodiesHeld>} (announced, or streamed so far), a request
   with a body is answered C{503} (with C{Retry-After}) before it is read.
 - Bodies: once a request's headers are in, its site L{screens
   <BoundedSite.screen>} it before one byte of its body is read: a
   C{Content-Length} above the site's L{maxBody<BoundedSite.maxBody>} is
   answered C{413} at once, and the site may refuse on what the headers say
   (the API: C{401} without a token). A body that grows past the ceiling as
   it streams (chunked) is answered C{413} when it does. A request with a
   body on a path that L{takes none<BoundedSite.takesBody>} is handed to its
   resource at once as if it had none (so it answers what it answers there,
   a 404 or a 405), its body never read, and the connection closed after.

Sites judge a request on its L{decoded path<decodedPath>} (percent-decoded,
dot segments and repeated slashes removed), so that C{/%76%31/logins} is
C{/v1/logins} to them whatever Twisted's routing makes of it.

A refusal closes the connection, so that the rest of the request is never
read; a client that does not read the refusal is cut off after
C{abortTimeout} seconds.

The channel is Twisted's HTTP/1.x one, on purpose: Twisted's default
protocol would speak HTTP/2 over TLS where the C{h2} package is installed,
and its streams take bodies past this channel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from urllib.parse import unquote

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import RESPONSES, HTTPChannel
from twisted.web.server import Request, Site

from ..config import default
from ..runtime import ConnectionsPerAddress

log = Logger()

#: A refusal: the HTTP status and what it says.
Refusal = tuple[int, str]
#: Reasons as RFC 9110 and RFC 6585 name them (Twisted's table is older, or lacks them).
_REASONS = {
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


class BoundedRequest(Request):
    """A request whose body stops at its site's ceiling."""

    channel: BoundedChannel
    #: Bytes of body received so far.
    received = 0
    #: Answered and closed before it was read: nothing more is done with it.
    refused = False
    #: Handed to its resource.
    dispatched = False
    #: Chunked: its body is counted in its site's L{bodiesHeld
    #: <BoundedSite.bodiesHeld>} as it comes, not when announced.
    chunkedBody = False
    #: Bytes of its body counted in its site's L{bodiesHeld<BoundedSite.bodiesHeld>}.
    held = 0
    _holder: BoundedSite | None = None

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return
        self.received += len(data)
        site = self.channel.site
        if self.received > site.maxBody:
            self.channel.refuse(self, 413, site.tooLarge())
            return
        if self.chunkedBody and not self.hold(len(data)):
            self.channel.refuseBusy(self)
            return
        super().handleContentChunk(data)

    def hold(self, size: int) -> bool:
        """
        Count C{size} more bytes of body held by this request in its site's
        L{bodiesHeld<BoundedSite.bodiesHeld>} until it is finished or its
        connection lost; C{False} (and nothing counted) if that would pass
        the site's L{maxBodiesHeld<BoundedSite.maxBodiesHeld>}.
        """
        site = self.channel.site
        if site.bodiesHeld + size > site.maxBodiesHeld:
            return False
        if self._holder is None:
            self._holder = site
            self.notifyFinish().addBoth(self._release)
        site.bodiesHeld += size
        self.held += size
        return True

    def _release(self, result: object) -> None:
        assert self._holder is not None  # set before this was added
        self._holder.bodiesHeld -= self.held
        self.held = 0

    def requestReceived(self, command, path, version) -> None:
        if self.refused:
            return
        self.dispatched = True
        super().requestReceived(command, path, version)


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
    #: The call that answers 408 if the request being read is not all in by then.
    _deadline: IDelayedCall | None = None
    #: Refused: whatever else the client sends is not read.
    _readNothing = False

    def connectionMade(self) -> None:
        super().connectionMade()
        site = self.site
        assert self.transport is not None  # connected
        address = getattr(self.transport.getPeer(), "host", None)
        if address is None:
            return  # a UNIX socket: no address to count
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
            address=self._address,
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
        super().allHeadersReceived()
        if isinstance(screened, Deferred):
            # The body is read (up to the ceiling) meanwhile; a refusal that
            # comes before the request is handed on closes it.
            screened.addCallback(self._screened, request)
            screened.addErrback(lambda f: log.failure("screening a request failed", f))

    def _screened(self, refusal: Refusal | None, request: BoundedRequest) -> None:
        if refusal is not None and not request.dispatched and not request.refused:
            self.refuse(request, *refusal)

    def refuseBusy(self, request: BoundedRequest) -> None:
        """Refuse C{request}: its site holds as many bodies as it may already."""
        site = self.site
        log.info(
            "refusing a request body from {address}: {held} bytes of bodies held already",
            address=self._address,
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
        reason = _REASONS.get(code) or RESPONSES.get(code, b"Refused")
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


class BoundedSite(Site):
    """
    A site whose requests' bodies stop at L{maxBody} bytes, whose requests
    must arrive within L{requestTimeout}, and whose clients may hold
    L{maxConnectionsPerAddress} connections each.
    """

    # HTTPFactory types protocol as its HTTP/2-capable channel factory; a
    # channel class is what it builds just as well (with HTTP/1.1 only).
    protocol = BoundedChannel  # type: ignore[assignment]
    requestFactory = BoundedRequest
    displayTracebacks = False
    #: The largest body a request may have, in bytes.
    maxBody = 1024 * 1024
    #: The most connections one client address may hold open at once.
    maxConnectionsPerAddress: int = default("httpMaxConnectionsPerAddress")
    #: Seconds within which a request's line, headers and body must all
    #: arrive, from its first byte; 0 for no limit.
    requestTimeout: float = default("httpRequestTimeout").total_seconds()
    #: The most bytes of request bodies this site holds at once (in memory
    #: or temporary files, from the headers that announce them until they
    #: are answered); past it a request with a body is answered 503.
    maxBodiesHeld = 64 * 1024 * 1024
    #: Seconds a client refused for its connections or a body is told to wait.
    retryAfter = 10
    #: Bytes of request bodies held now.
    bodiesHeld = 0

    def __init__(self, resource, *args, **kwargs) -> None:
        super().__init__(resource, *args, **kwargs)
        #: The connections each client address holds open, on every listener of this site.
        self.connections = ConnectionsPerAddress()

    def limit(self, maxConnectionsPerAddress: int, requestTimeout: float) -> None:
        """Set this site's L{maxConnectionsPerAddress} and L{requestTimeout}."""
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.requestTimeout = requestTimeout

    def tooLarge(self) -> str:
        size = self.maxBody
        for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
            if size % scale == 0:
                return f"the body is larger than {size // scale} {unit}"
        return f"the body is larger than {size} bytes"

    def screen(
        self, request, method: bytes, path: str, length: int | None
    ) -> Refusal | Deferred | None:
        """
        A refusal for a request whose headers are in and whose body is not
        (C{path}: its L{decodedPath}; C{length}: its C{Content-Length},
        C{None} if chunked), or a C{Deferred} of one, or C{None} to go on.
        """
        if length is not None and length > self.maxBody:
            return 413, self.tooLarge()
        return None

    def takesBody(self, method: bytes, path: str) -> bool:
        """
        Whether a C{method} request on C{path} (its L{decodedPath}) takes a
        body; one that does not is answered as though it had none, and its
        body is never read. By default: every request.
        """
        return True

    def refusal(self, code: int, message: str) -> tuple[bytes, bytes]:
        """The content type and body that say C{message}."""
        return b"application/json", json.dumps({"error": message}).encode()


__all__ = ["BoundedChannel", "BoundedRequest", "BoundedSite", "decodedPath"]
