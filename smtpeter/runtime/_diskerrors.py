"""
What an error of a database or of the disk means to an operator, in one
line: a damaged SQLite file (and what to do about it), a full disk, or
something else. Every layer that opens a database or writes to the disk
may use it (the gateway at its start and while it serves, the
C{smtpeter} command); it imports nothing of the gateway's.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

#: SQLite's names for a file that is not (or no longer) a sound database.
_DAMAGED = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
#: ... and for a write that found no room.
_FULL = frozenset({"SQLITE_FULL"})
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def isDamaged(error: BaseException) -> bool:
    """Whether C{error} says that a database file is damaged (not a database, malformed)."""
    return isinstance(error, sqlite3.DatabaseError) and (
        getattr(error, "sqlite_errorname", None) in _DAMAGED
    )


def isFull(error: BaseException) -> bool:
    """Whether C{error} is a write that found the disk (or the user's quota) full."""
    if isinstance(error, DiskFull):
        return True
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorname", None) in _FULL
    return isinstance(error, OSError) and error.errno in _FULL_ERRNOS


def damaged(path: Path, error: BaseException) -> str:
    """
    One line naming the damaged database at C{path} and what to do: restore
    it from a backup, or recover what it still holds with C{sqlite3}.
    """
    return f"{path} is damaged ({error}); {recovery(path)}"


def recovery(path: Path) -> str:
    """What to do about the damaged database at C{path}."""
    return (
        f"restore it from a backup, or recover what it holds:"
        f" sqlite3 {path} .recover | sqlite3 {path}.recovered, then (the gateway stopped)"
        f" move {path}.recovered to {path} and delete {path}-wal and {path}-shm"
    )


def diskFull(directory: Path) -> str:
    """One line saying that the disk holding C{directory} is full."""
    return f"the disk holding {directory} is full; free some space there, then try again"


def explain(path: Path, error: BaseException) -> str:
    """What C{error}, met using the database at C{path}, means, in one line."""
    if isDamaged(error):
        return damaged(path, error)
    if isFull(error):
        return diskFull(path.parent)
    return f"{path}: {error}"


class DiskFull(Exception):
    """
    A write failed because the disk holding C{directory} is full; what a
    store raises in place of SQLite's C{database or disk is full}, which
    names neither.
    """

    def __init__(self, directory: Path) -> None:
        super().__init__(diskFull(directory))
        self.directory = directory
