"""
The two engines (L{smtpeter.store._engine}, SQLite's; L{smtpeter.store._postgres},
PostgreSQL's) behind one set of names: the stores import these, and what
differs goes to the engine of the connection at hand. PostgreSQL's needs
psycopg (the C{postgresql} extra); without it there is SQLite's alone.
"""

from __future__ import annotations

from types import ModuleType

from . import _engine as sqlite

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


def begin(db) -> None:
    """Start a write transaction (one at a time, as the engine of C{db} does it)."""
    of(db).begin(db)


def classify(error: BaseException) -> str:
    """What a database error of either engine means to its caller (see the engines)."""
    if postgresql is not None and isinstance(error, postgresql.DatabaseError):
        return postgresql.classify(error)
    return sqlite.classify(error)
