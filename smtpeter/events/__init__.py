"""What happened to each recipient: attempts, deliveries, failures, bounces, clicks, opens."""

from ._sinks import (
    ATTEMPT,
    DEFERRAL,
    DELIVERY,
    FAILURE,
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
    "Event",
    "FanOut",
    "IEventSink",
    "LogEventSink",
    "MemoryEventSink",
]
