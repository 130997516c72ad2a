"""What happened to each recipient: attempts, deliveries, failures, bounces, clicks, opens."""

from ._eventlog import EventLog
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
    "EventLog",
    "FanOut",
    "IEventSink",
    "LogEventSink",
    "MemoryEventSink",
]
