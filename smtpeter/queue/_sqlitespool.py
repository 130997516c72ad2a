"""
The spool in SQLite, asynchronously (L{SQLiteSpool}, the L{ISpool} the
gateway runs): writes go to one L{BatchWriter} thread, so that the stores
of every session waiting meanwhile share its next commit (and its sync),
and only once the commit holding a message is done is the message
reported stored; reads of content go to another thread, on a connection
of their own. A spool found lost (L{smtpeter.queue._spoollost}) refuses
every store from then on, and says so once, loudly.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from pathlib import Path
from typing import cast

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..message import QueuedMessage
from ..runtime import DATABASE_COMMIT_SECONDS, LATER, BatchWriter, Workers, explain
from ._database import SpoolDatabase
from ._incoming import IncomingContent, Spilled
from ._spoollost import SpoolUnusable
from .interfaces import ISpool

log = Logger()


@implementer(ISpool)
class SQLiteSpool:
    """
    L{ISpool} over L{SpoolDatabase}: writes in one thread, each commit
    carrying every write that waited for the one before; reads of content
    in another thread, on a connection of their own.
    """

    def __init__(self, root: Path, reactor: IReactorFromThreads, keepSent: float = 0) -> None:
        """C{reactor} is Twisted's: its threads hand results back to it, and it is the clock."""
        self.root = root
        self.reactor = reactor
        self.clock = cast(IReactorTime, reactor)
        self.database = SpoolDatabase(root, keepSent)
        # Removals (nothing waits for them) linger up to LATER for a store to ride along.
        self._writer = BatchWriter(
            reactor,
            "smtpeter-spool",
            lambda: self.database,
            self._apply,
            linger=LATER,
            dropped=self._notFinished,
        )
        self._reader = Workers(reactor, 1, "smtpeter-spool-reader", self._openReader)
        self._free = 0
        self._freeAt = -1e9
        #: The reading thread's connection (closed by L{stop}).
        self._readers: list[SpoolDatabase] = []
        #: Why the last store failed, if it did (cleared by one that succeeds).
        self._failing: str | None = None
        self._reportedLost = False

    def _openReader(self) -> SpoolDatabase:
        reader = self.database.reader()
        self._readers.append(reader)
        return reader

    def start(self) -> None:
        try:
            self.database.prepare()
        except sqlite3.Error as e:
            # One line at start (a damaged or unreadable database), not a traceback.
            self.database.close()
            raise OSError(errno.EIO, explain(self.database.path, e)) from e
        self._writer.start()
        self._reader.start()

    def stop(self) -> None:
        """Commit what waits, end the threads, close the database."""
        self._writer.stop()
        self._reader.stop()
        for reader in self._readers:
            reader.close()
        self._readers = []
        self.database.close()

    def incoming(self) -> IncomingContent:
        return IncomingContent(self._spill)

    def _spill(self):
        path = self.database.incoming / f"spill-{os.urandom(8).hex()}"
        return path, open(path, "wb")

    def store(self, message: QueuedMessage) -> Deferred:
        if isinstance(message.content, Spilled):
            d = self._reader.run(SpoolDatabase.writeLarge, message)
            return d.addCallback(lambda _: self._writer.write(("store", message)))
        return self._writer.write(("store", message))

    def recordStates(self, qid: str, states: dict) -> Deferred:
        return self._writer.write(("states", qid, dict(states)))

    def remove(self, qid: str) -> Deferred:
        # Nothing waits for it: it joins the next commit (a crash before that
        # only repeats the message's deliveries).
        self._writer.post(("finish", qid, self.clock.seconds()))
        return succeed(None)

    def readContent(self, qid: str) -> Deferred:
        return self._reader.run(SpoolDatabase.readContent, qid)

    def load(self) -> Deferred:
        # After every write given before it, removals included.
        return self._writer.run(SpoolDatabase.load)

    def purge(self) -> Deferred:
        """Forget the finished messages kept long enough. @return: C{Deferred[int]}, how many."""
        if not self.database.keepSent:
            return succeed(0)
        return self._purgeFrom(0)

    def _purgeFrom(self, total: int) -> Deferred:
        # A chunk at a time, so stores wait for one small transaction at most.
        d = self._writer.run(SpoolDatabase.purge, self.clock.seconds())
        return d.addCallback(
            # Until a chunk finds nothing (one short read more than needed).
            lambda n: self._purgeFrom(total + n) if n else total
        )

    def freeBytes(self) -> int:
        """Free space, asked of the file system at most once a second (it is checked per MAIL)."""
        now = time.monotonic()
        if now - self._freeAt >= 1.0:
            self._free, self._freeAt = self.database.freeBytes(), now
        return self._free

    def _apply(self, database: SpoolDatabase, work: list[tuple]) -> list:
        """
        In the writer's thread: L{SpoolDatabase.apply}, keeping the last
        store's outcome for L{problems} (before anyone is answered), and
        saying once, loudly, if the spool is lost.
        """
        with DATABASE_COMMIT_SECONDS.time():
            results = database.apply(work)
        for item, result in zip(work, results, strict=True):
            if item[0] == "store":
                self._failing = None if result is None else str(result)
                if isinstance(result, SpoolUnusable) and not self._reportedLost:
                    self.reactor.callFromThread(self._lostFound)
        return results

    def _notFinished(self, item: tuple, failure: Failure) -> None:
        log.warn(
            "could not mark {qid} finished in the spool: {why}", qid=item[1], why=failure.value
        )

    def _lostFound(self) -> None:
        """
        Say once, loudly, that the spool's database is lost, once what it
        held is saved (the writer saves it when a store finds the loss; when
        the health check finds it first, it is saved now).
        """
        if self._reportedLost:
            return
        self._reportedLost = True
        if self.database.salvaged is None and self._writer.thread is not None:
            d = self._writer.run(SpoolDatabase.salvage)
            d.addErrback(lambda f: log.failure("saving the lost spool failed", f))
            d.addBoth(lambda _: self._logLost())
        else:
            self._logLost()

    def _logLost(self) -> None:
        saved = self.database.salvaged
        log.critical(
            "the spool database {path} is gone: {why}. Every new message is refused with"
            " 451 4.3.0 until the gateway is restarted. {saved}",
            path=str(self.database.path),
            why=self.database.lost(),
            saved=(
                f"What it held (the queue) is saved as {saved}, again when the gateway"
                " stops; a restart resumes it."
                if saved == self.database.path
                else f"What it held (the queue) is saved as {saved}, again when the gateway"
                f" stops: stop the gateway, put it in place of {self.database.path} (and"
                " delete its -wal and -shm files), then start it."
                if saved is not None
                else "What it held could not be saved (see above): messages still queued"
                " are lost at the next start."
            ),
        )

    def problems(self) -> list[str]:
        """
        Why this spool cannot take mail now, if it cannot (for the health
        check): its database deleted or replaced, or its last store failed.
        """
        lost = self.database.lost()
        if lost is not None:
            self._lostFound()
            saved = self.database.salvaged
            return [
                f"spool database: {lost}; mail is refused until the gateway is restarted"
                + (f" (what it held is saved as {saved}, which a restart resumes)" if saved else "")
            ]
        if self._failing is not None:
            return [f"spool database {self.database.path}: the last store failed: {self._failing}"]
        return []
