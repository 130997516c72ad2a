"""
The shared queue's connection to PostgreSQL: made (again, after one was
lost), its transactions, and work done once more on a new connection when
the old one was found gone before anything was committed. The fencing
token's exception and the database's clock are here too, for the queue's
rows (L{smtpeter.queue._shared}) to use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ..runtime import withConnectionDefaults

T = TypeVar("T")

#: The database's clock, in epoch seconds.
NOW = "extract(epoch from clock_timestamp())"


#: A queue statement that takes longer is PostgreSQL's trouble (a lock held
#: too long, say): it fails, and its work is done again (or refused: 451).
STATEMENT_TIMEOUT = "30s"


#: How PostgreSQL compresses the bodies this connection stores: LZ4 takes
#: a fraction of the CPU of its default (pglz), which was a third of
#: PostgreSQL's CPU per message (a 10 KB body: 170 us of 470).
TOAST_COMPRESSION = "lz4"


def connectQueue(uri: str):
    """
    A connection for the shared queue to the database at C{uri} (libpq's
    URI; its environment variables and C{.pgpass} fill in the rest).
    """
    import psycopg

    db = psycopg.connect(withConnectionDefaults(uri))
    db.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
    db.execute("SET idle_in_transaction_session_timeout = '60s'")
    # Every statement of the queue finds its rows by a key (an index): the
    # queue's tables are small and full of dead rows (each message inserted
    # and deleted), which a sequential scan (the planner's choice for a small
    # table, and for a join with an array) reads and prunes every time. And
    # its statements are planned once: a statement that takes arrays was
    # planned again at every execution (the plan for its arrays looked
    # cheaper than the generic one), which cost more than it ran.
    db.execute("SET enable_seqscan = off")
    db.execute("SET plan_cache_mode = force_generic_plan")
    # No JIT compilation: with sequential scans off, a statement that has
    # to read the whole table (the queue's gauges, every few seconds) looks
    # costly enough to PostgreSQL to be compiled with LLVM at every run,
    # which took 10 ms of its CPU for a query of a millisecond.
    db.execute("SET jit = off")
    db.commit()
    try:
        db.execute(f"SET default_toast_compression = {TOAST_COMPRESSION}")
        db.commit()
    except psycopg.errors.InvalidParameterValue:
        db.rollback()  # a PostgreSQL built without it: its default (pglz)
    return db


class ClaimLost(Exception):
    """
    The message is no longer this worker's: its lease ran out and another
    worker claimed it (or an administrator deleted it). What this worker
    did with it is not recorded; the new owner works from the last state
    recorded.
    """

    def __init__(self, qid: str) -> None:
        super().__init__(f"{qid}: claimed by another worker; this outcome is not recorded")
        self.qid = qid


def again(method: Callable[..., T]) -> Callable[..., T]:
    """The method, done once more on a new connection if the old one was found gone."""

    @functools.wraps(method)
    def run(self: QueueConnection, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except Exception as e:
            if not self._lostBeforeCommit(e):
                raise
        return method(self, *args, **kwargs)

    return run


class QueueConnection:
    """
    One thread's connection to the shared queue (C{connect} makes it), in
    autocommit: a transaction is begun explicitly (L{_transaction}), so
    that a pipeline can carry its BEGIN with its statements (psycopg waits
    for the BEGIN it sends itself: a round trip of its own), and a write
    that is one statement needs neither. C{reading}: the connection of the
    spool's reading thread.
    """

    def __init__(self, connect: Callable, reading: bool = False) -> None:
        self.reading = reading
        self._connect = connect
        self._db: Any = None
        self._committing = False

    @property
    def db(self):
        """The connection, made again after one was lost."""
        if self._db is None or self._db.closed or self._db.broken:
            from psycopg.pq import TransactionStatus

            self._db = self._connect()
            # One lent while in a transaction (db copy's) is used as it is.
            if self._db.info.transaction_status == TransactionStatus.IDLE:
                self._db.autocommit = True
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """
        One transaction on the connection: begun, committed at the end of
        the block, rolled back if it raises. L{_committing} tells a failure
        of the commit (which may have happened) from one before it (which
        did nothing).
        """
        from psycopg.pq import TransactionStatus

        db = self.db
        self._committing = False
        if db.info.transaction_status != TransactionStatus.IDLE:
            # One lent in a transaction (db copy's): a savepoint of it, which
            # its owner commits with the rest.
            with db.transaction():
                yield
            return
        try:
            db.execute("BEGIN")
            yield
        except BaseException:
            self._rollback()
            raise
        self._committing = True
        db.commit()
        self._committing = False

    def _rollback(self) -> None:
        """End a transaction that failed, unless its connection is gone."""
        if self._db is not None and not self._db.broken:
            self._db.rollback()

    def _fresh(self) -> bool:
        """
        Whether the connection, idle between transactions, has nothing to
        read: a connection PostgreSQL closed while it was idle (a restart)
        has its end of file or a last error waiting. Only on a fresh one is
        work sent without a BEGIN answered first: a loss found after that
        may have been a commit (L{_lostAfterSending}).
        """
        import select

        db = self.db
        poller = select.poll()
        poller.register(db.pgconn.socket, select.POLLIN)
        return not poller.poll(0)

    def _lostAfterSending(self) -> bool:
        """
        Whether the connection was found gone once the commit, or a write
        that is its own transaction, was sent: it may have been done.
        """
        return self._committing and self._db is not None and self._db.broken

    def _lostBeforeCommit(self, error: BaseException) -> bool:
        """
        Whether C{error} is the connection found gone (PostgreSQL restarted,
        say) before any commit: nothing was done, and it may all be done
        again on a new connection.
        """
        import psycopg

        return (
            isinstance(error, psycopg.OperationalError)
            and not self._committing
            and self._db is not None
            and self._db.broken
        )
