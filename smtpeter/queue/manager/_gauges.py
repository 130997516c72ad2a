"""
The queue's gauges (L{smtpeter.runtime}'s C{QUEUE_MESSAGES}), set every
few seconds rather than on every change, so that the hot path pays nothing
for them: on SQLite, how many messages this worker holds, by state (the
node's workers add up to the node's queue); on PostgreSQL, where mail
waiting for a retry or held belongs to no node, the whole cluster's queue,
read by one worker of each node (L{SharedQueueGauges}).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

from twisted.application.internet import TimerService
from twisted.internet.defer import Deferred
from twisted.logger import Logger, LogLevel

from ...runtime import QUEUE_MESSAGES, RepeatedErrors
from ._entry import Entry

log = Logger()
#: A database that cannot be read now: once a minute, counted.
repeated = RepeatedErrors(log)

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


class _Gauges(TimerService):
    """Calls C{update} every C{every} on C{clock}."""

    def __init__(self, clock, every: timedelta) -> None:
        super().__init__(every.total_seconds(), self.update)
        self.clock = clock
        self.setName("queue-gauges")

    def update(self) -> Deferred | None:
        raise NotImplementedError


class QueueGauges(_Gauges):
    """Sets this worker's queue gauges from C{manager}'s entries every L{EVERY}."""

    def __init__(self, manager, clock, every: timedelta = EVERY) -> None:
        super().__init__(clock, every)
        self.manager = manager

    def update(self) -> None:
        for state, count in queueStates(self.manager.entries.values()).items():
            QUEUE_MESSAGES.labels(state).set(count)


class SharedQueueGauges(_Gauges):
    """
    Sets the gauges to the whole shared queue's counts, read from
    C{spool} (a L{SharedSpool<smtpeter.queue.SharedSpool>}) every L{EVERY}.
    One worker of a node runs it (the gauges of a node's workers add up):
    every node reports the same figures. While the database cannot be read
    the gauges keep their last values, and the failure is logged.
    """

    def __init__(self, spool, clock, every: timedelta = EVERY) -> None:
        super().__init__(clock, every)
        self.spool = spool

    def update(self) -> Deferred:
        # The timer waits for the read before it counts the next interval.
        d = self.spool.stateCounts()
        d.addCallback(self._set)
        d.addErrback(
            lambda f: repeated.emit(
                LogLevel.warn,
                "the queue's gauges could not be read: {error}",
                key=f.getErrorMessage(),
                error=f.getErrorMessage(),
            )
        )
        return d

    def _set(self, counts: dict[str, int]) -> None:
        for state in (READY, SCHEDULED, HELD):
            QUEUE_MESSAGES.labels(state).set(counts[state])
