"""
What happened to each recipient: attempts, deliveries, failures, bounces,
clicks, opens, and warnings.
"""

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
from .interfaces import IEventSink

__all__ = [
    "ATTEMPT",
    "DEFERRAL",
    "DELIVERY",
    "FAILURE",
    "WARNING",
    "Event",
    "FanOut",
    "IEventSink",
    "LogEventSink",
    "MemoryEventSink",
]
