"""
Change marks: how a process learns, without asking the database, that a
table whose rows it keeps in memory has changed (in any process: a worker,
the CLI, the management API).

Beside the database file is C{<database>-changes}, a few bytes mapped
into every process that opens the database: one 8-byte mark per watched
table. Whoever commits a change to such a table writes a new random mark
for it after the commit. A process that keeps rows (L{Remembered}) reads
the mark before it reads the rows, and keeps them only while the mark is
the one it read: the next change, anywhere, makes it read them again. A
mark read before a read, and written after every commit, cannot hide a
change: a read that missed a commit started before that commit's mark
was written, so it was kept under the mark before it.
"""

from __future__ import annotations

import enum
import mmap
import os
import sqlite3
from collections.abc import Hashable
from pathlib import Path
from typing import Final, Generic, Literal, TypeVar

#: The tables with marks, in their order in the file.
TABLES = ("logins", "auth_bans", "suppressions", "api_tokens")
_SLOT = 8
_SIZE = _SLOT * len(TABLES)
_OFFSETS = {table: index * _SLOT for index, table in enumerate(TABLES)}


class ChangeMarks:
    """The marks of one database, mapped from its C{-changes} file."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + "-changes")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _likeTheDatabase(fd, database)
            if os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)
            # Blocks on disk for the mapped page, not a hole: the first write
            # to a hole, with the disk full, is a SIGBUS that kills the process.
            try:
                os.posix_fallocate(fd, 0, _SIZE)
            except OSError:
                pass  # no room now, or no such call here: as before
            self._map = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)

    def mark(self, table: str) -> bytes:
        offset = _OFFSETS[table]
        return self._map[offset : offset + _SLOT]

    def changed(self, table: str) -> None:
        """Tell every process that C{table} changed (call after the commit)."""
        offset = _OFFSETS[table]
        self._map[offset : offset + _SLOT] = os.urandom(_SLOT)

    def close(self) -> None:
        self._map.close()


def _likeTheDatabase(fd: int, database: Path) -> None:
    """Made by root (the CLI), the file gets the database's owner, as SQLite's own files do."""
    if os.geteuid() != 0:
        return
    try:
        owner = os.stat(database)
    except FileNotFoundError:
        return
    os.fchown(fd, owner.st_uid, owner.st_gid)


class Database(sqlite3.Connection):
    """
    A connection (L{smtpeter.store._engine.connect} makes them) that
    publishes its changes to watched tables: at once outside a transaction,
    else when L{publish} is called after it ends.
    """

    marks: ChangeMarks | None = None
    _unpublished: frozenset = frozenset()

    def changed(self, table: str) -> None:
        if self.marks is None:
            return
        if self.in_transaction:
            self._unpublished |= {table}
        else:
            self.marks.changed(table)

    def publish(self) -> None:
        """After a transaction: the marks of what it changed (committed or not)."""
        tables, self._unpublished = self._unpublished, frozenset()
        if self.marks is None:
            return  # nothing was noted (see changed)
        for table in tables:
            self.marks.changed(table)

    def close(self) -> None:
        super().close()
        if self.marks is not None:
            self.marks.close()


def changed(db, table: str) -> None:
    """
    Note that C{db} changed C{table}: a L{Database} (or a PostgreSQL
    connection) tells the others; a plain connection (one in memory) has
    no others to tell.
    """
    note = getattr(db, "changed", None)
    if note is not None:
        note(table)


_Row = TypeVar("_Row")


class Remembered(Generic[_Row]):
    """
    Rows read from one table, by key, kept while the table's mark stays the
    one read before they were read; at most C{limit} of them (the oldest go
    first)::

        mark, row = remembered.lookup(key)
        if row is MISSING:
            row = ...read it...
            remembered.keep(mark, key, row)
    """

    def __init__(self, marks: ChangeMarks, table: str, limit: int = 10_000) -> None:
        self._marks = marks
        self._table = table
        self._limit = limit
        self._seen = b""
        self._rows: dict[Hashable, _Row] = {}

    def mark(self) -> bytes:
        """The table's mark now; what was kept under another is forgotten."""
        mark = self._marks.mark(self._table)
        if mark != self._seen:
            self._rows.clear()
            self._seen = mark
        return mark

    def lookup(self, key: Hashable) -> tuple[bytes, _Row | _Missing]:
        """The mark now, and what is kept for C{key} under it (or L{MISSING})."""
        mark = self.mark()
        return mark, self._rows.get(key, MISSING)

    def get(self, key: Hashable) -> _Row | _Missing:
        """What is kept for C{key}, or L{MISSING}, as of the last L{mark}."""
        return self._rows.get(key, MISSING)

    def keep(self, mark: bytes, key: Hashable, row: _Row) -> None:
        """Keep what was read after C{mark} was, unless the table has changed since."""
        if mark != self.mark():
            return
        if key not in self._rows and len(self._rows) >= self._limit:
            del self._rows[next(iter(self._rows))]
        self._rows[key] = row

    def replace(self, key: Hashable, row: _Row) -> None:
        """A kept row as this process has just written it (not a change others must see)."""
        if key in self._rows:
            self._rows[key] = row


class _Missing(enum.Enum):
    # An enum's one member, so that C{x is MISSING} narrows x for mypy.
    MISSING = enum.auto()


#: What L{Remembered} answers for a key it does not have.
MISSING: Final[Literal[_Missing.MISSING]] = _Missing.MISSING
