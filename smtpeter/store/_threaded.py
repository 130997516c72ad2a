"""
L{ILoginStore} over SQLite, run in one dedicated thread: SQLite connections
are cheapest used from one thread, and password hashing runs in a separate,
bounded pool so a burst of AUTH attempts cannot starve queries.
"""

from __future__ import annotations

from pathlib import Path

from attrs import define, field
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from ._logins import LoginRecord, LoginStore, connect
from .interfaces import ILoginStore


@implementer(ILoginStore)
@define
class ThreadedLoginStore:
    """The gateway's login store; start with L{start}, end with L{stop}."""

    path: Path
    reactor: object
    hashThreads: int = 2
    _pool: ThreadPool | None = field(default=None, init=False)
    _store: LoginStore | None = field(default=None, init=False)

    def start(self) -> None:
        self._store = LoginStore(connect(self.path))
        self._pool = ThreadPool(1, self.hashThreads, name="smtpeter-logins")
        self._pool.start()

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool = None

    def _run(self, f, *args):
        return deferToThreadPool(self.reactor, self._pool, f, *args)

    def authenticate(self, name: str, password: str):
        # The connection is opened check_same_thread=False and used under
        # SQLite's own serialisation; each call is one short statement.
        return self._run(self._store.authenticate, name, password)

    def count(self):
        return self._run(self._store.count)


@implementer(ILoginStore)
class MemoryLoginStore:
    """An in-memory L{ILoginStore} for tests; passwords are kept in clear."""

    def __init__(self) -> None:
        self.logins: dict[str, tuple[LoginRecord, str]] = {}

    def add(self, name: str, password: str, features=(), enabled: bool = True) -> LoginRecord:
        record = LoginRecord(name, enabled, frozenset(features), 0.0, None, "")
        self.logins[name] = (record, password)
        return record

    def authenticate(self, name: str, password: str):
        from twisted.internet.defer import succeed

        entry = self.logins.get(name)
        if entry is None or entry[1] != password or not entry[0].enabled:
            return succeed(None)
        return succeed(entry[0])

    def count(self):
        from twisted.internet.defer import succeed

        return succeed(len(self.logins))
