"""
Mail queued elsewhere put in the shared queue as it was (L{QueueImport},
a part of L{smtpeter.queue.SharedQueueDatabase}): C{smtpeter db copy}
moves a stopped SQLite gateway's spools there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..message import QueuedMessage
from ._incoming import Spilled
from ._spool import _metadata

#: Bodies sent before the import waits for PostgreSQL to take them (and
#: frees them): a queue of large messages is not held in memory whole.
SYNC_BYTES = 64 << 20


class QueueImport:
    """Mixed into L{smtpeter.queue.SharedQueueDatabase}: its bulk import."""

    if TYPE_CHECKING:  # the shared queue's, which this uses
        node: str
        db: Any

        def _recordStates(self, qid: str, states: dict[int, dict]) -> None: ...

    def importQueued(
        self, mail: Iterable[tuple[QueuedMessage, dict[int, dict], float | None]]
    ) -> int:
        """
        Messages queued elsewhere (a stopped SQLite gateway's spools, by
        C{smtpeter db copy}) put in the shared queue as they were: each with
        its content, its recipients' states (attempts, next attempt, last
        reply, released) and when it is next due (C{None}: held, until it is
        released). They are nobody's (no owner, no lease, claim 0): workers
        claim each when it is due. All or nothing, in one transaction: its
        own, or, on a connection already in one (the copy's), a savepoint of
        it, which its owner commits with the rest. Not done again on a new
        connection: the caller decides.
        @return: how many messages.
        @raise psycopg.IntegrityError: a message is in the queue already
            (nothing of C{mail} is in it then).
        """
        count = sent = 0
        with self.db.transaction(), self.db.pipeline() as pipeline:
            for message, states, due in mail:
                content = message.content
                if isinstance(content, Spilled):
                    content = content.read()
                self.db.execute(
                    "INSERT INTO queue_messages (qid, meta, node, received, due, claim)"
                    " VALUES (%s, %s, %s, %s, %s, 0)",
                    (
                        message.qid,
                        _metadata(message)[:-1].decode(),
                        self.node,
                        message.received,
                        due,
                    ),
                )
                self.db.execute(
                    "INSERT INTO queue_bodies (qid, content) VALUES (%s, %s)",
                    (message.qid, content),
                )
                if states:
                    self._recordStates(message.qid, states)
                count += 1
                sent += len(content)
                if sent >= SYNC_BYTES:
                    pipeline.sync()
                    sent = 0
        return count
