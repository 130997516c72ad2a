"""
The queue shared by every node, in PostgreSQL: messages, their bodies and
their recipients' states, claimed for a while by one worker of one node.

A worker does not hold what it has not claimed. It claims due messages in
batches (C{FOR UPDATE SKIP LOCKED}), writing itself as their owner, a lease
expiry and a new claim number; it delivers outside any transaction, renews
its leases while it works, and records an outcome only while its claim
still holds (C{WHERE claim = ...}: the claim number is a fencing token). A
message still pending after an attempt is released, due again at its next
attempt, for whichever worker of whichever node is free then. When a node
dies, its leases run out and the others claim its mail, with its attempts
and history. A claim never deletes anything. The writes are here; the
claims and leases in L{smtpeter.queue._sharedclaiming}.

Its tables are steps of the shared database's schema
(C{smtpeter/store/schema/011_shared_queue.postgres.sql}; a finished
message's body stays, marked finished, since C{020_queue_bodies_kept}:
no foreign keys, the finish deletes a message's rows). Every method
here blocks: they run in the spool's threads (L{smtpeter.queue.SharedSpool}),
each thread on a connection of its own.
Times are epoch seconds; leases are counted on the database's clock, the
one clock every node shares.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ..runtime import DATABASE_COMMIT_SECONDS
from ._sharedclaiming import QueueClaiming
from ._sharedclaims import Claims
from ._sharedconnection import NOW, ClaimLost, QueueConnection, again
from ._sharedimport import QueueImport
from ._sharedwrites import heldIn, writeAll


class SharedQueueDatabase(QueueClaiming, QueueImport, QueueConnection):
    """
    One connection's view of the shared queue, for one worker (C{owner},
    such as C{"node-a/2"}). Not thread-safe: one per thread, each with its
    own connection; the claims this worker holds are shared between them
    (C{claims}: qid -> claim number, and how long each surely holds), which
    only the writing thread changes.
    """

    def __init__(
        self,
        connect: Callable,
        owner: str,
        node: str,
        lease: float,
        claims: Claims | None = None,
        keepSent: float = 0,
        reading: bool = False,
    ) -> None:
        #: Days a finished message's content is kept (in C{queue_bodies}, marked finished).
        self.keepSent = keepSent
        super().__init__(connect, reading)
        self.owner = owner
        self.node = node
        self.lease = lease
        self.claims = Claims(lease) if claims is None else claims

    # Starting ---------------------------------------------------------------

    @again
    def forgetPredecessor(self) -> int:
        """
        Release what this worker's name held before it was started again
        (its node's name is held by one running node only, so whoever held
        these is dead). @return: how many messages.
        """
        with self._transaction():
            cursor = self.db.execute(
                "UPDATE queue_messages SET owner = NULL, lease_until = NULL WHERE owner = %s",
                (self.owner,),
            )
            return cursor.rowcount

    # Writing ------------------------------------------------------------------

    def apply(
        self, work: list[tuple], again: bool = True, doubt: bool = True
    ) -> list[Exception | None]:
        """
        Do every item of C{work} in one transaction: C{("store", message)},
        C{("states", qid, states)}, C{("release", qid, states, due)},
        C{("finish", qid, when)}; C{("after",)} does nothing. An item whose
        claim no longer holds fails alone with L{ClaimLost}; if the
        transaction fails, each item is tried alone, so that one bad item
        fails only itself; if it may have been committed (the connection was
        lost once it was sent), what was stored is found (L{_afterDoubt},
        unless C{doubt} is false). A release or finish that ends otherwise
        than done is no longer this worker's claim either: its lease runs
        out, and the next claim takes the message from its last states.
        @return: for each item, C{None} or what it failed with.
        """
        try:
            with DATABASE_COMMIT_SECONDS.time():
                results = self._applyOnce(work)
        except Exception as e:
            self._rollback()
            for item in work:
                if item[0] == "store":
                    self.claims.pop(item[1].qid, None)
            if again and self._lostBeforeCommit(e):
                return self.apply(work, again=False)
            if doubt and self._lostAfterSending():
                results = self._afterDoubt(work, e)
            elif len(work) > 1:
                return [self.apply([item], again=False)[0] for item in work]
            else:
                results = [e]
        for item, result in zip(work, results, strict=True):
            if item[0] in ("release", "finish") or isinstance(result, ClaimLost):
                self.claims.pop(item[1], None)
        return results

    def _afterDoubt(self, work: list[tuple], error: Exception) -> list[Exception | None]:
        """
        C{work}, which may have been committed when its connection was lost:
        the new messages found in the queue were stored (stored again, each
        would be refused as a duplicate, and its client, told to send it
        again, would send a second copy); the rest is done again, each item
        alone (a release or finish already done finds its claim gone:
        L{ClaimLost}, which changes nothing). If the queue cannot be read,
        everything fails with C{error}.
        """
        stores = [item[1] for item in work if item[0] == "store"]
        try:
            found = self._stored([message.qid for message in stores]) if stores else set()
        except Exception:
            self._rollback()
            found = None
        results: list[Exception | None] = []
        for item in work:
            if found is None:
                results.append(error)
            elif item[0] == "store" and item[1].qid in found:
                if not item[1].options.hold:
                    self.claims[item[1].qid] = 1  # its first claim (a renewal confirms it)
                results.append(None)
            else:
                results.append(self.apply([item], again=False, doubt=False)[0])
        return results

    def _stored(self, qids: list[str]) -> set[str]:
        """Those of C{qids} that are in the queue (on a new connection, if the old one was lost)."""
        return {
            qid
            for (qid,) in self.db.execute(
                "SELECT qid FROM queue_messages WHERE qid = ANY(%b::text[])", (qids,)
            )
        }

    def _applyOnce(self, work: list[tuple]) -> list[Exception | None]:
        """
        C{work}'s statements, in one round trip when the connection is
        fresh (L{_fresh}): new and finished messages are one statement, a
        transaction by itself (no BEGIN, no COMMIT: the statement's own
        commit); anything else goes in a pipeline with its BEGIN and
        COMMIT. A connection that may have been lost while idle
        has its BEGIN answered first, so that its loss is found before
        anything is done (and the work is done again on a new one).
        """
        self._committing = False
        if not self._fresh():
            self.db.execute("BEGIN")
            return self._doAll(work, begun=True)
        if {item[0] for item in work} <= {"store", "finish"}:
            self._committing = True  # from here, a lost connection may have committed
            return self._doAll(work, begun=None)
        return self._doAll(work, begun=False)

    def _doAll(self, work: list[tuple], begun: bool | None) -> list[Exception | None]:
        """
        The statements of every item of C{work}, sent together in a pipeline
        with the BEGIN (unless C{begun}) and the COMMIT (one round trip to
        the database instead of one per statement): each change of
        recipients' states in its own statement, the new and finished
        messages in one; if some items record recipients' states,
        those of the items whose claim held (one more round trip). With
        C{begun} C{None}, no transaction: C{work} is one statement.
        @return: for each item, C{None} or L{ClaimLost}.
        """
        since = self.claims.clock()
        with self.db.pipeline() as pipeline:
            if begun is False:
                self.db.execute("BEGIN")
            checks = [self._send(item) for item in work]
            stored = [item[1] for item in work if item[0] == "store"]
            finished = [item for item in work if item[0] == "finish"]
            if stored or finished:
                done = writeAll(
                    self.db,
                    self.node,
                    self.owner,
                    self.lease,
                    self.claims,
                    self.keepSent,
                    stored,
                    finished,
                )
                for message in stored:
                    if not message.options.hold:
                        self.claims.confirmed(message.qid, 1, since)
                for i, item in enumerate(work):
                    if item[0] == "finish":
                        checks[i] = heldIn(done, item[1])
            if any(item[0] in ("states", "release") for item in work):
                pipeline.sync()
                # A message finished here has no recipients' rows any more.
                gone = done() if finished else set()
                for item, check in zip(work, checks, strict=True):
                    if item[0] in ("states", "release") and check() is None and item[1] not in gone:
                        self._recordStates(item[1], item[2])
            if begun is not None:
                # The COMMIT goes with the statements, answered with them at
                # the pipeline's end (no round trip of its own; psycopg's
                # commit() would sync at once): from here, a lost connection
                # may have committed.
                self._committing = True
                self.db.execute("COMMIT")
        return [check() for check in checks]

    def _send(self, item: tuple) -> Callable[[], Exception | None]:
        """
        The statements of a change of recipients' states (C{states},
        C{release}), queued in the pipeline. @return: what tells, once they
        are done, whether the item's claim held (C{None}) or not
        (L{ClaimLost}).
        """
        kind, qid = item[0], item[1]
        if kind == "states":
            cursor = self._fenced(qid, "lease_until = lease_until")
        elif kind == "release":
            cursor = self._fenced(qid, "owner = NULL, lease_until = NULL, due = %s", (item[3],))
        else:
            return lambda: None
        return lambda: None if cursor.rowcount == 1 else ClaimLost(qid)

    def _fenced(self, qid: str, assignments: str, args: tuple = ()):
        """An update of C{qid}'s row, made only while this worker's claim holds: its cursor."""
        return self.db.execute(
            f"UPDATE queue_messages SET {assignments} WHERE qid = %s AND claim = %s AND owner = %s",
            (*args, qid, self.claims.get(qid), self.owner),
        )

    def _recordStates(self, qid: str, states: dict[int, dict]) -> None:
        with self.db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO queue_recipients (qid, rcpt, state) VALUES (%s, %s, %s)"
                " ON CONFLICT (qid, rcpt) DO UPDATE SET state = excluded.state",
                [(qid, i, json.dumps(s, separators=(",", ":"))) for i, s in states.items()],
            )

    # Reading ------------------------------------------------------------------

    @again
    def purgeSent(self, before: float, limit: int = 500) -> int:
        """
        Forget up to C{limit} kept contents of messages finished before
        C{before}: found by the index of finished bodies, deleted by key (a
        join with them was planned as a scan of every body).
        """
        with self._transaction():
            return self.db.execute(
                "DELETE FROM queue_bodies WHERE qid = ANY(ARRAY("
                "SELECT qid FROM queue_bodies WHERE finished < %s LIMIT %s))",
                (before, limit),
            ).rowcount

    @again
    def readContent(self, qid: str) -> bytes:
        """The content of C{qid} while it is queued (not once it is finished, if kept)."""
        row = self.db.execute(
            "SELECT content FROM queue_bodies WHERE qid = %s AND finished IS NULL", (qid,)
        ).fetchone()
        self.db.rollback()
        if row is None:
            raise FileNotFoundError(f"{qid}: no such message in the queue")
        return bytes(row[0])

    @again
    def stateCounts(self) -> dict[str, int]:
        """
        The whole cluster's queue by state, on the database's clock: C{held}
        (due never), C{ready} (due now: waiting for a worker, or being
        delivered) and C{scheduled} (due later: waiting for a retry).
        """
        held, ready, scheduled = self.db.execute(
            "SELECT count(*) FILTER (WHERE due IS NULL),"
            f" count(*) FILTER (WHERE due <= {NOW}), count(*) FILTER (WHERE due > {NOW})"
            " FROM queue_messages"
        ).fetchone()
        self.db.rollback()
        return {"ready": ready, "scheduled": scheduled, "held": held}

    def load(self) -> list:
        """Nothing: in a shared queue a worker starts holding nothing, and claims."""
        return []
