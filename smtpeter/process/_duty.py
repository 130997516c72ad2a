"""
Work that one worker of the whole cluster does at a time: purges, expiry of
held mail, webhook dispatch and retries. The services that do it run
while their worker holds the duty's lease, and stop when it is lost;
another worker takes the lease over once it runs out (its holder died).

On one machine (SQLite) the first worker always holds it (L{Always}); a
cluster keeps the lease in PostgreSQL (L{PostgresDuty}), on the database's
clock.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import Interface, implementer

from ..runtime import RepeatedErrors, Workers

log = Logger()
repeated = RepeatedErrors(log)


class IDutyLease(Interface):
    """Who does a duty of the cluster."""

    def take(owner: str, seconds: float):
        """
        Take the duty for C{owner} for C{seconds}, or keep it if C{owner}
        holds it. @return: C{Deferred[bool]}, whether C{owner} holds it now.
        """

    def give(owner: str):
        """Give the duty up, if C{owner} holds it. @return: C{Deferred[None]}."""


@implementer(IDutyLease)
class Always:
    """A duty this worker always holds: the only node, and its chosen worker."""

    def take(self, owner: str, seconds: float):
        return succeed(True)

    def give(self, owner: str):
        return succeed(None)


@implementer(IDutyLease)
class MemoryDuty:
    """A duty's lease in memory, shared by the workers of a test, on C{clock}."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.owner: str | None = None
        self.until = 0.0

    def take(self, owner: str, seconds: float):
        now = self.clock.seconds()
        if self.owner in (None, owner) or self.until < now:
            self.owner, self.until = owner, now + seconds
        return succeed(self.owner == owner)

    def give(self, owner: str):
        if self.owner == owner:
            self.owner = None
        return succeed(None)


_TAKE = (
    "INSERT INTO cluster_duties (name, owner, lease_until)"
    " VALUES (%(name)s, %(owner)s, extract(epoch from clock_timestamp()) + %(seconds)s)"
    " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until"
    " WHERE cluster_duties.owner = excluded.owner"
    " OR cluster_duties.lease_until < extract(epoch from clock_timestamp())"
    " RETURNING owner"
)


class _DutyDatabase:
    def __init__(self, connect: Callable) -> None:
        self.connect = connect
        self.db = None

    def _connection(self):
        if self.db is None or self.db.closed or self.db.broken:
            self.db = self.connect()
            self.db.autocommit = True
        return self.db

    def take(self, name: str, owner: str, seconds: float) -> bool:
        row = (
            self._connection()
            .execute(_TAKE, {"name": name, "owner": owner, "seconds": seconds})
            .fetchone()
        )
        return row is not None

    def give(self, name: str, owner: str) -> None:
        self._connection().execute(
            "DELETE FROM cluster_duties WHERE name = %s AND owner = %s", (name, owner)
        )

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


@implementer(IDutyLease)
class PostgresDuty:
    """The duty C{name}'s lease in the shared database, asked in a thread of its own."""

    def __init__(self, reactor, connect: Callable, name: str) -> None:
        self.name = name
        self._database = _DutyDatabase(connect)
        self._thread = Workers(reactor, 1, f"smtpeter-duty-{name}", lambda: self._database)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._thread.stop()
        self._database.close()

    def take(self, owner: str, seconds: float):
        return self._thread.run(_DutyDatabase.take, self.name, owner, seconds)

    def give(self, owner: str):
        return self._thread.run(_DutyDatabase.give, self.name, owner)


class OncePerCluster(MultiService):
    """
    Runs its child services while C{owner} holds C{lease} (an
    L{IDutyLease}), asking every third of C{seconds}.
    """

    def __init__(self, lease, owner: str, clock, seconds: float = 60.0) -> None:
        super().__init__()
        self.lease = lease
        self.owner = owner
        self.seconds = seconds
        self.holding = False
        self._loop = LoopingCall(self._ask)
        self._loop.clock = clock

    def startService(self) -> None:
        # The children start only with the lease.
        self.running = 1
        self._loop.start(self.seconds / 3, now=True)

    def stopService(self) -> Deferred:
        self.running = 0
        if self._loop.running:
            self._loop.stop()
        held = self.holding
        d = self._let(False) or succeed(None)
        if held:
            d.addCallback(lambda _: self.lease.give(self.owner))
        d.addErrback(lambda f: log.failure("giving up the cluster's duties failed", f))
        return d

    def _ask(self) -> Deferred:
        d = self.lease.take(self.owner, self.seconds)
        d.addCallback(self._let)
        d.addErrback(self._failed)
        return d

    def _failed(self, failure) -> None:
        # Cannot tell: to be safe, stop (the lease runs out elsewhere too).
        repeated.failure("renewing the cluster's duties failed", failure)
        self._let(False)

    def _let(self, held: bool) -> Deferred | None:
        if not self.running:
            held = False
        if held == self.holding:
            return None
        self.holding = held
        if held:
            log.info("{owner} now does the cluster's periodic work", owner=self.owner)
            for service in self:
                service.startService()
            return None
        return MultiService.stopService(self)
