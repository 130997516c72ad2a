"""
An event sink that counts (L{CountingSink}): what happens to mail, per
login, as the node's Prometheus metrics (L{smtpeter.runtime}). It goes
beside the log and the event store in a L{FanOut}: an increment per
event, no I/O.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed
from zope.interface import implementer

from ..runtime import (
    MESSAGES_ACCEPTED,
    RECIPIENTS_DEFERRED,
    RECIPIENTS_DELIVERED,
    RECIPIENTS_FAILED,
    loginLabel,
)
from ._sinks import DEFERRAL, DELIVERY, FAILURE, Event
from .interfaces import IEventSink

#: An event's type, and the counter of its recipients.
_COUNTERS = {
    DELIVERY: RECIPIENTS_DELIVERED,
    DEFERRAL: RECIPIENTS_DEFERRED,
    FAILURE: RECIPIENTS_FAILED,
}


@implementer(IEventSink)
class CountingSink:
    """
    Counts accepted messages and each recipient's outcome, by login.

    The queue offers a message to L{accepted} when it is accepted and again
    when a process resumes it after a restart; only a message received
    since C{since} (when this process started) is counted, so that a
    worker that takes over a dead one's spool does not count its mail
    twice. Notices of our own (DSNs, forwarded bounces) were not accepted
    from anyone and are not counted as accepted; their deliveries are, with
    the login C{""}.
    """

    def __init__(self, since: float) -> None:
        self.since = since

    def accepted(self, message) -> Deferred[None]:
        if not message.isDSN and message.received >= self.since:
            MESSAGES_ACCEPTED.labels(loginLabel(message.options.login)).inc()
        return succeed(None)

    def record(self, event: Event) -> Deferred[None]:
        counter = _COUNTERS.get(event.type)
        if counter is not None:
            counter.labels(loginLabel(event.login)).inc()
        return succeed(None)


__all__ = ["CountingSink"]
