"""
What a worker of the shared queue knows of its claims without asking the
database: each message's claim number (the fencing token its writes
carry), and until when its lease surely holds.

The database counts a lease on its own clock (C{lease_until = now +
lease}), from when it runs the statement that claims or renews it, which
is after the worker sent it. So on a local clock read before sending, a
confirmed lease holds at least until then plus the lease, less what the
two clocks may disagree on: their rates (parts per million: milliseconds
in a minute) and a step forward of the database's clock (its time set
right). The worker counts on the lease less L{LEASE_MARGIN} of it. Leases
are renewed three times per lease (L{smtpeter.queue.manager.Claiming}), so
with half of it counted, a renewal may come a sixth of a lease late (10 s
of the default 60 s) before the worker is no longer sure and asks the
database: under normal operation it is always sure of what it holds.

The local clock goes on counting while the machine is suspended or the
process stopped (C{CLOCK_BOOTTIME}; the monotonic clock where there is no
such clock): a worker stopped for longer than its margin is sure of
nothing when it goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: The part of a lease a worker does not count on (see above).
LEASE_MARGIN = 0.5

_BOOTTIME = getattr(time, "CLOCK_BOOTTIME", None)


def leaseClock() -> float:
    """Seconds on the clock leases are counted on locally (see above); its origin is arbitrary."""
    if _BOOTTIME is not None:
        return time.clock_gettime(_BOOTTIME)
    return time.monotonic()


class Claims(dict[str, int]):
    """
    The claims of one worker (C{lease} seconds each): queue id -> claim
    number, read by every thread of its spool and changed by its writing
    thread only; and, for those the database confirmed (L{confirmed}),
    until when the claim surely holds (L{sure}). A claim that ends (popped)
    takes that with it; a claim number set alone (C{claims[qid] = n}) is
    not sure.
    """

    def __init__(self, lease: float, clock: Callable[[], float] = leaseClock) -> None:
        super().__init__()
        #: The local clock (L{leaseClock}), which the statements' times are read on.
        self.clock = clock
        self._sureFor = lease * (1 - LEASE_MARGIN)
        self._sureUntil: dict[str, float] = {}

    def confirmed(self, qid: str, claim: int, since: float) -> None:
        """
        The database claimed C{qid} (claim number C{claim}) or renewed its
        lease, by a statement sent after C{since} (on L{clock}).
        """
        super().__setitem__(qid, claim)
        self._sureUntil[qid] = since + self._sureFor

    def sure(self, qid: str) -> bool:
        """Whether this worker's claim on C{qid} surely holds now (no need to ask the database)."""
        until = self._sureUntil.get(qid)
        return until is not None and qid in self and self.clock() < until

    def doubt(self) -> None:
        """Be sure of nothing until the database confirms it again."""
        self._sureUntil.clear()

    def __setitem__(self, qid: str, claim: int) -> None:
        self._sureUntil.pop(qid, None)
        super().__setitem__(qid, claim)

    def __delitem__(self, qid: str) -> None:
        self._sureUntil.pop(qid, None)
        super().__delitem__(qid)

    def pop(self, qid: str, *default):  # type: ignore[override]
        self._sureUntil.pop(qid, None)
        return super().pop(qid, *default)

    def clear(self) -> None:
        self._sureUntil.clear()
        super().clear()
