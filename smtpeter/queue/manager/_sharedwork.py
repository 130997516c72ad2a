"""
The queue manager's part in a queue shared by several workers (an
L{IClaimingSpool}): it holds only what it claimed, claims work when it has
room (L{Claiming}) and for administrators' requests, gives a message back
after an attempt that leaves it pending, and drops held mail kept too
long once for the whole cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.logger import Logger

from ...message import QueuedMessage
from .. import ClaimLost, IClaimingSpool
from ._entry import Entry, adopted
from ._settlement import HOLD_EXPIRED, Removal

if TYPE_CHECKING:
    from datetime import timedelta

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime

    from ...events import IEventSink
    from .. import ISpool

log = Logger()


class SharedWork:
    """Mixed into L{QueueManager}: what it does on a shared spool."""

    if TYPE_CHECKING:  # the manager's, which these methods use
        spool: ISpool
        entries: dict[str, Entry]
        clock: IReactorTime
        holdFor: timedelta
        events: IEventSink
        _stopping: bool

        def _recorded(self, d: Deferred[None]) -> None: ...

        def _schedule(self, entry: Entry, when: float) -> None: ...
        def _takeContent(self, entry: Entry) -> bytes | None: ...
        async def _drop(self, entry: Entry, removal: Removal) -> None: ...

    @property
    def shared(self) -> bool:
        """
        Whether the spool is shared by several workers (L{IClaimingSpool}):
        then this manager holds only what it claimed, and gives a message
        back after each attempt that leaves it pending.
        """
        return IClaimingSpool.providedBy(self.spool)

    @property
    def claiming(self) -> IClaimingSpool:
        """The spool, as the shared spool it is (only when L{shared})."""
        return IClaimingSpool(self.spool)

    def _hand(self, message: QueuedMessage, saved: dict[int, dict]) -> Entry:
        """
        A message just claimed, now in hand. It is recorded again (the
        record keeps the first): the worker that accepted it may have died
        after its 250 and before its record was written.
        """
        entry = adopted(message, saved)
        self.entries[message.qid] = entry
        self._recorded(self.events.accepted(message))
        return entry

    async def claimDue(self, limit: int) -> int:
        """
        Claim up to C{limit} due messages of the shared queue, and start on
        them. @return: how many were claimed.
        """
        if self._stopping or limit <= 0:
            return 0
        claimed = await self.claiming.claim(limit)
        for message, saved in claimed:
            self._schedule(self._hand(message, saved), self.clock.seconds())
        return len(claimed)

    async def take(self, qid: str) -> bool:
        """
        Make C{qid} this manager's for an administrator's request: it is if
        it is in hand; in a shared queue, it is claimed if nobody holds it.
        @return: whether it is now in hand.
        """
        if qid in self.entries:
            return True
        if not self.shared or self._stopping:
            return False
        claimed = await self.claiming.claimOne(qid)
        if claimed is None:
            return False
        entry = self._hand(*claimed)
        if claimed[0].options.hold and not any(s.released for s in entry.states):
            entry.held = True
        return True

    async def expireHeld(self, limit: int = 100) -> int:
        """
        Drop held mail of the shared queue kept longer than C{holdFor} (a
        failure per recipient, reason C{hold expired}, no DSN): up to
        C{limit} messages. @return: how many.
        """
        before = self.clock.seconds() - self.holdFor.total_seconds()
        claimed = await self.claiming.claimHeld(before, limit)
        for message, saved in claimed:
            entry = self._hand(message, saved)
            entry.held = True
            await self._drop(entry, Removal(HOLD_EXPIRED, "held too long", False))
        return len(claimed)

    def lost(self, qids: list[str]) -> None:
        """These are no longer ours (another worker claimed them after our lease ran out)."""
        for qid in qids:
            entry = self.entries.get(qid)
            if entry is not None and not entry.running:
                self._forget(entry)
            log.warn("{qid}: claimed by another worker (this one's lease ran out)", qid=qid)

    def _forget(self, entry: Entry) -> None:
        """Let go of a message (of a shared queue): no timer, no content in memory."""
        if entry.timer is not None and entry.timer.active():
            entry.timer.cancel()
        entry.timer = None
        self._takeContent(entry)
        self.entries.pop(entry.message.qid, None)

    async def giveBack(self, entry: Entry) -> None:
        """Release a message of a shared queue, due at its next attempt (held: never)."""
        due = None if entry.held else min(entry.states[i].nextAttempt for i in entry.pending)
        self._forget(entry)
        try:
            await self.claiming.release(entry.message.qid, {}, due)
        except ClaimLost:
            pass

    async def _giveBackAll(self, inFlight: int) -> int:
        """At a stop: what this worker holds and is not sending goes back, for the others now."""
        for entry in [e for e in self.entries.values() if not e.running and e.pending]:
            try:
                await self.giveBack(entry)
            except Exception as e:  # the database is gone: the leases run out instead
                log.warn("could not give back {qid}: {why}", qid=entry.message.qid, why=str(e))
        return inFlight
