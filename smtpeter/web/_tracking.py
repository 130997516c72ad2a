"""
The tracking endpoints: C{/c/{token}/...} (clicks), C{/o/{token}.gif}
(opens), C{/i/{hash}.{ext}} (hosted images) and C{/healthz}.

A click is answered with a redirect to the URL recorded for that link when
the message was sent, never to anything taken from the request, so a
changed token cannot turn the gateway into an open redirect: it fails its
signature check (keyed BLAKE2b) and gets 404. Clicks and opens are answered
only once their event is committed to disk; those of one link (or open
pixel) beyond C{--track-limit} a minute are answered without one
(L{Replays}).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

from attrs import frozen
from twisted.web.http import NOT_MODIFIED

from ..features import TokenSigner, isTrackable
from ..runtime import TRACKING_UNRECORDED
from ..store import ImageStore, MessageRecord
from ._machines import MachineDetector
from ._proxies import clientAddress, isSecure
from ._replays import Replays
from ._resources import AsyncLeaf, HTTPError, segment

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorThreads, IReactorTime

    from ..store import IEventStore


class HealthChecks(Protocol):
    """What L{Health} asks (the gateway's L{HealthCheck<smtpeter.process.HealthCheck>})."""

    def problems(self) -> Deferred[list[str]]:
        """What is wrong; empty when all is well."""
        ...


#: A transparent 1x1 GIF.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
#: Request headers recorded with clicks and opens (cookies never).
_SKIPPED_HEADERS = {b"cookie", b"authorization"}
#: What a click or an open keeps of its request, which anyone who has a
#: link can send as often as they like, each with 16 KiB of headers and a
#: 16 KiB line: each header's value up to this many characters ...
MAX_HEADER = 500
#: ... the headers up to this many characters in all (the rest left out) ...
MAX_HEADERS = 2048
#: ... and the URL of a click up to this many.
MAX_URL = 2048


@frozen
class Sent:
    """What the tracking endpoints need to know about a sent message."""

    record: MessageRecord | None
    links: tuple[str, ...]

    def recipient(self, index: int) -> str:
        if self.record is None:
            return ""
        recipient = self.record.recipient(index)
        return recipient.address if recipient is not None else ""

    @property
    def tags(self) -> tuple[str, ...]:
        return self.record.tags if self.record is not None else ()


class Tracker:
    """
    Looks messages up (with a cache: a sent message never changes) and
    records events, in an L{IEventStore}.
    """

    def __init__(
        self,
        events: IEventStore,
        signer: TokenSigner,
        clock: IReactorTime,
        cacheSize: int = 20000,
        limit: int = 20,
    ) -> None:
        self.events = events
        self.signer = signer
        self.clock = clock
        self.machines = MachineDetector()
        #: Which clicks and opens are recorded (C{limit} a minute of each link).
        self.replays = Replays(clock, limit)
        self._cache: OrderedDict[str, Sent] = OrderedDict()
        self._cacheSize = cacheSize

    async def sent(self, qid: str) -> Sent:
        found = self._cache.get(qid)
        if found is not None:
            self._cache.move_to_end(qid)
            return found

        record = await self.events.message(qid)
        found = Sent(record, tuple(await self.events.links(qid)) if record is not None else ())
        if found.record is not None:
            self._cache[qid] = found
            if len(self._cache) > self._cacheSize:
                self._cache.popitem(last=False)
        return found

    def recording(self, kind: str, *link: object) -> bool:
        """
        Whether this click or open (C{kind}) of C{link} (its message, its
        recipient, for a click its link) is recorded (L{Replays}); one that
        is not is counted in C{smtpeter_tracking_unrecorded_total}.
        """
        if self.replays.recorded((kind, *link)):
            return True
        TRACKING_UNRECORDED.labels(kind).inc()
        return False

    def details(self, request, kind: str, sent: Sent, **more) -> dict:
        now = self.clock.seconds()
        ip = clientAddress(request)
        reason = self.machines.check(
            request.method,
            request.requestHeaders,
            kind,
            sent.record.received if sent.record is not None else None,
            now,
            ip,
            sent.record.qid if sent.record is not None else "",
            more.get("link"),
        )
        headers: dict[str, str] = {}
        room = MAX_HEADERS
        for name, values in request.requestHeaders.getAllRawHeaders():
            if name.lower() in _SKIPPED_HEADERS:
                continue
            key = name.decode("latin-1").lower()[:MAX_HEADER]
            value = b", ".join(values).decode("latin-1")[:MAX_HEADER]
            room -= len(key) + len(value)
            if room < 0:
                break
            headers[key] = value
        agents = request.requestHeaders.getRawHeaders(b"user-agent") or []
        agent = b", ".join(agents).decode("latin-1")[:MAX_HEADER]
        return {
            "ip": ip,
            "user_agent": agent,
            "headers": headers,
            **more,
            "machine": reason is not None,
            "machine_reason": reason,
        }


class Tracked(AsyncLeaf):
    """
    A path whose token is not one this gateway signed is not there: 404
    whatever the method, not 405.
    """

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self.tracker = tracker

    def allowedMethods(self, request) -> tuple[bytes, ...]:  # type: ignore[override]
        return self.methods if self.read(request.postpath) is not None else ()

    def read(self, segments: list[bytes]):
        """The tracking id in the path's C{segments} (after the resource's), or C{None}."""
        raise NotImplementedError


class Click(Tracked):
    notFound = "unknown link"

    def read(self, segments: list[bytes]):
        # The link's own path may follow the token (/c/TOKEN/deal): not ours to check.
        if not segments:
            return None
        return self.tracker.signer.readClick(segments[0].decode("ascii", "replace"))

    async def handle(self, request):
        token = segment(request)
        found = self.tracker.signer.readClick(token)
        if found is None:
            raise HTTPError(404, "unknown link")
        sent = await self.tracker.sent(found.qid)
        if found.link is None or not 0 <= found.link < len(sent.links):
            raise HTTPError(404, "unknown link")
        destination = sent.links[found.link]
        if not isTrackable(destination):  # recorded by an older gateway, or a forged record
            raise HTTPError(404, "unknown link")
        host = (request.getHeader(b"host") or b"").decode("latin-1")
        scheme = "https" if isSecure(request) else "http"
        details = self.tracker.details(
            request,
            "click",
            sent,
            url=f"{scheme}://{host[:MAX_HEADER]}{request.uri.decode('ascii', 'replace')}"[:MAX_URL],
            destination=destination,
            link=found.link,
        )
        recipient = sent.recipient(found.recipient)
        now = self.tracker.clock.seconds()
        if self.tracker.recording("click", found.qid, found.recipient, found.link):
            await self.tracker.events.recordClick(found.qid, recipient, sent.tags, details, now)
        request.setResponseCode(302)
        request.setHeader(b"location", destination.encode("utf-8"))
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"content-length", b"0")
        return b""


