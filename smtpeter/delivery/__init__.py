"""
Onward delivery of one copy: next-hop routing, the SMTP client and its
sessions, the agent that ties them, each recipient's L{Outcome}, and the
DSNs about them (L{dsn}). The queue (L{smtpeter.queue}) decides when.
"""

from . import _dsn as dsn
from ._agent import DeliveryAgent
from ._outcome import DELIVERED, PERMANENT, TRANSIENT, Outcome
from ._router import OPTION as ALLOW_NETWORK_OPTION
from ._router import Hop, Router, deliveryPolicy
from ._session import Credentials
from .interfaces import IDeliveryAgent

__all__ = [
    "ALLOW_NETWORK_OPTION",
    "DELIVERED",
    "PERMANENT",
    "TRANSIENT",
    "Credentials",
    "DeliveryAgent",
    "Hop",
    "IDeliveryAgent",
    "Outcome",
    "Router",
    "deliveryPolicy",
    "dsn",
]
