"""
The durable event log: L{IEventSink} over the SQLite event tables.

Writes go to one thread, which takes everything waiting and commits it in
one transaction (with C{synchronous=FULL}, one fsync for the lot): under
load a single commit carries hundreds of clicks, so each is durable before
it is answered without costing a disk flush of its own. Reads run in a
small pool of threads, each with its own connection (WAL lets them read
while the writer writes).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path

from twisted.internet.defer import Deferred, succeed
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from ..queue._message import QueuedMessage
from ..store._events import EventStore, StoredEvent
from ..store._logins import connect
from ..store._throttle import ThrottleStore
from ..store.interfaces import IAuthFailureStore
from ._sinks import ATTEMPT, DEFERRAL, FAILURE, Event, attemptDetails
from .interfaces import IEventSink

log = Logger()

_STOP = object()


@implementer(IEventSink, IAuthFailureStore)
class EventLog:
    """Start with L{start}; L{stop} commits what is waiting, then ends the threads."""

    def __init__(self, path: Path, reactor, readers: int = 4) -> None:
        self.path = path
        self.reactor = reactor
        self._waiting: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._readers = ThreadPool(1, readers, name="smtpeter-event-readers")
        self._local = threading.local()
        #: Called in the reactor thread with each committed batch of
        #: L{StoredEvent}s (webhooks listen here).
        self.committed: list[Callable[[list[StoredEvent]], None]] = []
        #: Called in the writer thread inside each batch's transaction,
        #: with the store and the batch's events (webhook deliveries are
        #: written there, so they are as durable as the events).
        self.inTransaction: list[Callable[[EventStore, list[StoredEvent]], None]] = []

    def start(self) -> None:
        EventStore(connect(self.path))  # the schema, before anyone reads
        self._writer = threading.Thread(target=self._writeLoop, name="smtpeter-events", daemon=True)
        self._writer.start()
        self._readers.start()

    def stop(self) -> None:
        if self._writer is not None:
            self._waiting.put(_STOP)
            self._writer.join()
            self._writer = None
        self._readers.stop()

    # IEventSink ----------------------------------------------------------------

    def accepted(self, message: QueuedMessage):
        def write(store: EventStore):
            if not store.addMessage(message):
                return []
            return [
                store.addEvent(
                    ATTEMPT,
                    message.received,
                    message.qid,
                    r.address,
                    message.options.tags,
                    attemptDetails(message, i),
                )
                for i, r in enumerate(message.envelope.recipients)
            ]

        return self.write(write)

    def record(self, event: Event):
        if event.type == ATTEMPT:
            # Attempts are written by L{accepted}, with the message: no
            # transaction (and no fsync) for nothing.
            return succeed([])
        kind, details = event.type, dict(event.details)
        if kind in (FAILURE, DEFERRAL):
            details["permanent"] = kind == FAILURE
            kind = FAILURE
        return self.write(
            lambda store: [
                store.addEvent(kind, event.time, event.qid, event.recipient, event.tags, details)
            ]
        )

    # Writing ---------------------------------------------------------------------

    def write(self, work: Callable[[EventStore], list[StoredEvent]]) -> Deferred:
        """
        Run C{work(store)} in the writer's next transaction. @return: a
        Deferred that fires with the list of events it returned once they
        are committed to disk.
        """
        d = Deferred()
        self._waiting.put((work, d))
        return d

    def _writeLoop(self) -> None:
        store = EventStore(connect(self.path))
        stopping = False
        while not stopping:
            batch = [self._waiting.get()]
            while True:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            if _STOP in batch:
                stopping = True
                batch = [item for item in batch if item is not _STOP]
            if batch:
                self._commit(store, batch)

    def _commit(self, store: EventStore, batch: list) -> None:
        try:
            results = self._transaction(store, batch)
        except Exception:
            # One bad item must not sink the others: each on its own.
            if len(batch) > 1:
                for item in batch:
                    self._commit(store, [item])
                return
            failure = Failure()
            self.reactor.callFromThread(batch[0][1].errback, failure)
            return
        events = _events(results)
        self.reactor.callFromThread(self._fire, batch, results, events)

    def _transaction(self, store: EventStore, batch: list) -> list:
        db = store.db
        db.execute("BEGIN IMMEDIATE")
        try:
            results = [work(store) for work, _ in batch]
            events = _events(results)
            for hook in self.inTransaction:
                hook(store, events)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return results

    def _fire(self, batch, results, events) -> None:
        for (_, d), result in zip(batch, results, strict=True):
            d.callback(result)
        if events:
            for listener in self.committed:
                try:
                    listener(events)
                except Exception:
                    log.failure("an event listener failed")

    # IAuthFailureStore -------------------------------------------------------------

    def authBannedUntil(self, address: str, now: float) -> Deferred:
        return self.read(lambda store: store.view(ThrottleStore).bannedUntil(address, now))

    def recordAuthFailure(self, address, now, window, limit, banFor) -> Deferred:
        d = self.write(
            lambda store: [
                store.view(ThrottleStore).recordFailure(address, now, window, limit, banFor)
            ]
        )
        return d.addCallback(lambda r: r[0])

    def purge(self, before: float) -> Deferred:
        """Forget what happened before C{before}. @return: C{Deferred[int]}, events removed."""
        return self.write(lambda store: [store.purge(before)]).addCallback(lambda r: r[0])

    # Reading ---------------------------------------------------------------------

    def read(self, query: Callable[[EventStore], object]) -> Deferred:
        """Run C{query(store)} in a reading thread. @return: C{Deferred} of its result."""
        return deferToThreadPool(self.reactor, self._readers, self._read, query)

    def _read(self, query):
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = EventStore(connect(self.path))
        return query(store)


def _events(results: list) -> list[StoredEvent]:
    return [e for result in results for e in result if isinstance(e, StoredEvent)]
