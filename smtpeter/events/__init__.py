"""What happened to each recipient: attempts, deliveries, failures."""

from ._sinks import ATTEMPT, DEFERRAL, DELIVERY, FAILURE, Event, LogEventSink, MemoryEventSink
from .interfaces import IEventSink

__all__ = [
    "ATTEMPT",
    "DEFERRAL",
    "DELIVERY",
    "FAILURE",
    "Event",
    "IEventSink",
    "LogEventSink",
    "MemoryEventSink",
]
