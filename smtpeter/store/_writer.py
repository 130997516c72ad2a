"""
The database's one writer: a thread that takes everything waiting and
commits it in one transaction (with C{synchronous=FULL}, one fsync for the
lot). Busy, it commits at most once per L{GATHER} when someone waits for a
write, and at most once per L{LINGER} when nobody does; idle, at once.
Webhook deliveries for the events a batch added are queued inside the same
transaction. What it runs are the commands of L{smtpeter.store._commands}.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from ..runtime import DiskFull, background
from ._engine import BUSY, DAMAGED, FULL, begin, classify
from ._events import EventStore, StoredEvent
from ._webhooks import WebhookStore

log = Logger()

#: The writer commits at most once in this many seconds (idle, it commits at once).
GATHER = 0.01
#: ... and, while nobody waits for what it holds, at most once in this many.
LINGER = 0.1

STOP = object()


class Writer:
    """
    Started with L{start}; L{stop} commits what is waiting, then ends the
    thread. C{connect} gives the thread its connection; C{clock} dates the
    webhook deliveries; C{path} names the database in errors.
    """

    def __init__(self, reactor, connect: Callable, clock, path: Path) -> None:
        self.reactor, self.connect, self.clock, self.path = reactor, connect, clock, path
        self.waiting: queue.SimpleQueue = queue.SimpleQueue()
        #: Set when a write that someone waits for is queued: the writer stops lingering.
        self.awaited = threading.Event()
        #: Writes given to the writer and not answered yet (kept by the reactor thread).
        self.unanswered = 0
        self.thread: threading.Thread | None = None
        self.webhookListeners: list[Callable[[], None]] = []
        #: Why the writer's last transaction failed, if it did (for the health check).
        self.failure: str | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="smtpeter-db-writer")
        self.thread.daemon = True
        self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.waiting.put(STOP)
            self.awaited.set()
            self.thread.join()
            self.thread = None

    def write(self, work, awaited: bool = True) -> Deferred:
        """
        Do C{work} in the writer's next transaction; fire once it is
        committed. Without C{awaited} (nothing is held up until it is
        committed), a busy writer lets it wait up to L{LINGER} for company.
        """
        d = Deferred()
        self.unanswered += 1
        self.waiting.put((work, d))
        if awaited:
            self.awaited.set()
        return d

    def _loop(self) -> None:
        background()
        store = EventStore(self.connect())
        stopping = False
        committed = -LINGER
        while not stopping:
            batch = [self.waiting.get()]
            # Under load, wait for more: a commit costs a sync and a WAL
            # append of every page it touches, however few events it holds.
            # Only a write that someone waits for wakes the writer early:
            # the others are not worth a thread switch each.
            linger = committed + LINGER - time.monotonic()
            if linger > 0 and not self.awaited.is_set():
                self.awaited.wait(linger)
            wait = committed + GATHER - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            # Before taking what is queued: an awaited write queued after this
            # is either taken now or sets the event again for the next batch.
            self.awaited.clear()
            while True:
                try:
                    batch.append(self.waiting.get_nowait())
                except queue.Empty:
                    break
            if STOP in batch:
                stopping = True
                batch = [item for item in batch if item is not STOP]
            if batch:
                self._commit(store, batch)
            committed = time.monotonic()

    def _commit(self, store: EventStore, batch: list) -> None:
        try:
            results, queued = self._transaction(store, batch)
        except Exception as e:
            # One bad item must not sink the others: each on its own.
            if len(batch) > 1:
                for item in batch:
                    self._commit(store, [item])
                return
            failure = Failure()
            kind = classify(e)
            if kind in (BUSY, DAMAGED, FULL):
                # The database's trouble, not the item's (a constraint, say).
                self.failure = str(e)
                if kind == FULL:
                    failure = Failure(DiskFull(self.path.parent))
            self.reactor.callFromThread(self._failed, batch[0][1], failure)
            return
        self.failure = None
        self.reactor.callFromThread(self._fire, batch, results, queued)

    def _transaction(self, store: EventStore, batch: list) -> tuple[list, int]:
        db = store.db
        begin(db)
        try:
            results = [work(store) for work, _ in batch]
            events = [e for result in results for e in result if isinstance(e, StoredEvent)]
            queued = store.view(WebhookStore).queue(events, self.clock.seconds()) if events else 0
            db.execute("COMMIT")
        except BaseException:
            # SQLite has rolled back already after some errors (a full disk):
            # a ROLLBACK then would fail, and hide why.
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.publish()
        return results, queued

    def _failed(self, d: Deferred, failure: Failure) -> None:
        self.unanswered -= 1
        d.errback(failure)

    def _fire(self, batch, results, queued: int) -> None:
        self.unanswered -= len(batch)
        for (_, d), result in zip(batch, results, strict=True):
            d.callback(result)
        if queued:
            for listener in self.webhookListeners:
                try:
                    listener()
                except Exception:
                    log.failure("a webhook listener failed")
