"""
The database's one writer: a L{BatchWriter} (L{smtpeter.runtime}) that
takes everything waiting and commits it in one transaction (with
C{synchronous=FULL}, one fsync for the lot). Busy, it commits at most once
per L{GATHER} when someone waits for a write, and at most once per
L{LINGER} when nobody does; idle, at once. Webhook deliveries for the
events a batch added are queued inside the same transaction. What it runs
are the commands of L{smtpeter.store._commands}.

On PostgreSQL a batch's statements go as one pipeline: a command with a
C{prepare} sends its first statements ahead of the others (the message
rows), the events' ids and the webhooks are read once every command has
sent its own, the deliveries to webhooks and the counters are written,
then the COMMIT, whose answer comes before the batch's: three round
trips however many messages a batch holds (BEGIN and the cluster's
write lock travel with the first). The write lock stays: it keeps the
events' ids in the order of their commits (a reader going on C{after}
an id misses none), and read-then-write commands (an open's number) one
at a time across the nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from twisted.logger import Logger
from twisted.python.failure import Failure

from ..runtime import BatchWriter, DiskFull, PostgreSQL
from ._changes import Database
from ._engines import BUSY, DAMAGED, FULL, begin, classify, pipelined
from ._events import EventStore, LaterEvent, StoredEvent, resolved
from ._stats import StatsStore
from ._webhooks import WebhookStore

log = Logger()

#: The writer commits at most once in this many seconds (idle, it commits at once).
GATHER = 0.01
#: ... and, while nobody waits for what it holds, at most once in this many.
LINGER = 0.1


class Writer(BatchWriter):
    """
    Started with L{start}; L{stop} commits what is waiting, then ends the
    thread. C{connect} gives the thread its connection; C{clock} dates the
    webhook deliveries; C{path} names the database in errors. Each item
    written is a command: C{work(store)} in the transaction.
    """

    def __init__(
        self, reactor: Any, connect: Callable, clock: Any, path: Path | PostgreSQL
    ) -> None:
        super().__init__(
            reactor,
            "smtpeter-db-writer",
            lambda: EventStore(connect()),
            self._commitBatch,
            gather=GATHER,
            linger=LINGER,
            batch=True,
        )
        self.clock, self.path = clock, path
        self.webhookListeners: list[Callable[[], None]] = []
        #: Why the writer's last transaction failed, if it did (for the health check).
        self.failure: str | None = None

    def _commitBatch(self, store: EventStore, batch: list) -> list:
        """In the thread: C{batch} in one transaction; if that fails, each item alone."""
        try:
            results, queued = self._transaction(store, batch)
        except Exception as e:
            # One bad item must not sink the others: each on its own.
            if len(batch) > 1:
                return [self._commitBatch(store, [work])[0] for work in batch]
            failure = Failure()
            kind = classify(e)
            if kind in (BUSY, DAMAGED, FULL):
                # The database's trouble, not the item's (a constraint, say).
                self.failure = str(e)
                if kind == FULL and isinstance(self.path, Path):  # (PostgreSQL's disk: not ours)
                    failure = Failure(DiskFull(self.path.parent))
            return [failure]
        self.failure = None
        if queued:
            self.reactor.callFromThread(self._webhooksQueued)
        return results

    def _transaction(self, store: EventStore, batch: list) -> tuple[list, int]:
        db = cast(Database, store.db)  # as the writer's connect() makes it
        try:
            # On PostgreSQL, one round trip for the lot where nothing is read
            # back; the block's end waits for the COMMIT (and raises what failed).
            with pipelined(db):
                begin(db)
                for work in batch:
                    prepare = getattr(work, "prepare", None)
                    if prepare is not None:
                        prepare(store)
                results = [work(store) for work in batch]
                # The webhooks' read and every item's statements are sent
                # before any event's id is read: one wait for them all.
                hooks = store.view(WebhookStore)
                listing = hooks.listing() if any(map(_holdsEvents, results)) else None
                results = [_resolved(result) for result in results]
                events = [e for result in results for e in result if isinstance(e, StoredEvent)]
                queued = hooks.queue(events, self.clock.seconds(), listing) if events else 0
                store.sendEvents()
                store.view(StatsStore).flush()
                db.execute("COMMIT")
        except BaseException:
            store.discardEvents()
            store.view(StatsStore).discard()
            # SQLite has rolled back already after some errors (a full disk):
            # a ROLLBACK then would fail, and hide why.
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.publish()
        return results, queued

    def _webhooksQueued(self) -> None:
        for listener in self.webhookListeners:
            try:
                listener()
            except Exception:
                log.failure("a webhook listener failed")


def _holdsEvents(result: Any) -> bool:
    return isinstance(result, list) and any(isinstance(e, StoredEvent | LaterEvent) for e in result)


def _resolved(result: Any) -> Any:
    """A command's result with its events' ids read (the first read waits for them all)."""
    if isinstance(result, list):
        return [resolved(e) if isinstance(e, LaterEvent) else e for e in result]
    return result
