"""The tree of resources, and the Site that serves it."""

from __future__ import annotations

from twisted.web.resource import Resource
from twisted.web.server import Site

from ._api import API
from ._resources import NotFound
from ._tracking import Click, Health, Image, Open, Tracker


class Root(Resource):
    def getChild(self, path, request):
        return NotFound()


class WebSite(Site):
    """
    No access log: every click and open is an event in the store already,
    and a log line per pixel would cost more than the pixel.
    """

    displayTracebacks = False

    def log(self, request) -> None:
        pass


def makeSite(events, signer, images, reactor, admin=None, checkDomain=None) -> WebSite:
    root = Root()
    tracker = Tracker(events, signer, reactor)
    root.putChild(b"c", Click(tracker))
    root.putChild(b"o", Open(tracker))
    root.putChild(b"i", Image(images, reactor))
    root.putChild(b"healthz", Health(events))
    root.putChild(b"v1", API(events, reactor, admin, checkDomain))
    return WebSite(root)
