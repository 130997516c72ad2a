"""
The AUTH throttle as the gateway's store offers it (L{IAuthFailureStore}):
attempts counted in a thread and a transaction of their own, bans kept in
memory until the bans change (in any process).
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed

from . import _commands as do
from ._changes import MISSING, Remembered
from ._storecalls import ThreadedCalls, kept
from ._throttle import ThrottleStore


class StoreThrottle(ThreadedCalls):
    """L{IAuthFailureStore}, a mixin of the store."""

    #: Until when an address is banned (C{None}: it is not), by address.
    _bans: Remembered[float | None]

    def settleAuthAttempt(self, address, now, window, limit, banFor, failed) -> Deferred:
        """
        In the throttle's own thread and transaction, not the writer's: the
        AUTH's answer waits for it, and a success writes nothing (no sync:
        one read, outside any transaction).
        """
        if not failed:
            return self._throttle.run(ThrottleStore.passed, address, now, window)
        return self._throttle.run(
            do.inTransaction(ThrottleStore.settle), address, now, window, limit, banFor, failed
        )

    def recordAuthFailure(self, address, now, window, limit, banFor) -> Deferred:
        return self._throttle.run(
            do.inTransaction(ThrottleStore.recordFailure), address, now, window, limit, banFor
        )

    def authBannedUntil(self, address: str, now: float) -> Deferred:
        mark, until = self._bans.lookup(address)
        if until is MISSING:
            d = self._read(do.view(ThrottleStore, ThrottleStore.bannedUntil), address, now)
            return d.addCallback(kept, self._bans, mark, address)
        return succeed(until if until is not None and until > now else None)
