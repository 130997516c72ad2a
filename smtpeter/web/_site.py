"""The tree of resources, and the Site that serves it."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.web.resource import Resource

from ..admin import IAdministration
from ..features import TokenSigner
from ..store import SEND_SCOPE, IEventStore
from ._api import API, Bearer
from ._bounded import BoundedSite, Refusal
from ._resources import MAX_BODY, HTTPError, NotFound
from ._send import Send, sendBodyLimit
from ._tracking import Click, Health, HealthChecks, Image, Open, Tracker
from ._unsubscribe import MAX_BODY as MAX_UNSUBSCRIBE_BODY
from ._unsubscribe import PATH as UNSUBSCRIBE
from ._unsubscribe import Unsubscribe

if TYPE_CHECKING:
    from ..smtp import ServerSettings

#: The path of the one call a send token may make.
SEND_PATH = "/v1/send"


class Root(Resource):
    def getChild(self, path, request):
        return NotFound()


class WebSite(BoundedSite):
    """
    No access log: every click and open is an event in the store already,
    and a log line per pixel would cost more than the pixel.

    A body is 1 MiB at most (the API's JSON), and only the API's calls
    that change something take one: a request with a body anywhere else
    (a tracking link, C{/healthz}, a path that is not there; but a POST to
    C{/u/TOKEN}, of 4 KiB at most: a one-click unsubscribe) is answered
    as though it had none and closed, its body never read. An API request
    that comes with a body and no token is answered 401 before its body is
    read, one with a token that is not known as soon as the store says so;
    both judged on the decoded path, so that C{/%76%31/...} is the API too.
    """

    maxBody = MAX_BODY
    #: The largest body of C{POST /v1/send} (L{sendBodyLimit} of C{--max-size}).
    sendMaxBody = MAX_BODY

    def __init__(
        self, resource, bearer: Bearer | None = None, sendMaxBody: int | None = None
    ) -> None:
        super().__init__(resource)
        self.bearer = bearer
        if sendMaxBody is not None:
            self.sendMaxBody = sendMaxBody
            # Room for a few of the largest sends at once.
            self.maxBodiesHeld = max(self.maxBodiesHeld, 2 * sendMaxBody)

    def log(self, request) -> None:
        pass

    def screen(self, request, method, path, length) -> Refusal | Deferred | None:
        if path.startswith(UNSUBSCRIBE) and length is not None and length > MAX_UNSUBSCRIBE_BODY:
            return 413, f"the body is larger than {MAX_UNSUBSCRIBE_BODY} bytes"
        if not self._api(path) or length == 0 or self.bearer is None:
            return super().screen(request, method, path, length)
        # POST /v1/send takes its token as ?access_token= too.
        query = path == SEND_PATH
        try:
            self.bearer.token(request, query)
        except HTTPError as e:
            return e.code, e.body["error"]
        return super().screen(request, method, path, length) or ensureDeferred(
            self._credentials(request, query)
        )

    def bodyLimit(self, method: bytes, path: str) -> int:
        if path.startswith(UNSUBSCRIBE):  # (a chunked body too)
            return MAX_UNSUBSCRIBE_BODY
        return self.sendMaxBody if path == SEND_PATH else self.maxBody

    def takesBody(self, method: bytes, path: str) -> bool:
        """Only the API's calls that change something take a body, and unsubscribes."""
        if method == b"POST" and path.startswith(UNSUBSCRIBE):
            return True
        return self._api(path) and method in (b"POST", b"PATCH", b"PUT", b"DELETE")

    @staticmethod
    def _api(path: str) -> bool:
        return path.startswith("/v1/") and path != "/v1/openapi.json"

    async def _credentials(self, request, send: bool) -> Refusal | None:
        """
        The token, and whether it may do this, before the body is read: a
        send token only sends, and only a send token sends.
        """
        assert self.bearer is not None  # screened by it
        try:
            if send:
                await self.bearer.sender(request)
            elif (await self.bearer.record(request)).scope == SEND_SCOPE:
                await self.bearer.check(request)  # (says why not)
        except HTTPError as e:
            return e.code, e.body["error"]
        return None


def makeSite(
    events: IEventStore,
    signer: TokenSigner,
    images,
    reactor: IReactorTime,
    admin: IAdministration | None = None,
    checkDomain: Callable[[dict], Deferred] | None = None,
    health: HealthChecks | None = None,
    submission: ServerSettings | None = None,
    trackLimit: int = 20,
) -> WebSite:
    """
    The web side; C{images} is the store's C{ImageStore}, and C{reactor}
    Twisted's: its clock, and its threads (for the images, and large
    sends). C{submission}: the SMTP listeners' settings, which C{POST
    /v1/send} submits with (C{None}: no sending here). C{trackLimit}: the
    clicks of one link, or opens, recorded per recipient and minute.
    """
    root = Root()
    tracker = Tracker(events, signer, reactor, limit=trackLimit)
    root.putChild(b"c", Click(tracker))
    root.putChild(b"o", Open(tracker))
    root.putChild(b"i", Image(images, cast(IReactorThreads, reactor)))
    root.putChild(b"u", Unsubscribe(events, signer, reactor))
    root.putChild(b"healthz", Health(events, health))
    api = API(events, reactor, admin, checkDomain)
    root.putChild(b"v1", api)
    if submission is None:
        return WebSite(root, api.bearer)
    inThread = None
    if IReactorThreads.providedBy(reactor):  # (a test's Clock has none: there, inline)
        threads = cast(IReactorThreads, reactor)
        inThread = partial(deferToThreadPool, threads, threads.getThreadPool())
    api.putChild(b"send", Send(events, api.bearer, submission, inThread))
    return WebSite(root, api.bearer, sendBodyLimit(submission.maxSize))
