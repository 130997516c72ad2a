"""Onward delivery: next-hop routing, the SMTP client, connection reuse, DSNs."""

from ._agent import DeliveryAgent
from ._outcome import Outcome
from ._router import Hop, Router
from .interfaces import IDeliveryAgent

__all__ = ["DeliveryAgent", "Hop", "IDeliveryAgent", "Outcome", "Router"]
