"""
The feature chain: what happens to a message between the queue and the
wire, once per message and then per recipient. Features are plugins
(L{IFeature}) found in the C{smtpeter.plugins} drop-in package.
"""

from ._base import Feature
from ._bounces import TrackBounces
from ._chain import Chain, Copy, Draft, Environment, Prepared
from ._dkim import SignDKIM
from ._document import NOTRACK, HtmlDocument, Slot, Template, TextDocument
from ._images import HostedImages
from ._inlinecss import InlineCSS
from ._links import PreventScam, TrackClicks, isTrackable
from ._opens import TrackOpens
from ._registry import (
    ALWAYS_ON,
    BUILT_IN,
    DELIVER_TIME_WHY,
    FEATURES,
    IGNORE_SUPPRESSION,
    MAX_DELIVER_TIME,
    PREFIX,
    UNSUBSCRIBE_MAILTO,
    FeatureSpec,
    FlagError,
    discover,
    featureSpec,
    installedSpecs,
    isBuiltIn,
    knownFeatures,
    parseDeliverTime,
    parseFlag,
    readMailto,
)
from ._tokens import TokenSigner, TrackingId, UnsubscribeId, loadSecret
from ._transformer import PassThrough, ThreadedChain
from ._unsubscribe import Unsubscribe
from .interfaces import IFeature

__all__ = [
    "ALWAYS_ON",
    "BUILT_IN",
    "DELIVER_TIME_WHY",
    "MAX_DELIVER_TIME",
    "FEATURES",
    "IGNORE_SUPPRESSION",
    "NOTRACK",
    "PREFIX",
    "UNSUBSCRIBE_MAILTO",
    "Chain",
    "Copy",
    "Draft",
    "Environment",
    "Feature",
    "HostedImages",
    "FeatureSpec",
    "FlagError",
    "HtmlDocument",
    "IFeature",
    "InlineCSS",
    "PassThrough",
    "Prepared",
    "PreventScam",
    "SignDKIM",
    "Slot",
    "Template",
    "TextDocument",
    "ThreadedChain",
    "TokenSigner",
    "TrackBounces",
    "TrackClicks",
    "TrackOpens",
    "TrackingId",
    "Unsubscribe",
    "UnsubscribeId",
    "discover",
    "isTrackable",
    "featureSpec",
    "installedSpecs",
    "isBuiltIn",
    "knownFeatures",
    "loadSecret",
    "parseDeliverTime",
    "parseFlag",
    "readMailto",
]
