"""
Events, and the sinks they go to. For now they go to the log; the tracking
issue adds a sink that stores them for the REST API and webhooks.
"""

from __future__ import annotations

from attrs import field, frozen
from twisted.internet.defer import succeed
from twisted.logger import Logger
from zope.interface import implementer

from .interfaces import IEventSink

ATTEMPT = "attempt"
DELIVERY = "delivery"
FAILURE = "failure"
DEFERRAL = "deferral"


@frozen
class Event:
    """One thing that happened to one recipient of one message."""

    type: str
    qid: str
    recipient: str
    time: float
    tags: tuple[str, ...] = ()
    details: dict = field(factory=dict, hash=False)


@implementer(IEventSink)
class LogEventSink:
    """
    Writes each outcome (delivery, deferral, failure) as one structured log
    line. Attempts are not logged here: the submission server's "queued"
    line already says the same once per message, not once per recipient.
    """

    log = Logger()

    def record(self, event: Event):
        if event.type == ATTEMPT:
            return succeed(None)
        self.log.info(
            "{qid} {type} <{recipient}> {details}",
            qid=event.qid,
            type=event.type,
            recipient=event.recipient,
            details=" ".join(f"{k}={v}" for k, v in event.details.items()),
            event=event.type,
        )
        return succeed(None)


@implementer(IEventSink)
class MemoryEventSink:
    """Keeps events in a list, for tests."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def record(self, event: Event):
        self.events.append(event)
        return succeed(None)
