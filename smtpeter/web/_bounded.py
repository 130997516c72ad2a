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

The channel (L{smtpeter.web._boundedchannel}) keeps these limits as a
request arrives; the site and its requests, here, hold what it counts.
It is Twisted's HTTP/1.x one, on purpose: Twisted's default
protocol would speak HTTP/2 over TLS where the C{h2} package is installed,
and its streams take bodies past this channel.
"""

from __future__ import annotations

import json

from twisted.internet.defer import Deferred
from twisted.web.server import Request, Site

from ..config import default
from ..runtime import ConnectionsPerAddress
from ._boundedchannel import REASONS, BoundedChannel, Refusal, decodedPath
from ._proxies import NO_PROXIES, TrustedProxies, accessLogLine


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
    #: The largest body it may have (its site's L{bodyLimit<BoundedSite.bodyLimit>}
    #: for its path, once screened; else its site's L{maxBody<BoundedSite.maxBody>}).
    maxBody: int | None = None
    _holder: BoundedSite | None = None

    def setResponseCode(self, code: int, message: bytes | None = None) -> None:
        """As Twisted's, with the reasons its table lacks (C{429 Too Many Requests})."""
        super().setResponseCode(code, message if message is not None else REASONS.get(code))

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return
        self.received += len(data)
        site = self.channel.site
        limit = site.maxBody if self.maxBody is None else self.maxBody
        if self.received > limit:
            self.channel.refuse(self, 413, site.tooLarge(limit))
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
    #: The reverse proxies in front (C{--http-trusted-proxy}): believed about
    #: their clients, and not held to L{maxConnectionsPerAddress}.
    proxies: TrustedProxies = NO_PROXIES
    #: Bytes of request bodies held now.
    bodiesHeld = 0

    def __init__(self, resource, *args, **kwargs) -> None:
        super().__init__(resource, *args, **kwargs)
        self._logFormatter = accessLogLine
        #: The connections each client address holds open, on every listener of this site.
        self.connections = ConnectionsPerAddress()

    def limit(
        self,
        maxConnectionsPerAddress: int,
        requestTimeout: float,
        proxies: TrustedProxies = NO_PROXIES,
    ) -> None:
        """Set this site's L{maxConnectionsPerAddress}, L{requestTimeout} and L{proxies}."""
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.requestTimeout = requestTimeout
        self.proxies = proxies

    def tooLarge(self, limit: int | None = None) -> str:
        size = self.maxBody if limit is None else limit
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
        limit = request.maxBody = self.bodyLimit(method, path)
        if length is not None and length > limit:
            return 413, self.tooLarge(limit)
        return None

    def bodyLimit(self, method: bytes, path: str) -> int:
        """The largest body a C{method} request on C{path} may have; by default L{maxBody}."""
        return self.maxBody

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


__all__ = ["BoundedChannel", "BoundedRequest", "BoundedSite", "Refusal", "decodedPath"]
