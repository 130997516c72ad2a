"""
L{ISpool} over the shared queue in PostgreSQL (L{SharedQueueDatabase}):
writes in one thread, each commit carrying every write that waited for the
one before (a group commit, as the SQLite spool makes); claims and lease
renewals in the same thread, between commits; reads in another thread, on
a connection of its own.

A C{250} waits for the commit that holds the message's row, its body and
its recipients. When PostgreSQL cannot be reached or refuses the write,
the store fails and the client gets C{451 4.3.0}; the next write connects
again, so accepting resumes by itself once the database is back.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..message import QueuedMessage
from ..runtime import Workers
from ._incoming import IncomingContent
from ._shared import SharedQueueDatabase
from ._sharedclaims import Claims, leaseClock
from ._sharedconnection import ClaimLost
from .interfaces import IClaimingSpool

log = Logger()


@implementer(IClaimingSpool)
class SharedSpool:
    """
    One worker's hand on the shared queue: C{owner} names it across the
    cluster (C{node/worker}); C{connect} makes a connection; C{lease} is
    how long a claim holds without being renewed; C{incomingDir} holds the
    bodies of messages while they are received (node-local); C{clock} is
    the local clock its leases are counted on (L{leaseClock}).
    """

    #: How long a finished message waits, when nothing else is to be
    #: written, for a write to go with (a new message's, most often) before
    #: it is committed alone: at one message per connection, the two were a
    #: commit (and a sync of PostgreSQL's log) each. A crash before its
    #: commit only repeats the delivery, as it would have a moment earlier
    #: (the message is still claimed).
    FINISH_WAIT = 0.02

    def __init__(
        self,
        connect: Callable,
        owner: str,
        node: str,
        reactor,
        lease: float = 60.0,
        incomingDir: Path | None = None,
        keepSent: float = 0,
        clock: Callable[[], float] = leaseClock,
    ) -> None:
        self.reactor = reactor
        #: The node-local directory of this worker (bodies while they arrive).
        self.root = (incomingDir or Path(tempfile.gettempdir())).parent
        self._free = 0
        self._freeAt = -1e9
        self.lease = lease
        self.owner = owner
        self._claims = Claims(lease, clock)
        self.keepSent = keepSent
        self._make = lambda reading=False: SharedQueueDatabase(
            connect, owner, node, lease, self._claims, keepSent, reading
        )
        self.incomingDir = incomingDir or Path(tempfile.gettempdir())
        self._writer: Workers | None = None
        self._reader: Workers | None = None
        self._databases: list[SharedQueueDatabase] = []
        self._waiting: list = []
        self._writing = False
        #: The commit of finished messages waiting for company (L{FINISH_WAIT}).
        self._finishing = None
        #: Lease checks asked for (L{holds}), and whether some are being read.
        self._checks: list = []
        self._checking = False
        #: Why the last store failed, if it did (cleared by one that succeeds).
        self._failing: str | None = None

    def _threadWriting(self) -> Workers:
        if self._writer is None:
            raise RuntimeError("the shared spool is not started")
        return self._writer

    def _threadReading(self) -> Workers:
        if self._reader is None:
            raise RuntimeError("the shared spool is not started")
        return self._reader

    def _open(self, reading: bool = False) -> SharedQueueDatabase:
        database = self._make(reading)
        self._databases.append(database)
        return database

    def _openReading(self) -> SharedQueueDatabase:
        return self._open(reading=True)

    def start(self) -> Deferred:
        """
        Start the threads, and release what this worker's name held before a
        restart. Bodies left half-received by a crash (never acknowledged) go.
        """
        self.incomingDir.mkdir(parents=True, exist_ok=True)
        for leftover in self.incomingDir.glob("spill-*"):
            leftover.unlink(missing_ok=True)
        self._writer = Workers(self.reactor, 1, "smtpeter-queue", self._open)
        self._reader = Workers(self.reactor, 1, "smtpeter-queue-reader", self._openReading)
        self._writer.start()
        self._reader.start()
        return self._threadWriting().run(SharedQueueDatabase.forgetPredecessor)

    def stop(self) -> None:
        """Commit what waits, end the threads, close the connections."""
        self._cancelFinishing()
        for workers in (self._writer, self._reader):
            if workers is not None:
                workers.stop()
        waiting, self._waiting = self._waiting, []
        writing = [database for database in self._databases if not database.reading]
        if waiting and writing:
            self._answer(waiting, writing[0].apply([w for w, _ in waiting]))
        self._writer = self._reader = None
        checks, self._checks = self._checks, []
        for _, d in checks:
            d.callback(False)  # not read: the delivery stops short of its final dot
        for database in self._databases:
            database.close()
        self._databases = []

    # ISpool -----------------------------------------------------------------

    def incoming(self) -> IncomingContent:
        return IncomingContent(self._spill)

    def _spill(self):
        path = self.incomingDir / f"spill-{os.urandom(8).hex()}"
        return path, open(path, "wb")

    def store(self, message: QueuedMessage) -> Deferred:
        return self._write(("store", message))

    def recordStates(self, qid: str, states: dict) -> Deferred:
        return self._write(("states", qid, dict(states)))

    def release(self, qid: str, states: dict, due: float | None) -> Deferred:
        return self._write(("release", qid, dict(states), due))

    def remove(self, qid: str) -> Deferred:
        return self._write(("finish", qid, self.reactor.seconds()))

    def readContent(self, qid: str) -> Deferred:
        return self._threadReading().run(SharedQueueDatabase.readContent, qid)

    def load(self) -> Deferred:
        return succeed([])

    def purge(self) -> Deferred:
        """
        Forget the finished messages kept long enough (with C{keepSent} 0,
        those kept before it was: nothing else is kept then). @return:
        C{Deferred[int]}, how many.
        """
        before = self.reactor.seconds() - self.keepSent * 86400
        return self._purgeFrom(before, 0)

    def _purgeFrom(self, before: float, total: int) -> Deferred:
        # A chunk at a time: the writer's other work waits for one small transaction at most.
        d = self._threadWriting().run(SharedQueueDatabase.purgeSent, before)
        return d.addCallback(lambda n: self._purgeFrom(before, total + n) if n else total)

    # IClaimingSpool ---------------------------------------------------------

    def claim(self, limit: int) -> Deferred:
        return self._threadWriting().run(SharedQueueDatabase.claim, limit)

    def claimOne(self, qid: str, held: bool = False) -> Deferred:
        return self._threadWriting().run(SharedQueueDatabase.claimOne, qid, held)

    def claimHeld(self, before: float, limit: int) -> Deferred:
        return self._threadWriting().run(SharedQueueDatabase.claimHeld, before, limit)

    def renew(self) -> Deferred:
        return self._threadWriting().run(SharedQueueDatabase.renew).addErrback(self._doubt)

    def _doubt(self, failure: Failure) -> Failure:
        """
        The database failed: be sure of no claim until it confirms them
        again, so that while it is away deliveries stop before their final
        dot rather than end with an outcome that cannot be recorded.
        """
        self._claims.doubt()
        return failure

    def holds(self, qid: str) -> Deferred:
        """
        Whether this worker's claim on C{qid} still holds: at once if the
        database confirmed it recently enough to be sure (L{Claims.sure});
        otherwise read from the database after this call, with the other
        checks asked for while the one before was read (one statement for
        them all).
        """
        self._threadReading()  # (raises if the spool is not started)
        if self._claims.sure(qid):
            return succeed(True)
        d: Deferred[bool] = Deferred()
        self._checks.append((qid, d))
        self._checkNext()
        return d

    def _checkNext(self) -> None:
        if self._checking or not self._checks or self._reader is None:
            return
        checks, self._checks = self._checks, []
        self._checking = True
        qids = list(dict.fromkeys(qid for qid, _ in checks))
        d = self._threadReading().run(SharedQueueDatabase.holding, qids)
        d.addBoth(self._checked, checks)

    def _checked(self, held, checks: list) -> None:
        self._checking = False
        if isinstance(held, Failure):
            self._doubt(held)
        for qid, d in checks:
            if isinstance(held, Failure):
                d.errback(held)
            else:
                d.callback(qid in held)
        self._checkNext()

    def stateCounts(self) -> Deferred:
        """C{Deferred[dict[str, int]]}: the whole cluster's queue by state (for the gauges)."""
        return self._threadReading().run(SharedQueueDatabase.stateCounts)

    def freeBytes(self) -> int:
        """Free space where bodies arrive, asked at most once a second (it is checked per MAIL)."""
        now = time.monotonic()
        if now - self._freeAt >= 1.0:
            stat = os.statvfs(self.incomingDir)
            self._free, self._freeAt = stat.f_bavail * stat.f_frsize, now
        return self._free

    def holding(self) -> int:
        """How many messages this worker holds now."""
        return len(self._claims)

    # Health -----------------------------------------------------------------

    def problems(self) -> list[str]:
        if self._failing is not None:
            return [f"shared queue: the last store failed: {self._failing}"]
        return []

    # Group commits ----------------------------------------------------------

    def _write(self, work: tuple) -> Deferred:
        d: Deferred[None] = Deferred()
        self._waiting.append((work, d))
        if work[0] == "finish" and all(w[0] == "finish" for w, _ in self._waiting):
            # Alone: it waits a little for company (or for the commit in flight).
            if self._finishing is None and not self._writing:
                self._finishing = self.reactor.callLater(self.FINISH_WAIT, self._finishWaited)
            return d
        self._commitNext()
        return d

    def _finishWaited(self) -> None:
        self._finishing = None
        self._commitNext()

    def _cancelFinishing(self) -> None:
        if self._finishing is not None and self._finishing.active():
            self._finishing.cancel()
        self._finishing = None

    def _commitNext(self) -> None:
        if self._writing or not self._waiting or self._writer is None:
            return
        self._cancelFinishing()
        waiting, self._waiting = self._waiting, []
        self._writing = True
        d = self._threadWriting().run(SharedQueueDatabase.apply, [w for w, _ in waiting])
        d.addBoth(self._committed, waiting)

    def _committed(self, results, waiting: list) -> None:
        self._writing = False
        if isinstance(results, Failure):
            results = [results] * len(waiting)
        if any(r is not None and not isinstance(r, ClaimLost) for r in results):
            self._claims.doubt()
        self._answer(waiting, results)
        self._commitNext()

    def _answer(self, waiting: list, results: list) -> None:
        for (work, d), result in zip(waiting, results, strict=True):
            if work[0] == "store":
                self._failing = None if result is None else str(getattr(result, "value", result))
            if result is None:
                d.callback(None)
            elif isinstance(result, ClaimLost):
                d.errback(Failure(result))
            else:
                d.errback(result if isinstance(result, Failure) else Failure(result))
