"""
Claims on the shared queue (L{QueueClaiming}, a part of
L{smtpeter.queue.SharedQueueDatabase}): due messages taken in batches
(C{FOR UPDATE SKIP LOCKED}), one message for an administrator's request,
held mail to expire; leases renewed; and whether a claim still holds
(the check before a delivery's final dot). A claim is this worker's
(L{Claims.confirmed}) once its transaction has committed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..message import QueuedMessage
from ..runtime import LEASE_TAKEOVERS, QUEUE_CLAIMS
from ._sharedconnection import NOW, QueueConnection, again
from ._spool import _fromMetadata

if TYPE_CHECKING:
    from ._sharedclaims import Claims

#: What a claim sets: this worker's, for a lease, under the next claim number
#: (the fencing token its writes carry). Its parameters: the owner, the lease.
_CLAIMED = f"SET owner = %s, lease_until = {NOW} + %s, claim = m.claim + 1"


class QueueClaiming(QueueConnection):
    """A part of L{smtpeter.queue.SharedQueueDatabase}: its claims and leases."""

    if TYPE_CHECKING:  # the shared queue's, which this uses
        claims: Claims
        owner: str
        lease: float

    @again
    def claim(self, limit: int) -> list[tuple[QueuedMessage, dict[int, dict]]]:
        """
        Up to C{limit} due messages nobody holds (never claimed, released,
        or whose owner's lease ran out), now this worker's; oldest due first.
        @return: each message (content empty) and its recipients' states.
        """
        if limit <= 0:
            return []
        rows, claimed = self._take(
            " SELECT qid, owner IS NOT NULL AS taken FROM queue_messages"
            f" WHERE due <= {NOW} AND (owner IS NULL OR lease_until < {NOW})"
            " ORDER BY due LIMIT %s FOR UPDATE SKIP LOCKED",
            (limit,),
            ", chosen.taken",
        )
        # Taken: its owner's lease ran out (a released message has none).
        QUEUE_CLAIMS.inc(len(rows))
        LEASE_TAKEOVERS.inc(sum(1 for row in rows if row[3]))
        return claimed

    @again
    def claimOne(
        self, qid: str, held: bool = False
    ) -> tuple[QueuedMessage, dict[int, dict]] | None:
        """
        C{qid}, now this worker's, if nobody holds it (for an administrator's
        request: retry, delete or release it now). With C{held}, only if it
        is held (and then it stays held: C{due} is not set).
        @return: the message and its states, or C{None} (not queued, held
            by another worker, or not held when C{held} asks).
        """
        condition = "due IS NULL" if held else "TRUE"
        since = self.claims.clock()
        with self._transaction():
            rows = self.db.execute(
                f"UPDATE queue_messages AS m {_CLAIMED}"
                f" WHERE qid = %s AND (owner IS NULL OR lease_until < {NOW}) AND {condition}"
                " RETURNING qid, meta, claim",
                (self.owner, self.lease, qid),
            ).fetchall()
            claimed = self._claimed(rows)
        self._confirmed(rows, since, claimed)
        return claimed[0] if claimed else None

    @again
    def claimHeld(self, before: float, limit: int) -> list[tuple[QueuedMessage, dict[int, dict]]]:
        """Up to C{limit} held messages received before C{before}, now this worker's (to expire)."""
        return self._take(
            " SELECT qid FROM queue_messages"
            f" WHERE due IS NULL AND received < %s AND (owner IS NULL OR lease_until < {NOW})"
            " ORDER BY received LIMIT %s FOR UPDATE SKIP LOCKED",
            (before, limit),
        )[1]

    def _take(self, chosen: str, args: tuple, more: str = "") -> tuple[list, list]:
        """
        Claim for this worker, in one transaction, the messages C{chosen}
        (a C{SELECT} of C{qid}, locking them, given C{args}) picks: its rows
        (qid, meta, claim, then C{more}'s columns of C{chosen}) and the
        messages with their states, confirmed once committed.
        """
        since = self.claims.clock()
        with self._transaction():
            rows = self.db.execute(
                f"WITH chosen AS ({chosen}) UPDATE queue_messages AS m {_CLAIMED}"
                f" FROM chosen WHERE m.qid = chosen.qid RETURNING m.qid, m.meta, m.claim{more}",
                (*args, self.owner, self.lease),
            ).fetchall()
            taken = [row[:3] for row in rows]
            claimed = self._claimed(taken)
        return rows, self._confirmed(taken, since, claimed)

    def _confirmed(self, rows: list, since: float, claimed: list) -> list:
        """C{claimed}, once committed: this worker's claims from now (L{Claims.confirmed})."""
        for qid, _, claim in rows:
            self.claims.confirmed(qid, claim, since)
        return claimed

    def _claimed(self, rows: list) -> list[tuple[QueuedMessage, dict[int, dict]]]:
        if not rows:
            return []
        states: dict[str, dict[int, dict]] = {qid: {} for qid, _, _ in rows}
        for qid, rcpt, state in self.db.execute(
            "SELECT qid, rcpt, state FROM queue_recipients WHERE qid = ANY(%s)",
            ([qid for qid, _, _ in rows],),
        ):
            states[qid][rcpt] = state
        return [(_fromMetadata(json.loads(meta)), states[qid]) for qid, meta, _ in rows]

    @again
    def renew(self) -> list[str]:
        """
        Extend the lease of everything this worker holds.
        @return: the queue ids it no longer holds (taken over meanwhile).
        """
        held = list(self.claims.items())
        if not held:
            return []
        since = self.claims.clock()
        with self._transaction():
            kept = {
                qid
                for (qid,) in self.db.execute(
                    f"UPDATE queue_messages SET lease_until = {NOW} + %s"
                    " FROM unnest(%s::text[], %s::bigint[]) AS mine(qid, claim)"
                    " WHERE queue_messages.qid = mine.qid"
                    " AND queue_messages.claim = mine.claim AND owner = %s"
                    " RETURNING queue_messages.qid",
                    (self.lease, [q for q, _ in held], [c for _, c in held], self.owner),
                )
            }
        lost = [qid for qid, _ in held if qid not in kept]
        for qid in lost:
            self.claims.pop(qid, None)
        for qid, claim in held:
            if qid in kept:
                self.claims.confirmed(qid, claim, since)
        return lost

    def holds(self, qid: str) -> bool:
        """Whether this worker's claim on C{qid} still holds, with time left on its lease."""
        return qid in self.holding([qid])

    @again
    def holding(self, qids: list[str]) -> set[str]:
        """Those of C{qids} this worker's claim still holds, with time left on their leases."""
        claims = dict(self.claims)
        rows = self.db.execute(
            "SELECT qid, claim FROM queue_messages WHERE qid = ANY(%b::text[])"
            f" AND owner = %s AND lease_until > {NOW}",
            (qids, self.owner),
        ).fetchall()
        self.db.rollback()
        return {qid for qid, claim in rows if claims.get(qid) == claim}