class Open(Tracked):
    notFound = "unknown image"

    def read(self, segments: list[bytes]):
        if len(segments) != 1:
            return None
        token, dot, extension = segments[0].decode("ascii", "replace").partition(".")
        return self.tracker.signer.readOpen(token) if extension == "gif" else None

    async def handle(self, request):
        name = segment(request)
        token, dot, extension = name.partition(".")
        found = self.tracker.signer.readOpen(token) if extension == "gif" else None
        if found is None or len(request.postpath) != 1:
            raise HTTPError(404, "unknown image")
        sent = await self.tracker.sent(found.qid)
        details = self.tracker.details(request, "open", sent)
        recipient = sent.recipient(found.recipient)
        now = self.tracker.clock.seconds()
        if self.tracker.recording("open", found.qid, found.recipient):
            await self.tracker.events.recordOpen(found.qid, recipient, sent.tags, details, now)
        request.setHeader(b"content-type", b"image/gif")
        request.setHeader(b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0")
        request.setHeader(b"pragma", b"no-cache")
        request.setHeader(b"content-length", b"%d" % len(PIXEL))
        return PIXEL


class Image(AsyncLeaf):
    notFound = "no such image"

    def __init__(self, images: ImageStore, reactor: IReactorThreads) -> None:
        super().__init__()
        self.images = images
        self.reactor = reactor

    def allowedMethods(self, request) -> tuple[bytes, ...]:  # type: ignore[override]
        # A GET looks the image up in a thread; another method only to say
        # 405 if it is there, 404 if not.
        if len(request.postpath) != 1:
            return ()
        if request.method in self.methods or self.images.exists(segment(request)):
            return self.methods
        return ()

    async def handle(self, request):
        name = segment(request)
        if len(request.postpath) != 1:
            raise HTTPError(404, "no such image")
        etag = f'"{name.partition(".")[0]}"'.encode("ascii")
        request.setHeader(b"cache-control", b"public, max-age=31536000, immutable")
        request.setHeader(b"etag", etag)
        if etag in (request.getHeader(b"if-none-match") or b""):
            if self.images.exists(name):
                request.setResponseCode(NOT_MODIFIED)
                return b""
        found = await self.images.fetch(name, self.reactor)
        if found is None:
            request.setHeader(b"cache-control", b"no-store")
            raise HTTPError(404, "no such image")
        data, contentType = found
        request.setHeader(b"content-type", contentType.encode("ascii"))
        request.setHeader(b"content-length", b"%d" % len(data))
        request.setHeader(b"x-content-type-options", b"nosniff")
        if contentType == "image/svg+xml":
            # An SVG opened directly must not run scripts on our origin.
            request.setHeader(
                b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'"
            )
        return data


class Health(AsyncLeaf):
    """
    C{200 {"status": "ok"}}, or C{503 {"status": "unhealthy", "problems":
    [...]}} naming each problem (the database unreadable or unwritable, the
    spool unusable, the disk full): the answer of C{health}'s checks (an
    object with C{problems()}), or, without it, of a read of the database.
    """

    def __init__(self, events: IEventStore, health: HealthChecks | None = None) -> None:
        super().__init__()
        self.events = events
        self.health = health

    def allowedMethods(self, request) -> tuple[bytes, ...]:  # type: ignore[override]
        return self.methods if request.postpath in ([], [b""]) else ()

    async def handle(self, request):
        if self.health is not None:
            problems = await self.health.problems()
        else:
            try:
                await self.events.ping()
                problems = []
            except Exception as e:
                problems = [f"database unavailable: {e}"]
        if problems:
            raise HTTPError(503, "; ".join(problems), status="unhealthy", problems=problems)
        return {"status": "ok"}
