"""
A ceiling on request bodies, kept by the HTTP channel itself, on every HTTP
listener (C{--http} and C{--dashboard}): Twisted reads whatever body a
client announces (or streams, chunked) into memory or a temporary file
before any resource sees the request.

Once a request's headers are in, its site L{screens<BoundedSite.screen>} it
before one byte of its body is read: a C{Content-Length} above the site's
L{maxBody<BoundedSite.maxBody>} is answered C{413} at once, and the site
may refuse on what the headers say (the API: C{401} without a token). A
body that grows past the ceiling as it streams (chunked) is answered
C{413} when it does. A refusal closes the connection, so that the rest of
the body is never read.

The channel is Twisted's HTTP/1.x one, on purpose: Twisted's default
protocol would speak HTTP/2 over TLS where the C{h2} package is installed,
and its streams take bodies past this channel.
"""

from __future__ import annotations

import json

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.http import RESPONSES, HTTPChannel
from twisted.web.server import Request, Site

log = Logger()

#: A refusal: the HTTP status and what it says.
Refusal = tuple[int, str]


class BoundedRequest(Request):
    """A request whose body stops at its site's ceiling."""

    #: Bytes of body received so far.
    received = 0
    #: Answered and closed before it was read: nothing more is done with it.
    refused = False
    #: Handed to its resource.
    dispatched = False

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return
        self.received += len(data)
        site = self.channel.site
        if self.received > site.maxBody:
            self.channel.refuse(self, 413, site.tooLarge())
            return
        super().handleContentChunk(data)

    def requestReceived(self, command, path, version) -> None:
        if self.refused:
            return
        self.dispatched = True
        super().requestReceived(command, path, version)


class BoundedChannel(HTTPChannel):
    """An HTTP channel that lets its site refuse a request on its headers alone."""

    def allHeadersReceived(self) -> None:
        request = self.requests[-1]
        screened = self.site.screen(request, self._command, self._path, self.length)
        if screened is not None and not isinstance(screened, Deferred):
            return self.refuse(request, *screened)
        super().allHeadersReceived()
        if isinstance(screened, Deferred):
            # The body is read (up to the ceiling) meanwhile; a refusal that
            # comes before the request is handed on closes it.
            screened.addCallback(self._screened, request)
            screened.addErrback(lambda f: log.failure("screening a request failed", f))

    def _screened(self, refusal: Refusal | None, request: BoundedRequest) -> None:
        if refusal is not None and not request.dispatched and not request.refused:
            self.refuse(request, *refusal)

    def refuse(self, request: BoundedRequest, code: int, message: str) -> None:
        """Answer C{code} before the body is read, and close the connection."""
        request.refused = True
        contentType, body = self.site.refusal(code, message)
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n"
            b"cache-control: no-store\r\nconnection: close\r\n\r\n%s"
            % (code, RESPONSES.get(code, b"Refused"), contentType, len(body), body)
        )
        self.loseConnection()


class BoundedSite(Site):
    """A site whose requests' bodies stop at L{maxBody} bytes."""

    protocol = BoundedChannel
    requestFactory = BoundedRequest
    displayTracebacks = False
    #: The largest body a request may have, in bytes.
    maxBody = 1024 * 1024

    def tooLarge(self) -> str:
        size = self.maxBody
        for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
            if size % scale == 0:
                return f"the body is larger than {size // scale} {unit}"
        return f"the body is larger than {size} bytes"

    def screen(
        self, request, method: bytes, path: bytes, length: int | None
    ) -> Refusal | Deferred | None:
        """
        A refusal for a request whose headers are in and whose body is not
        (C{length}: its C{Content-Length}, C{None} if chunked), or a
        C{Deferred} of one, or C{None} to read it.
        """
        if length is not None and length > self.maxBody:
            return 413, self.tooLarge()
        return None

    def refusal(self, code: int, message: str) -> tuple[bytes, bytes]:
        """The content type and body that say C{message}."""
        return b"application/json", json.dumps({"error": message}).encode()


__all__ = ["BoundedChannel", "BoundedRequest", "BoundedSite"]
