"""
The queue's gauges (L{smtpeter.runtime}'s C{QUEUE_MESSAGES}): how many
messages this worker holds, by state, set every few seconds rather than
on every change, so that the hot path pays nothing for them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

from twisted.application.internet import TimerService

from ...runtime import QUEUE_MESSAGES
from ._entry import Entry

#: The states, as the gauge's C{state} label.
READY, SCHEDULED, HELD = "ready", "scheduled", "held"
#: How often the gauges are set.
EVERY = timedelta(seconds=5)


def queueStates(entries: Iterable[Entry]) -> Counter[str]:
    """
    How many messages are in each state: held (hold mode), ready (due: in
    line for a delivery slot, or being delivered), or scheduled (waiting for
    their next attempt).
    """
    counts: Counter[str] = Counter({READY: 0, SCHEDULED: 0, HELD: 0})
    for entry in entries:
        if entry.held:
            counts[HELD] += 1
        elif entry.ready or entry.running:
            counts[READY] += 1
        else:
            counts[SCHEDULED] += 1
    return counts


class QueueGauges(TimerService):
    """Sets this worker's queue gauges from C{manager}'s entries every L{EVERY}."""

    def __init__(self, manager, clock, every: timedelta = EVERY) -> None:
        super().__init__(every.total_seconds(), self.update)
        self.clock = clock
        self.manager = manager
        self.setName("queue-gauges")

    def update(self) -> None:
        for state, count in queueStates(self.manager.entries.values()).items():
            QUEUE_MESSAGES.labels(state).set(count)
