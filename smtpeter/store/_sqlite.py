"""
The gateway's database: L{IEventStore}, L{ILoginStore} and
L{IAuthFailureStore} over one SQLite file, and the one owner of every
connection to it and every thread that uses them.

Writes go to one thread (L{smtpeter.store._writer}), which takes
everything waiting and commits it in one transaction: under load a single
commit carries many events, each durable before it is answered without
costing a disk flush of its own. Busy, the writer commits at most once per
C{GATHER} when someone waits for a write (a click's redirect, an AUTH
failure's reply), and at most once per C{LINGER} when nobody does (a
message's events, a login's last use): an event in a commit of five cost
nearly half again the CPU of one in a commit of twenty. Reads run in a
small pool of threads, each with its own connection (WAL lets them read
while the writer writes, and other processes write too), and see every
write given to the writer before them.

Callers use the named methods; what runs in the threads
(L{smtpeter.store._commands}) is the store package's business. The logins'
methods (L{smtpeter.store._storelogins}) and the AUTH throttle's
(L{smtpeter.store._storethrottle}) are mixins of their own, as are the
two ways to reach the threads (L{smtpeter.store._storecalls}).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import cast

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from ..events import ATTEMPT, storedOutcome
from ..events.interfaces import IEventSink
from ..message import QueuedMessage
from ..runtime import PostgreSQL, Workers, isDamaged
from . import _commands as do
from ._apitokens import TokenStore
from ._changes import MISSING, ChangeMarks, Remembered
from ._dashboardsessions import DashboardSessionStore
from ._domains import DomainStore
from ._engines import changeMarks, connect
from ._events import EventStore
from ._idempotency import IdempotencyStore
from ._logins import LoginRecord
from ._migrate import upgrade
from ._queuerequests import QueueRequestStore
from ._stats import StatsStore
from ._storecalls import only as _only
from ._storelogins import StoreLogins
from ._storethrottle import StoreThrottle
from ._suppressions import Suppression, SuppressionStore
from ._throttle import ThrottleStore
from ._webhooks import WebhookStore
from ._writer import Writer
from .interfaces import (
    IAuthFailureStore,
    IDashboardSessionStore,
    IEventStore,
    IIdempotencyStore,
    ILoginStore,
    ILoginUsageStore,
    IQueueRequests,
    ISuppressionStore,
)

log = Logger()


@implementer(
    IEventSink,
    IEventStore,
    IIdempotencyStore,
    ILoginStore,
    ILoginUsageStore,
    IAuthFailureStore,
    ISuppressionStore,
    IQueueRequests,
    IDashboardSessionStore,
)
class SQLiteStore(StoreLogins, StoreThrottle):
    """
    Start with L{start}; L{stop} commits what is waiting, then ends the
    threads. C{path} is SQLite's file, or a L{PostgreSQL} database: the
    same store, threads and SQL over either engine.
    """

    def __init__(
        self,
        path: Path | PostgreSQL,
        reactor: IReactorFromThreads,
        readers: int = 4,
        clock: IReactorTime | None = None,
    ) -> None:
        """
        C{reactor} is Twisted's: its threads hand results back to it, and it
        is the clock (unless C{clock} is given).
        """
        self.path = path
        self.reactor = reactor
        self.clock = clock or cast(IReactorTime, reactor)
        self._writer = Writer(reactor, self._connect, self.clock, path)
        self._readers = Workers(
            reactor,
            readers,
            "smtpeter-db-reader",
            lambda: EventStore(self._connect()),
            batch=True,
        )
        #: AUTH attempts are counted here, apart from the writer (whose
        #: commits wait up to GATHER for company): one short transaction
        #: each, ordered with every process's by the database's write lock.
        self._throttle = Workers(
            reactor, 1, "smtpeter-db-throttle", lambda: ThrottleStore(self._connect())
        )
        self._connections: list = []
        self._lock = threading.Lock()
        self._marks: ChangeMarks | None = None

    def start(self) -> None:
        # The schema, before anyone reads: the process that owns the data
        # directory has upgraded it already (then this only reads its version).
        upgrade(self._connect())
        # What AUTH and delivery read for every connection and message, kept
        # until it changes (in any process): no read, no thread hop.
        self._marks = changeMarks(self.path)
        self._logins: Remembered[LoginRecord | None] = Remembered(self._marks, "logins")
        # until when an address is banned (None: it is not)
        self._bans: Remembered[float | None] = Remembered(self._marks, "auth_bans")
        # by (address, the login whose mail is checked)
        self._suppressions: Remembered[Suppression | None] = Remembered(
            self._marks, "suppressions", limit=100_000
        )
        self._writer.start()
        self._readers.start()
        self._throttle.start()

    def stop(self) -> None:
        self._writer.stop()
        self._readers.stop()
        self._throttle.stop()
        with self._lock:
            connections, self._connections = self._connections, []
        for db in connections:
            db.close()
        if self._marks is not None:
            self._marks.close()
            self._marks = None

    def _connect(self):
        db = connect(self.path)
        with self._lock:
            self._connections.append(db)
        return db

    def domains(self) -> DomainStore:
        """
        A synchronous domain store on a connection of ours, for the DKIM key
        cache that the feature threads read (closed by L{stop}).
        """
        return DomainStore(self._connect())

    # IEventSink ----------------------------------------------------------------

    def accepted(self, message: QueuedMessage) -> Deferred:
        return self._write(do.Accepted(message), awaited=False)

    def record(self, event) -> Deferred:
        if event.type == ATTEMPT:
            # Attempts are written by L{accepted}, with the message: no
            # transaction (and no fsync) for nothing.
            return succeed([])
        kind, details = storedOutcome(event)
        return self._write(
            do.AddEvent(kind, event.time, event.qid, event.recipient, event.tags, details),
            awaited=False,
        )

    # IEventStore: writing --------------------------------------------------------

    def recordLinks(self, qid: str, links: list[str]) -> Deferred:
        return self._write(do.RecordLinks(qid, links))

    def recordClick(self, qid, recipient, tags, details, when) -> Deferred:
        return self._write(do.AddEvent("click", when, qid, recipient, tags, details)).addCallback(
            _only
        )

    def recordOpen(self, qid, recipient, tags, details, when) -> Deferred:
        return self._write(do.AddOpen(when, qid, recipient, tags, details)).addCallback(_only)

    def recordBounce(self, qid, recipient, tags, details, when) -> Deferred:
        return self._write(do.AddEvent("bounce", when, qid, recipient, tags, details)).addCallback(
            _only
        )

    def recordUnsubscribe(self, qid, recipient, login, tags, details, when) -> Deferred:
        return self._write(do.Unsubscribe(qid, recipient, login, tags, details, when)).addCallback(
            _only
        )

    def webhookSucceeded(self, delivery, now: float) -> Deferred:
        return self._write(do.WebhookOutcome(delivery, now, None, None))

    def webhookFailed(self, delivery, error: str, nextAttempt: float | None) -> Deferred:
        return self._write(do.WebhookOutcome(delivery, None, error, nextAttempt))

    def whenWebhooksQueued(self, listener: Callable[[], None]) -> None:
        self._writer.webhookListeners.append(listener)

    def purge(self, before: float) -> Deferred:
        return self._write(do.Purge(before, self.clock.seconds())).addCallback(_only)

    # IDashboardSessionStore ---------------------------------------------------------

    def startDashboardSession(self, id: str, name: str, expires: float, now: float) -> Deferred:
        return self._write(
            do.Call(DashboardSessionStore, DashboardSessionStore.start, id, name, expires, now)
        ).addCallback(_only)

    def dashboardSessionLive(self, id: str, now: float) -> Deferred:
        return self._read(do.view(DashboardSessionStore, DashboardSessionStore.live), id, now)

    def endDashboardSession(self, id: str) -> Deferred:
        return self._write(
            do.Call(DashboardSessionStore, DashboardSessionStore.end, id)
        ).addCallback(_only)

    # IEventStore: reading ----------------------------------------------------------

    def message(self, qid: str) -> Deferred:
        return self._read(EventStore.message, qid)

    def links(self, qid: str) -> Deferred:
        return self._read(EventStore.links, qid)

    def messageEvents(self, qid: str) -> Deferred:
        return self._read(EventStore.messageEvents, qid)

    def events(self, query) -> Deferred:
        return self._read(EventStore.events, query)

    def day(self, type: str, start: float, end: float, after: int, limit: int) -> Deferred:
        return self._read(EventStore.day, type, start, end, after, limit)

    def searchMessages(self, query) -> Deferred:
        return self._read(EventStore.searchMessages, query)

    def topLinks(self, query) -> Deferred:
        return self._read(EventStore.topLinks, query)

    def tokensMark(self) -> bytes:
        """The API tokens' change mark now (read in this thread: a few bytes of shared memory)."""
        return b"" if self._marks is None else self._marks.mark("api_tokens")

    def checkToken(self, token: str) -> Deferred:
        d = self._read(do.view(TokenStore, TokenStore.lookup), token)
        return d.addCallback(self._noteTokenUse)

    def _noteTokenUse(self, record):
        if record is not None:
            name = record.name
            self._write(do.TokenUsed(name, self.clock.seconds()), awaited=False).addErrback(
                lambda f: log.warn("could not note the use of API token {name}", name=name)
            )
        return record

    def stats(self, query) -> Deferred:
        return self._read(do.view(StatsStore, StatsStore.overview), query)

    def dueWebhooks(self, now: float, limit: int, skip=frozenset()) -> Deferred:
        """
        On PostgreSQL, shared by several nodes, each delivery is taken by
        one of them (L{WebhookStore.claim}), in the writer's transaction;
        on SQLite, one node's, they are only read.
        """
        if isinstance(self.path, PostgreSQL):
            claim = do.Call(WebhookStore, WebhookStore.claim, now, limit, skip)
            return self._write(claim).addCallback(_only)
        return self._read(do.view(WebhookStore, WebhookStore.due), now, limit, skip)

    def ping(self) -> Deferred:
        return self._read(do.selectOne)

    def problems(self) -> Deferred:
        """
        What keeps the database from being read or written now, for the
        health check: a read of its schema and of the logins on a new
        connection (one of ours would answer from its cache), a turn of the
        writer (its lock taken and given back), and the failure of the
        writer's last transaction, if it failed. @return: C{Deferred[list[str]]}.
        """
        found: list[str] = []

        def failed(failure, what: str) -> None:
            why = failure.value
            if isDamaged(why):
                found.append(f"database {self.path} is damaged ({why}); restore it from a backup")
            else:
                found.append(f"database {self.path} cannot be {what}: {why}")

        read = self._readers.run(do.probeFile, self.path).addErrback(failed, "read")
        written = self._write(do.nothing).addErrback(failed, "written")

        def report(_):
            failure = self._writer.failure
            if not found and failure is not None:
                found.append(f"database {self.path}: the last write failed: {failure}")
            return list(dict.fromkeys(found))

        return read.addCallback(lambda _: written).addCallback(report)

    # ISuppressionStore -----------------------------------------------------------------

    def suppressed(self, addresses: list, now: float, login: str | None = None) -> Deferred:
        mark = self._suppressions.mark()
        found, unknown = {}, []
        for address in addresses:
            entry = self._suppressions.get((address, login))
            if entry is MISSING:
                unknown.append(address)
            elif entry is not None and (entry.expires is None or entry.expires > now):
                found[address] = entry
        if not unknown:
            return succeed(found)

        def read(more: dict) -> dict:
            for address in unknown:
                self._suppressions.keep(mark, (address, login), more.get(address))
            return found | more

        d = self._read(do.view(SuppressionStore, SuppressionStore.find), unknown, now, login)
        return d.addCallback(read)

    def suppressions(self, now: float, login: str | None = None) -> Deferred:
        return self._read(do.view(SuppressionStore, SuppressionStore.list), now, login)

    def suppress(self, address, reason, now, expires, qid, login=None) -> Deferred:
        return self._write(do.Suppress(address, reason, now, expires, qid, login)).addCallback(
            _only
        )

    def unsuppress(self, address: str, login: str | None = None) -> Deferred:
        return self._write(do.Unsuppress(address, login)).addCallback(_only)

    # IQueueRequests ---------------------------------------------------------------------

    def queueRequests(self) -> Deferred:
        return self._read(do.view(QueueRequestStore, QueueRequestStore.list))

    def queueRequestDone(self, id: int) -> Deferred:
        return self._write(do.QueueRequestDone(id)).addCallback(_only)

    def forgetQueueRequests(self, before: float) -> Deferred:
        return self._write(do.ForgetQueueRequests(before)).addCallback(_only)

    # IIdempotencyStore --------------------------------------------------------------

    def reserveIdempotencyKey(self, token: str, key: str, now: float) -> Deferred:
        return self._write(
            do.Call(IdempotencyStore, IdempotencyStore.reserve, token, key, now)
        ).addCallback(_only)

    def finishIdempotencyKey(self, token: str, key: str, status: int, body: str) -> Deferred:
        return self._write(
            do.Call(IdempotencyStore, IdempotencyStore.finish, token, key, status, body)
        ).addCallback(_only)

    def freeIdempotencyKey(self, token: str, key: str) -> Deferred:
        return self._write(
            do.Call(IdempotencyStore, IdempotencyStore.free, token, key)
        ).addCallback(_only)
