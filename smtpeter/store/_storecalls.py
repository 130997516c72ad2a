"""
How L{SQLiteStore<smtpeter.store._sqlite.SQLiteStore>}'s methods reach
its threads: a read in a reading thread that sees every write given before
it, a write in the writer's next transaction. Its parts per interface
(L{smtpeter.store._storelogins}, L{smtpeter.store._storethrottle}) are
mixins of this class.
"""

from __future__ import annotations

from collections.abc import Hashable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from ..runtime import Workers
from . import _commands as do
from ._changes import Remembered, _Row
from ._writer import Writer


class ThreadedCalls:
    """The threads of a store, and the two ways to hand them work."""

    clock: IReactorTime
    _writer: Writer
    #: Reading threads, each with an C{EventStore} on its own connection.
    _readers: Workers
    #: The AUTH throttle's thread, with a C{ThrottleStore} (L{smtpeter.store._storethrottle}).
    _throttle: Workers

    def _read(self, method, *args) -> Deferred:
        """
        C{method(store, *args)} in a reading thread, on its own connection;
        it sees every write given to the writer before it (a bounce that
        comes right after its message was accepted finds the message), as
        a read first waits for those, if any, to be committed.
        """
        if self._writer.unanswered:
            return self._write(do.nothing).addCallback(lambda _: self._readers.run(method, *args))
        return self._readers.run(method, *args)

    def _write(self, work, awaited: bool = True) -> Deferred:
        """
        Do C{work} in the writer's next transaction; fire once it is
        committed. Without C{awaited} (nothing is held up until it is
        committed), a busy writer lets it wait up to L{LINGER} for company.
        """
        return self._writer.write(work, awaited)


def only(results: list):
    """The result of a write's one piece of work."""
    return results[0]


def kept(row: _Row, remembered: Remembered[_Row], mark: bytes, key: Hashable) -> _Row:
    """C{row}, read after C{mark} was, kept by C{remembered} (unless its table changed since)."""
    remembered.keep(mark, key, row)
    return row
