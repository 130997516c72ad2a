"""
Delivery slots: at most C{concurrency} messages worked on at once; the rest
that are due wait in line, oldest first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Generic, Protocol, TypeVar

from attrs import define, field
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

log = Logger()


class Slotted(Protocol):
    #: In line for a slot (set and cleared by L{DeliverySlots}).
    ready: bool


_E = TypeVar("_E", bound=Slotted)


@define
class DeliverySlots(Generic[_E]):
    """
    C{start(entry)} begins the work on one entry and returns a Deferred that
    fires when it is done; C{stillDue(entry)} says, when its turn comes,
    whether an entry put in line is still to be started. Entries are started
    from the reactor's next turn, never inline.
    """

    clock: IReactorTime
    #: How many at once, asked each time (the owner's setting may change).
    concurrency: Callable[[], int]
    start: Callable[[_E], Deferred[None]]
    stillDue: Callable[[_E], bool]
    #: Due entries waiting for a slot: one entry each, no coroutine or
    #: Deferred, so a long backlog costs little memory or GC.
    _ready: deque[_E] = field(factory=deque, init=False)
    _starting: IDelayedCall | None = field(default=None, init=False)
    _stopping: bool = field(default=False, init=False)
    _inFlight: set[Deferred[None]] = field(factory=set, init=False)

    def put(self, entry: _E) -> None:
        """Put C{entry} in line (its C{ready} flag says it is there)."""
        entry.ready = True
        self._ready.append(entry)
        self._startSoon()

    def _startSoon(self) -> None:
        """Start waiting entries from the reactor's next turn, if a slot is free."""
        if (
            self._ready
            and self._starting is None
            and len(self._inFlight) < self.concurrency()
            and not self._stopping
        ):
            self._starting = self.clock.callLater(0, self._startReady)

    def _startReady(self) -> None:
        """Start due entries, oldest first, while there are free slots."""
        self._starting = None
        while self._ready and len(self._inFlight) < self.concurrency() and not self._stopping:
            entry = self._ready.popleft()
            entry.ready = False
            if self.stillDue(entry):
                self._run(entry)

    def _run(self, entry: _E) -> None:
        d = self.start(entry)
        self._inFlight.add(d)

        def finished(_) -> None:
            self._inFlight.discard(d)
            self._startSoon()

        d.addBoth(finished)

    def stop(self, grace: timedelta) -> Deferred[int]:
        """
        Start nothing more, and wait for what is in flight for at most
        C{grace}. @return: C{Deferred[int]}, how many were still in flight.
        """
        self._stopping = True
        if self._starting is not None:
            self._starting.cancel()
            self._starting = None
        self._ready.clear()
        if not self._inFlight:
            return succeed(0)
        settled: Deferred[None] = Deferred()

        def done(_=None) -> None:
            if not settled.called:
                settled.callback(None)

        DeferredList(list(self._inFlight), consumeErrors=True).addBoth(done)
        timeout = self.clock.callLater(grace.total_seconds(), done)

        def left(_) -> int:
            if timeout.active():
                timeout.cancel()
            if self._inFlight:
                log.warn(
                    "stopping with {n} deliveries still in flight; they will be made again"
                    " at the next start",
                    n=len(self._inFlight),
                )
            return len(self._inFlight)

        return settled.addCallback(left)
