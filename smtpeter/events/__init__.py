"""
What happened to each recipient: attempts, deliveries, failures, bounces,
clicks, opens, and warnings; and where webhooks may take them
(L{Destinations}, L{webhookAgent}).
"""

from ._bounces import ADDRESS_GONE, reasonFor
from ._destinations import Destinations, RefusedDestination, parseNetwork
from ._sinks import (
    ATTEMPT,
    DEFERRAL,
    DELIVERY,
    FAILURE,
    WARNING,
    Event,
    FanOut,
    LogEventSink,
    MemoryEventSink,
)
from ._webhookagent import webhookAgent
from .interfaces import IEventSink

__all__ = [
    "ADDRESS_GONE",
    "ATTEMPT",
    "DEFERRAL",
    "DELIVERY",
    "Destinations",
    "FAILURE",
    "WARNING",
    "Event",
    "FanOut",
    "IEventSink",
    "LogEventSink",
    "MemoryEventSink",
    "RefusedDestination",
    "parseNetwork",
    "reasonFor",
    "webhookAgent",
]
