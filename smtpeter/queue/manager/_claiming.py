"""
A worker's part in a queue shared by several nodes: it claims due messages
while it has room for them, and renews the leases of what it holds, so
that only a dead worker's mail is taken over by the others.
"""

from __future__ import annotations

from twisted.application.service import Service
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from ...runtime import RepeatedErrors

log = Logger()
repeated = RepeatedErrors(log)


class Claiming(Service):
    """
    Claims work for C{manager} (a L{QueueManager} on an L{IClaimingSpool})
    every C{interval} seconds, and renews its leases three times per
    C{lease}. It keeps at most C{ahead} messages in hand beyond those it is
    delivering, so that a busy worker leaves due mail to idle ones.
    """

    name = "claiming"  # type: ignore[assignment]  # Twisted declares it None

    def __init__(self, manager, clock, lease: float, interval: float = 1.0) -> None:
        self.manager = manager
        self.clock = clock
        self.lease = lease
        self.interval = interval
        self._claiming = LoopingCall(self.claim)
        self._claiming.clock = clock
        self._renewing = LoopingCall(self.renew)
        self._renewing.clock = clock
        self._busy: Deferred | None = None

    def startService(self) -> None:
        super().startService()
        self._claiming.start(self.interval, now=True)
        self._renewing.start(self.lease / 3, now=False)

    def stopService(self):
        super().stopService()
        for loop in (self._claiming, self._renewing):
            if loop.running:
                loop.stop()

    def room(self) -> int:
        """How many more messages this worker takes now."""
        return 2 * self.manager.concurrency - len(self.manager.entries)

    def claim(self) -> Deferred | None:
        """Claim due work, unless a claim is still under way."""
        if self._busy is not None:
            return None
        self._busy = ensureDeferred(self._claim())
        self._busy.addErrback(lambda f: repeated.failure("claiming queued mail failed", f))
        self._busy.addBoth(self._done)
        return self._busy

    def _done(self, _) -> None:
        self._busy = None

    async def _claim(self) -> None:
        # A full batch: there may be more due; go on without waiting.
        while (room := self.room()) > 0 and await self.manager.claimDue(room) == room:
            pass

    def renew(self) -> Deferred:
        d = self.manager.spool.renew()
        d.addCallback(self.manager.lost)
        d.addErrback(lambda f: repeated.failure("renewing the queue's leases failed", f))
        return d
