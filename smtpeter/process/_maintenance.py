"""
A gateway's hourly housekeeping: finished messages out of its spool (each
node purges its own), and, in the one process that runs the shared tasks,
events older than the retention period and the sent archive of the
versions that kept finished messages as files.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.threads import deferToThread
from twisted.logger import Logger

from ..config import Config
from ..queue import SentArchive, SharedSpool, SQLiteSpool, sentDirectory
from ..store import SQLiteStore

log = Logger()


def purgeSpool(spool: SQLiteSpool | SharedSpool) -> Deferred[object]:
    """Purge the spool's finished messages; failures are logged."""

    def purged(n: int) -> None:
        if n:
            log.info("purged {n} finished message(s) from the spool", n=n)

    d = spool.purge()
    d.addCallback(purged)
    d.addErrback(lambda f: log.failure("purging the spool failed", f))
    return d


def purgeOld(
    config: Config,
    reactor: IReactorTime,
    store: SQLiteStore,
    inThread: Callable[..., Deferred[int]] = deferToThread,
) -> Deferred[object]:
    """
    Purge the events older than C{--retention}, and the old sent archive
    (its files are removed C{inThread}); failures are logged. @return: the
    events' purge, done.
    """
    # The sent archive of versions that kept finished messages as files.
    archive = SentArchive(sentDirectory(config.data), config.keepSent)
    kept = inThread(archive.purge, reactor.seconds())
    kept.addErrback(lambda f: log.failure("purging the sent archive failed", f))
    before = reactor.seconds() - config.retention.total_seconds()

    def purged(n: int) -> None:
        if n:
            log.info("purged {n} event(s) older than {days} days", n=n, days=config.retention.days)

    d = store.purge(before)
    d.addCallback(purged)
    d.addErrback(lambda f: log.failure("purging old events failed", f))
    return d
