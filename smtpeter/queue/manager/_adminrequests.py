"""
What administrators ask of the queue manager (retry a message now, delete
it, release held mail), and held mail's keeping until it is released or
has been kept too long; both end a message undelivered the same way
(L{_drop}: what L{settle} decides about a removal, carried out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import evolve
from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger

from ._entry import Entry
from ._settlement import DELETED, HOLD_EXPIRED, Removal, RetryPolicy, Settlement, settle
from ._sharedwork import SharedWork

log = Logger()


class AdminRequests(SharedWork):
    """Mixed into L{QueueManager}: administrators' requests, and held mail."""

    if TYPE_CHECKING:  # the manager's, which these methods use
        retry: RetryPolicy

        async def _carryOut(
            self, entry: Entry, settlement: Settlement, content: bytes | None
        ) -> None: ...

    def retryNow(self, qid: str) -> bool:
        """
        Attempt the message's pending recipients now. C{False} if it is not
        ours. Held mail is not retried (L{release} delivers it): it stays
        held, and is still dropped once kept for C{holdFor}.
        """
        entry = self.entries.get(qid)
        if entry is None:
            return False
        if entry.held:
            log.info("{qid}: held, so not retried (release delivers it)", qid=qid)
            if self.shared:
                # Claimed for the request; held mail stays nobody's.
                ensureDeferred(self.giveBack(entry))
            # Otherwise its timer, the end of its hold, is left as it is.
        elif not entry.running:
            self._schedule(entry, self.clock.seconds())
        return True

    async def delete(self, qid: str) -> bool | None:
        """
        Take the message out of the queue: each pending recipient fails (a
        failure event with reason C{deleted}, and a DSN where NOTIFY asks;
        none for held mail, which its sender is looking at).
        @return: C{False} if it is not ours, C{None} if an attempt is under
            way (ask again), C{True} once deleted.
        """
        entry = self.entries.get(qid)
        if entry is None:
            return False
        if entry.running:
            return None
        text = "deleted from the queue by an administrator"
        await self._drop(entry, Removal(DELETED, text, notify=not entry.held))
        return True

    def release(self, qid: str) -> bool:
        """Deliver held mail now (and after a restart: it is marked released)."""
        entry = self.entries.get(qid)
        if entry is None or not entry.held:
            return entry is not None
        entry.held = False
        for index in entry.pending:
            entry.states[index] = evolve(entry.states[index], released=True)
        changed = {i: entry.states[i].toJSON() for i in entry.pending}
        if self.shared:
            # Any worker of any node may deliver it now.
            self._forget(entry)
            d = self.claiming.release(qid, changed, self.clock.seconds())
        else:
            d = self.spool.recordStates(qid, changed)
            d.addCallback(lambda _: self._schedule(entry, self.clock.seconds()))
        d.addErrback(lambda f: log.failure("could not release {qid}", f, qid=qid))
        log.info("{qid}: released from hold", qid=qid)
        return True

    def _hold(self, entry: Entry) -> None:
        """Keep held mail until it is released, deleted, or C{holdFor} has passed."""
        entry.held = True
        expires = entry.message.received + self.holdFor.total_seconds()
        entry.timer = self.clock.callLater(
            max(0.0, expires - self.clock.seconds()), self._holdExpired, entry
        )

    def _holdExpired(self, entry: Entry) -> None:
        d = ensureDeferred(self._drop(entry, Removal(HOLD_EXPIRED, "held too long", False)))
        d.addErrback(lambda f: log.failure("dropping {qid} failed", f, qid=entry.message.qid))

    async def _drop(self, entry: Entry, removal: Removal) -> None:
        """End a message undelivered: a failure per pending recipient, and DSNs if asked."""
        entry.running = True
        if entry.timer is not None and entry.timer.active():
            entry.timer.cancel()
        message = entry.message
        settlement = settle(message, entry.states, removal, self.clock.seconds(), self.retry)
        content = self._takeContent(entry)
        if settlement.dsns and content is None:
            content = await self.spool.readContent(message.qid)
        await self._carryOut(entry, settlement, content)
        log.info("{qid}: {text}; dropped", qid=message.qid, text=removal.text)


__all__ = ["AdminRequests"]
