"""Onward delivery: scheduling and retries, next-hop routing, the SMTP client, DSNs."""

from ._agent import DeliveryAgent
from ._outcome import Outcome
from ._router import OPTION as ALLOW_NETWORK_OPTION
from ._router import Hop, Router, deliveryPolicy
from ._scheduler import QueueManager, RetryPolicy
from .interfaces import IDeliveryAgent

__all__ = [
    "ALLOW_NETWORK_OPTION",
    "DeliveryAgent",
    "Hop",
    "IDeliveryAgent",
    "Outcome",
    "QueueManager",
    "RetryPolicy",
    "Router",
    "deliveryPolicy",
]
