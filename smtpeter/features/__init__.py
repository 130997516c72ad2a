"""
The feature chain: what happens to a message between the queue and the
wire, once per message and then per recipient. Features are plugins
(L{IFeature}) found in the C{smtpeter.plugins} drop-in package.
"""

from twisted.plugin import getPlugins

from ._base import Feature
from ._chain import Chain, Copy, Draft, Environment, Prepared
from ._document import NOTRACK, HtmlDocument, Slot, Template, TextDocument
from ._tokens import TokenSigner, TrackingId, loadSecret
from .interfaces import IFeature


def discover() -> list:
    """Every feature installed: smtpeter's own and those of other distributions."""
    import smtpeter.plugins

    return list(getPlugins(IFeature, smtpeter.plugins))


__all__ = [
    "NOTRACK",
    "Chain",
    "Copy",
    "Draft",
    "Environment",
    "Feature",
    "HtmlDocument",
    "IFeature",
    "Prepared",
    "Slot",
    "Template",
    "TextDocument",
    "TokenSigner",
    "TrackingId",
    "discover",
    "loadSecret",
]
