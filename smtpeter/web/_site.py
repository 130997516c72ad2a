"""The tree of resources, and the Site that serves it."""

from __future__ import annotations

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.web.resource import Resource

from ._api import API, Bearer
from ._bounded import BoundedSite, Refusal
from ._resources import MAX_BODY, HTTPError, NotFound
from ._tracking import Click, Health, Image, Open, Tracker


class Root(Resource):
    def getChild(self, path, request):
        return NotFound()


class WebSite(BoundedSite):
    """
    No access log: every click and open is an event in the store already,
    and a log line per pixel would cost more than the pixel.

    A body is 1 MiB at most (the API's JSON); an API request that comes
    with a body and no token is answered 401 before its body is read, one
    with a token that is not known as soon as the store says so.
    """

    maxBody = MAX_BODY

    def __init__(self, resource, bearer: Bearer | None = None) -> None:
        super().__init__(resource)
        self.bearer = bearer

    def log(self, request) -> None:
        pass

    def screen(self, request, method, path, length) -> Refusal | Deferred | None:
        path = path.split(b"?", 1)[0]
        api = path.startswith(b"/v1/") and path != b"/v1/openapi.json"
        if not api or length == 0 or self.bearer is None:
            return super().screen(request, method, path, length)
        try:
            self.bearer.token(request)
        except HTTPError as e:
            return e.code, e.body["error"]
        return super().screen(request, method, path, length) or ensureDeferred(
            self._credentials(request)
        )

    async def _credentials(self, request) -> Refusal | None:
        try:
            await self.bearer.record(request)
        except HTTPError as e:
            return e.code, e.body["error"]
        return None


def makeSite(events, signer, images, reactor, admin=None, checkDomain=None, health=None) -> WebSite:
    root = Root()
    tracker = Tracker(events, signer, reactor)
    root.putChild(b"c", Click(tracker))
    root.putChild(b"o", Open(tracker))
    root.putChild(b"i", Image(images, reactor))
    root.putChild(b"healthz", Health(events, health))
    api = API(events, reactor, admin, checkDomain)
    root.putChild(b"v1", api)
    return WebSite(root, api.bearer)
