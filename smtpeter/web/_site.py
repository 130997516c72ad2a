"""The tree of resources, and the Site that serves it."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorThreads, IReactorTime
from twisted.web.resource import Resource

from ..admin import IAdministration
from ..features import TokenSigner
from ..store import IEventStore
from ._api import API, Bearer
from ._bounded import BoundedSite, Refusal
from ._resources import MAX_BODY, HTTPError, NotFound
from ._tracking import Click, Health, HealthChecks, Image, Open, Tracker
from ._unsubscribe import MAX_BODY as MAX_UNSUBSCRIBE_BODY
from ._unsubscribe import PATH as UNSUBSCRIBE
from ._unsubscribe import Unsubscribe


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

    def __init__(self, resource, bearer: Bearer | None = None) -> None:
        super().__init__(resource)
        self.bearer = bearer

    def log(self, request) -> None:
        pass

    def screen(self, request, method, path, length) -> Refusal | Deferred | None:
        if path.startswith(UNSUBSCRIBE) and length is not None and length > MAX_UNSUBSCRIBE_BODY:
            return 413, f"the body is larger than {MAX_UNSUBSCRIBE_BODY} bytes"
        if not self._api(path) or length == 0 or self.bearer is None:
            return super().screen(request, method, path, length)
        try:
            self.bearer.token(request)
        except HTTPError as e:
            return e.code, e.body["error"]
        return super().screen(request, method, path, length) or ensureDeferred(
            self._credentials(request)
        )

    def takesBody(self, method: bytes, path: str) -> bool:
        """Only the API's calls that change something take a body, and unsubscribes."""
        if method == b"POST" and path.startswith(UNSUBSCRIBE):
            return True
        return self._api(path) and method in (b"POST", b"PATCH", b"PUT", b"DELETE")

    @staticmethod
    def _api(path: str) -> bool:
        return path.startswith("/v1/") and path != "/v1/openapi.json"

    async def _credentials(self, request) -> Refusal | None:
        assert self.bearer is not None  # screened by it
        try:
            await self.bearer.record(request)
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
) -> WebSite:
    """
    The web side; C{images} is the store's C{ImageStore}, and C{reactor}
    Twisted's: its clock, and its threads (for the images).
    """
    root = Root()
    tracker = Tracker(events, signer, reactor)
    root.putChild(b"c", Click(tracker))
    root.putChild(b"o", Open(tracker))
    root.putChild(b"i", Image(images, cast(IReactorThreads, reactor)))
    root.putChild(b"u", Unsubscribe(events, signer, reactor))
    root.putChild(b"healthz", Health(events, health))
    api = API(events, reactor, admin, checkDomain)
    root.putChild(b"v1", api)
    return WebSite(root, api.bearer)
