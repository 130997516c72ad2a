"""
The PostgreSQL engine: everything about the shared database that only
PostgreSQL says this way, under the names L{smtpeter.store._engine} gives
SQLite's (the connection's set-up, the write transaction, the JSON field
accessors, the error classes and their classification, the tables it
holds). The stores' SQL is the same for both: written with C{?} marks,
which L{Connection} turns into psycopg's, and in the dialect both read.

Connections are psycopg 3's, synchronous, in the threads the stores
already own, in autocommit mode with explicit C{BEGIN}/C{COMMIT} as the
SQLite engine's. A connection connects at its first statement, and again
at its next one outside a transaction after it broke (PostgreSQL
restarted, the network gone): a read or a BEGIN that finds it broken goes
again on the new one, a write fails (it may have been done); inside a
transaction every statement fails until its ROLLBACK.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors
from psycopg.adapt import Dumper
from psycopg.pq import TransactionStatus

from ..runtime import withConnectionDefaults
from ._postgreschanges import CHANNEL, markedHere

#: Which of the schema's dialect-specific steps (C{NNN_name.postgres.sql}) apply.
DIALECT = "postgres"

#: Any error of the database: catch this, not the driver's classes.
DatabaseError = psycopg.Error
#: A row that breaks a constraint (a name or key taken already).
Conflict = errors.IntegrityError

#: The case-blind LIKE (SQLite's LIKE is, for ASCII; PostgreSQL's is not).
LIKE = "ILIKE"

#: What L{classify} answers (the same words as the SQLite engine's).
CONFLICT, DAMAGED, FULL, BUSY, OTHER = "conflict", "damaged", "full", "busy", "other"

#: The advisory lock every write transaction of the stores takes (L{begin}):
#: they run one at a time across the cluster, as SQLite's do on one machine
#: (an open's number, the throttle's count and ban, read then written).
WRITE_LOCK = zlib.crc32(b"smtpeter write") - 2**31
#: The advisory lock under which the schema is created and upgraded.
SCHEMA_LOCK = zlib.crc32(b"smtpeter schema") - 2**31

#: How long a statement may take, and a transaction stay idle, before the
#: server ends it (a node that hangs mid-transaction must not hold locks).
TIMEOUTS = {"statement_timeout": "300s", "idle_in_transaction_session_timeout": "60s"}


class _IntegerBool(Dumper):
    """Python booleans as the integers 0 and 1, as SQLite keeps them (flags are INTEGER)."""

    oid = psycopg.postgres.types["int4"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """
    The statement with psycopg's marks: each C{?} outside a string literal
    becomes C{%s}, and a literal C{%} is doubled.
    """
    parts = sql.replace("%", "%%").split("'")
    # Even parts are outside quotes ('' inside a literal splits into an empty odd part).
    return "'".join(part.replace("?", "%s") if i % 2 == 0 else part for i, part in enumerate(parts))


#: The statements that go again on a new connection when they find theirs gone.
_AGAIN = ("SELECT", "BEGIN")


class Connection:
    """
    A connection to PostgreSQL with the calls the stores make of SQLite's
    (C{execute}, C{executemany}, C{in_transaction}, C{close}), and the
    change notes of L{smtpeter.store._changes.Database} (published with
    C{NOTIFY} after the transaction that made them).
    """

    #: Connections of this engine keep no change-marks file.
    marks = None

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._unpublished: frozenset = frozenset()
        #: Made at the first statement, and again after it broke.
        self._raw: psycopg.Connection | None = None
        #: Between our BEGIN and its COMMIT or ROLLBACK (whatever became of the connection).
        self._transaction = False
        #: The psycopg pipeline statements are queued in (L{pipelined}), if any.
        self._pipeline: psycopg.Pipeline | None = None

    def _connection(self) -> psycopg.Connection:
        raw = self._raw
        if raw is None or raw.closed or raw.broken:
            if self._transaction:
                # Never the rest of a transaction on a new connection, in autocommit.
                raise psycopg.OperationalError("the connection was lost during the transaction")
            self._raw = raw = _open(self.uri)
        return raw

    def execute(self, sql: str, parameters=(), marked: bool = False) -> Any:
        """
        A psycopg cursor (C{None} for the ROLLBACK of a connection that was
        lost). With C{marked}, C{sql} has psycopg's own marks (C{%s}, and
        C{%b}, binary: arrays whose text would need escaping, JSON say).
        """
        word = sql.lstrip()[:8].upper()
        if word.startswith(("COMMIT", "ROLLBACK")):
            lost = self._raw is None or self._raw.broken or self._raw.closed
            self._transaction = False
            if lost and word.startswith("ROLLBACK"):
                return None  # the server rolled it back when the connection went
        raw = self._connection()
        if not parameters:
            query, arguments = sql, None
        else:
            query, arguments = (sql if marked else translate(sql)), tuple(parameters)
        try:
            cursor = raw.execute(query, arguments)
        except psycopg.OperationalError:
            # A statement that found the connection gone (idle since
            # PostgreSQL restarted, say) goes again on a new one if it did
            # nothing yet: a read, or the BEGIN of a transaction. A write is
            # not (it may have been done), nor anything inside a transaction.
            if self._transaction or not raw.broken or not word.startswith(_AGAIN):
                raise
            cursor = self._connection().execute(query, arguments)
        if word.startswith("BEGIN"):
            self._transaction = True  # (a BEGIN that failed began nothing)
        if self._pipeline is not None:
            return _Queued(cursor, self._pipeline)
        return cursor

    def executemany(self, sql: str, rows) -> Any:
        rows = list(rows)
        if len(rows) == 1:  # one round trip, not executemany's pipeline and its sync
            return self.execute(sql, rows[0])
        cursor = self._connection().cursor()
        cursor.executemany(translate(sql), [tuple(row) for row in rows])
        return cursor

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        """
        The statements of the block are sent together (a psycopg pipeline),
        not one round trip each: the block waits for the server only where
        it reads a result (a row, a row count), and at its end, which
        raises the error of any statement that failed. Not for statements
        whose error the block itself catches (it is raised later).
        """
        with self._connection().pipeline() as pipeline:
            self._pipeline = pipeline
            try:
                yield
            finally:
                self._pipeline = None

    @property
    def in_transaction(self) -> bool:
        if self._raw is None or self._raw.broken or self._raw.closed:
            return self._transaction
        return self._raw.info.transaction_status in (
            TransactionStatus.INTRANS,
            TransactionStatus.INERROR,
            TransactionStatus.ACTIVE,
        )

    def changed(self, table: str) -> None:
        if self.in_transaction:
            self._unpublished |= {table}
        else:
            self._notify({table})

    def publish(self) -> None:
        """After a transaction: tell the other connections what it changed."""
        tables, self._unpublished = self._unpublished, frozenset()
        if tables:
            self._notify(tables)

    def _notify(self, tables: Collection[str]) -> None:
        # Outside any transaction: NOTIFY in a writing transaction takes a
        # lock on the whole cluster's notification queue at its commit.
        markedHere(self.uri, tables)
        try:
            for table in sorted(tables):
                self.execute(f"SELECT pg_notify('{CHANNEL}', ?)", (table,))
        except DatabaseError:
            pass  # those who listen read the tables again when they reconnect

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()


class _Queued:
    """
    A cursor whose statement is queued in a pipeline: psycopg waits for
    its result when a row is fetched, not when its row count is read, so
    this does (the stores read C{rowcount} as of SQLite's cursors).
    """

    def __init__(self, cursor: psycopg.Cursor, pipeline: psycopg.Pipeline) -> None:
        self._cursor, self._pipeline = cursor, pipeline

    @property
    def rowcount(self) -> int:
        if self._cursor.pgresult is None:
            self._pipeline.sync()
        return self._cursor.rowcount

    def __iter__(self):
        return iter(self._cursor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def _open(uri: str) -> psycopg.Connection:
    raw = psycopg.connect(withConnectionDefaults(uri), autocommit=True)
    raw.adapters.register_dumper(bool, _IntegerBool)
    # Set here, not as the URI's options: those stay the user's (a search_path, say).
    for name, value in TIMEOUTS.items():
        raw.execute(f"SET {name} = '{value}'")
    return raw


def connect(uri: str) -> Connection:
    """
    A connection to the database at C{uri} (a libpq URI or connection
    string; libpq's environment variables and C{.pgpass} fill in the
    rest). It holds no tables until L{smtpeter.store.upgrade} has brought
    it to the current version. It connects at its first statement, which
    raises L{DatabaseError} if PostgreSQL cannot be reached or refuses us
    (as a thread's connection made while PostgreSQL is away would, and
    works again once it is back).
    """
    return Connection(uri)


def copying(db: Connection, statement: str):
    """A C{COPY ... FROM STDIN} on the connection (a context manager; C{write_row} each row)."""
    return db._connection().cursor().copy(statement)


def begin(db: Connection) -> None:
    """
    Start a write transaction: one at a time across the cluster
    (L{WRITE_LOCK}). If it raises, there is no transaction (as SQLite's).
    """
    db.execute("BEGIN")
    try:
        db.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
    except BaseException:
        try:
            db.execute("ROLLBACK")
        except DatabaseError:
            pass  # the connection is gone, and its transaction with it
        raise


#: A column that numbers a table's rows by itself, as its key.
ROW_NUMBER = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"


def temporaryOnDisk(db: Connection) -> None:
    """PostgreSQL's temporary tables spill to disk past temp_buffers by themselves."""


def lockSchema(db: Connection) -> None:
    """In a transaction: wait for the schema's lock (held until it ends)."""
    db.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")


def jsonField(column: str, key: str) -> str:
    """The SQL expression for the field C{key} of the JSON text in C{column} (as text)."""
    return f"({column}::jsonb ->> '{key}')"


def jsonFlag(column: str, key: str) -> str:
    """The field C{key} of the JSON in C{column} as 1 (true), 0 (false) or NULL, as SQLite's."""
    return f"({column}::jsonb ->> '{key}')::boolean::integer"


def jsonValues(column: str) -> str:
    """A table of the values of the JSON array in C{column}, in a column named C{value}."""
    return f"jsonb_array_elements_text({column}::jsonb) AS j(value)"


def classify(error: BaseException) -> str:
    """
    What a database error means to its caller: L{CONFLICT} (a constraint),
    L{DAMAGED} (PostgreSQL found its data corrupt), L{FULL} (no room on its
    disk), L{BUSY} (the database's trouble now: unreachable, restarting,
    read-only, a lock or a timeout), or L{OTHER}.
    """
    if isinstance(error, errors.IntegrityError):
        return CONFLICT
    if isinstance(error, errors.DataCorrupted | errors.IndexCorrupted):
        return DAMAGED
    if isinstance(error, errors.DiskFull):
        return FULL
    if isinstance(
        error,
        psycopg.OperationalError
        | errors.ReadOnlySqlTransaction
        | errors.LockNotAvailable
        | errors.QueryCanceled,
    ):
        return BUSY
    return OTHER


def tables(db) -> set[str]:
    """The names of the tables in the connection's schema (not their partitions)."""
    rows = db.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
        " AND relkind IN ('r', 'p') AND NOT relispartition"
    )
    return {name for (name,) in rows}


def columns(db, table: str) -> set[str]:
    """The names of C{table}'s columns."""
    rows = db.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ?",
        (table,),
    )
    return {name for (name,) in rows}


def probe(uri: str) -> None:
    """Read the schema and a login on a connection of its own: the health check's read."""
    with psycopg.connect(uri, autocommit=True, connect_timeout=2) as db:
        db.execute("SELECT count(*) FROM schema_version").fetchone()
        db.execute("SELECT name FROM logins LIMIT 1").fetchone()
