"""
The web side (twisted.web): tracking links, the open pixel, hosted images,
a health check for load balancers, and the REST API under C{/v1}; and the
site every HTTP listener serves from (L{BoundedSite}: request bodies have a
ceiling).
"""

from ._bounded import BoundedSite, decodedPath
from ._parameters import TIME_WHY, Moment, parseMoment
from ._proxies import NO_PROXIES, TrustedProxies, clientAddress, isSecure
from ._resources import storageError
from ._site import WebSite, makeSite

__all__ = [
    "NO_PROXIES",
    "TIME_WHY",
    "BoundedSite",
    "Moment",
    "TrustedProxies",
    "WebSite",
    "clientAddress",
    "decodedPath",
    "isSecure",
    "makeSite",
    "parseMoment",
    "storageError",
]
