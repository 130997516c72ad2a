"""
The SQLite engine: everything about the shared database that only SQLite
says this way. The rest of the store writes SQL that PostgreSQL reads as
well; L{smtpeter.store._postgres}, beside this module, is PostgreSQL's
engine, with the same names (the connection's set-up, the write
transaction, the JSON field accessors, the error classes and their
classification, and what an unversioned database holds), and
L{smtpeter.store._engines} picks the one of a connection.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..runtime import isDamaged, isFull
from ._changes import ChangeMarks, Database

#: Which of the schema's dialect-specific steps (C{NNN_name.sqlite.sql}) apply.
DIALECT = "sqlite"

#: The case-blind LIKE (SQLite's LIKE is, for ASCII).
LIKE = "LIKE"

#: A connection, as L{connect} makes them (type hints).
Connection = sqlite3.Connection
#: Any error of the database: catch this, not the driver's classes.
DatabaseError = sqlite3.Error
#: A row that breaks a constraint (a name or key taken already).
Conflict = sqlite3.IntegrityError

#: What L{classify} answers.
CONFLICT, DAMAGED, FULL, BUSY, OTHER = "conflict", "damaged", "full", "busy", "other"


def connect(path: Path) -> Database:
    """
    Open (creating the file if needed) the database, in WAL mode so that the
    CLI and the gateway can use it at the same time, with its change marks
    (L{smtpeter.store._changes}). It holds no tables until
    L{smtpeter.store.upgrade} has brought it to the current version.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(
        str(path), timeout=10, isolation_level=None, check_same_thread=False, factory=Database
    )
    db.marks = ChangeMarks(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def memoryConnection() -> sqlite3.Connection:
    """A database in memory, of this connection alone, with no tables yet."""
    return sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)


def begin(db) -> None:
    """Start a transaction that holds the write lock from its first statement."""
    db.execute("BEGIN IMMEDIATE")


#: A column that numbers a table's rows by itself, as its key.
ROW_NUMBER = "INTEGER PRIMARY KEY"


def temporaryOnDisk(db) -> None:
    """Let this connection's temporary tables grow on disk, not in memory."""
    db.execute("PRAGMA temp_store = FILE")


def lockSchema(db) -> None:
    """In a transaction: the schema's lock (L{begin}'s write lock is SQLite's only one)."""


def jsonField(column: str, key: str) -> str:
    """The SQL expression for the field C{key} of the JSON text in C{column}."""
    return f"json_extract({column}, '$.{key}')"


def jsonFlag(column: str, key: str) -> str:
    """The field C{key} of the JSON in C{column} as 1 (true), 0 (false) or NULL."""
    return jsonField(column, key)


def jsonValues(column: str) -> str:
    """A table of the values of the JSON array in C{column}, in a column named C{value}."""
    return f"json_each({column})"


def classify(error: BaseException) -> str:
    """
    What a database error means to its caller: L{CONFLICT} (a constraint),
    L{DAMAGED} (the file is not a sound database), L{FULL} (no room), L{BUSY}
    (the database's trouble now: locked, read-only, I/O), or L{OTHER}.
    """
    if isinstance(error, Conflict):
        return CONFLICT
    if isDamaged(error):
        return DAMAGED
    if isFull(error):
        return FULL
    if isinstance(error, sqlite3.OperationalError):
        return BUSY
    return OTHER


def tables(db) -> set[str]:
    """The names of the tables the database holds (its own bookkeeping aside)."""
    rows = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return {name for (name,) in rows}


def columns(db, table: str) -> set[str]:
    """The names of C{table}'s columns (only to date a database from before versions)."""
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def probe(path: Path) -> None:
    """
    Read the schema and a login from the file itself, on a connection opened
    for it (one of ours could answer from its cache): the health check's read.
    """
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2)
    try:
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        db.execute("SELECT name FROM logins LIMIT 1").fetchone()
    finally:
        db.close()
