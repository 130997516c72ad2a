"""
The web side (twisted.web): tracking links, the open pixel, hosted images,
a health check for load balancers, and the REST API under C{/v1}.
"""

from ._site import WebSite, makeSite

__all__ = ["WebSite", "makeSite"]
