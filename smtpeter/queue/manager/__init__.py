"""
The queue manager: it accepts messages into the spool (L{smtpeter.queue}),
hands those due to the delivery agent (L{smtpeter.delivery}), settles what
happened to each recipient with the pure L{settle}, and carries out the
administrators' requests about queued mail (L{QueueRequests}).

A package of its own because it sits above delivery, features and smtp,
which themselves use the spool below it.
"""

from ._claiming import Claiming
from ._gauges import QueueGauges, SharedQueueGauges, queueStates
from ._manager import QueueManager
from ._requests import QueueRequests
from ._sending import suppressedOutcomes
from ._settlement import (
    DELETED,
    DONE,
    EXPIRED,
    FAILED,
    HOLD_EXPIRED,
    LOST,
    PENDING,
    SUPPRESSED,
    UNSUBSCRIBED,
    Attempt,
    RecipientState,
    RecordedEvent,
    Removal,
    RetryPolicy,
    Settlement,
    settle,
)

__all__ = [
    "DELETED",
    "DONE",
    "EXPIRED",
    "FAILED",
    "HOLD_EXPIRED",
    "LOST",
    "PENDING",
    "SUPPRESSED",
    "UNSUBSCRIBED",
    "Attempt",
    "Claiming",
    "QueueGauges",
    "SharedQueueGauges",
    "QueueManager",
    "QueueRequests",
    "RecipientState",
    "RecordedEvent",
    "Removal",
    "RetryPolicy",
    "Settlement",
    "queueStates",
    "settle",
    "suppressedOutcomes",
]
