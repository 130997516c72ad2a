"""
The two engines (L{smtpeter.store._engine}, SQLite's; L{smtpeter.store._postgres},
PostgreSQL's) behind one set of names: the stores import these, and what
differs goes to the engine of the connection at hand. PostgreSQL's needs
psycopg (the C{postgresql} extra); without it there is SQLite's alone.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from types import ModuleType

from ..runtime import NO_PSYCOPG, PostgreSQL
from . import _engine as sqlite
from ._changes import ChangeMarks

try:
    from . import _postgres as postgresql
except ImportError:  # psycopg is not installed: SQLite only
    postgresql = None  # type: ignore[assignment]

_ENGINES: tuple[ModuleType, ...] = (sqlite,) if postgresql is None else (sqlite, postgresql)

#: Any error of either database (a tuple: C{except (*DatabaseError, OSError)} to add one).
DatabaseError = tuple(engine.DatabaseError for engine in _ENGINES)
#: A row that breaks a constraint, in either.
Conflict = tuple(engine.Conflict for engine in _ENGINES)
#: What L{classify} answers.
CONFLICT, DAMAGED, FULL, BUSY, OTHER = (
    sqlite.CONFLICT,
    sqlite.DAMAGED,
    sqlite.FULL,
    sqlite.BUSY,
    sqlite.OTHER,
)


def of(db) -> ModuleType:
    """The engine (module) of the connection C{db}."""
    if postgresql is not None and isinstance(db, postgresql.Connection):
        return postgresql
    return sqlite


def isShared(db) -> bool:
    """Whether C{db} is PostgreSQL's, which several nodes share (with their queue)."""
    return of(db) is postgresql


def begin(db) -> None:
    """Start a write transaction (one at a time, as the engine of C{db} does it)."""
    of(db).begin(db)


def pipelined(db) -> AbstractContextManager:
    """
    The statements of the block sent together, on PostgreSQL (see its
    connection's C{pipelined}); SQLite's, in the process, as they are.
    """
    if of(db) is postgresql:
        return db.pipelined()
    return nullcontext()


@contextmanager
def transaction(db):
    """
    A write transaction (L{begin}) around the block: committed at its end,
    rolled back if it raises (as the connections are in autocommit, a
    C{with db:} would not).
    """
    begin(db)
    try:
        yield db
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    else:
        db.execute("COMMIT")


def classify(error: BaseException) -> str:
    """What a database error of either engine means to its caller (see the engines)."""
    if postgresql is not None and isinstance(error, postgresql.DatabaseError):
        return postgresql.classify(error)
    return sqlite.classify(error)


def connect(database: Path | PostgreSQL):
    """
    A connection to the shared database: SQLite's file at a C{Path}, or the
    L{PostgreSQL} one (L{smtpeter.runtime.parseDatabase} reads which).
    @raise DatabaseError: it cannot be opened or reached.
    @raise ValueError: PostgreSQL asked for, and psycopg not installed.
    """
    if isinstance(database, PostgreSQL):
        if postgresql is None:
            raise ValueError(NO_PSYCOPG)
        return postgresql.connect(database.uri)
    return sqlite.connect(database)


def unreachable(database: Path | PostgreSQL, error: BaseException) -> str:
    """One line: which database could not be used, and libpq's first line of why."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    why = lines[0] if lines else type(error).__name__
    if isinstance(database, PostgreSQL):
        return f"cannot use the PostgreSQL database {database}: {why}"
    return f"cannot use {database}: {why}"


def probe(database: Path | PostgreSQL) -> None:
    """The health check's read of the schema and a login, on a connection of its own."""
    if isinstance(database, PostgreSQL):
        postgresql.probe(database.uri)
    else:
        sqlite.probe(database)


def changeMarks(database: Path | PostgreSQL):
    """
    How a process learns that a table it keeps rows of has changed: the
    marks file beside SQLite's (L{ChangeMarks}); for PostgreSQL, which
    other machines change too, a L{ChangeListener} hearing every node's
    notifications (L{smtpeter.store._postgreschanges}).
    """
    if isinstance(database, PostgreSQL):
        from ._postgreschanges import ChangeListener

        return ChangeListener(database.uri)
    return ChangeMarks(database)


def unavailable(error: BaseException) -> bool:
    """
    Whether C{error} is PostgreSQL's trouble now (unreachable, restarting,
    read-only, a lock or a timeout), which passes: answer C{503}, or a
    temporary failure, and try again. (SQLite's errors are told apart as
    before: damaged, full, or a bug.)
    """
    if postgresql is None or not isinstance(error, postgresql.DatabaseError):
        return False
    return postgresql.classify(error) == BUSY
