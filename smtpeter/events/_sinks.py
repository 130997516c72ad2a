"""
Events, and the sinks they go to: the log (L{LogEventSink}), the event
store (L{SQLiteStore<smtpeter.store.SQLiteStore>}), both (L{FanOut}), or a list
in memory for tests.
"""

from __future__ import annotations

from attrs import field, frozen
from twisted.internet.defer import gatherResults, succeed
from twisted.logger import Logger
from zope.interface import implementer

from .interfaces import IEventSink

ATTEMPT = "attempt"
DELIVERY = "delivery"
FAILURE = "failure"
DEFERRAL = "deferral"
#: Something the gateway could not do to a message as asked (it was sent all the same).
WARNING = "warning"


@frozen
class Event:
    """One thing that happened to one recipient of one message."""

    type: str
    qid: str
    recipient: str
    time: float
    tags: tuple[str, ...] = ()
    details: dict = field(factory=dict, hash=False)
    #: The login that sent the message, for counting (L{CountingSink}); not stored.
    login: str | None = field(default=None, eq=False)


def attempts(message) -> list[tuple]:
    """
    The attempt event of each recipient of an accepted message, as
    C{(type, time, qid, recipient, tags, details)}: what every event store
    records with the message.
    """
    return [
        (
            ATTEMPT,
            message.received,
            message.qid,
            r.address,
            message.options.tags,
            attemptDetails(message, i),
        )
        for i, r in enumerate(message.envelope.recipients)
    ]


def storedOutcome(event: Event) -> tuple[str, dict]:
    """
    An outcome's type and details as stores keep them: a deferral is a
    failure with C{permanent: false}, a failure one with C{permanent: true}.
    """
    kind, details = event.type, dict(event.details)
    if kind in (FAILURE, DEFERRAL):
        details["permanent"] = kind == FAILURE
        kind = FAILURE
    return kind, details


def attemptDetails(message, index: int) -> dict:
    """What an attempt event says about a message, for its recipient C{index}."""
    recipient = message.envelope.recipients[index]
    return {
        "sender": message.envelope.sender,
        "features": sorted(message.options.features),
        "login": message.options.login,
        "notify": list(recipient.notify),
        "dsn": message.isDSN,
        "message_id_header": message.options.messageId,
    }


@implementer(IEventSink)
class LogEventSink:
    """
    Writes each outcome (delivery, deferral, failure) as one structured log
    line. Attempts are not logged here: the submission server's "queued"
    line already says the same once per message, not once per recipient.
    """

    log = Logger()

    def accepted(self, message):
        return succeed(None)

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
        self.messages: dict[str, object] = {}

    def accepted(self, message):
        if message.qid not in self.messages:
            self.messages[message.qid] = message
            for index, recipient in enumerate(message.envelope.recipients):
                self.events.append(
                    Event(
                        ATTEMPT,
                        message.qid,
                        recipient.address,
                        message.received,
                        message.options.tags,
                        attemptDetails(message, index),
                    )
                )
        return succeed(None)

    def record(self, event: Event):
        self.events.append(event)
        return succeed(None)


@implementer(IEventSink)
class FanOut:
    """Every event to each of several sinks."""

    def __init__(self, *sinks: IEventSink) -> None:
        self.sinks = sinks

    def accepted(self, message):
        return gatherResults([sink.accepted(message) for sink in self.sinks], consumeErrors=True)

    def record(self, event: Event):
        return gatherResults([sink.record(event) for sink in self.sinks], consumeErrors=True)
