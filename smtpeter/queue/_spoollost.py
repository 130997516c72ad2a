"""
A spool's database lost under the gateway: its file deleted or replaced
while the gateway runs. What is committed then goes to a file nobody will
open again, so no store may get a C{250} (L{SpoolUnusable}); what the open
connection still reads (the queue) is saved to a new file, so that the
next start resumes it instead of losing it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

from twisted.logger import Logger

from ._spool import _fsyncDirectory
from ._spoolschema import SPOOL_FILE

log = Logger()


class SpoolUnusable(OSError):
    """
    The spool's database is no longer the file at its path (deleted or
    replaced while the gateway ran): what is committed to it would be lost
    at the next start, so nothing stored in it may get a C{250}.
    """


class LossWatch:
    """
    The files a spool's connection writes (its database in C{root} and
    that database's write-ahead log), as they were when it opened them.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / SPOOL_FILE
        #: The files the connection writes, as (device, inode), by path (L{lost}).
        self._files: dict[Path, tuple[int, int]] = {}
        #: Why they are lost, once they are.
        self.why: str | None = None
        #: Where L{salvage} wrote what a lost database held, and that file's (device, inode).
        self.salvaged: Path | None = None
        self._salvagedAs: tuple[int, int] | None = None

    def opened(self) -> None:
        """Note the files as they are now, just opened."""
        self._files = {}
        for path in (self.path, self.path.with_name(SPOOL_FILE + "-wal")):
            with contextlib.suppress(FileNotFoundError):
                found = os.stat(path)
                self._files[path] = (found.st_dev, found.st_ino)

    def lost(self) -> str | None:
        """
        Why the files this spool writes are no longer the files at their
        paths (deleted or replaced under the gateway), or C{None} while
        they are. One C{stat} per file; once lost, lost for good (until a
        restart opens the files found there then).
        """
        if self.why is None:
            for path, identity in list(self._files.items()):
                try:
                    found = os.stat(path)
                except FileNotFoundError:
                    self.why = f"{path} was deleted while in use"
                else:
                    if (found.st_dev, found.st_ino) != identity:
                        self.why = f"{path} was replaced while in use"
                if self.why is not None:
                    break
        return self.why

    def salvage(self, db: sqlite3.Connection | None) -> Path | None:
        """
        Once the database is L{lost}: write what the open connection C{db}
        still reads (every message, every recipient's state) to a new file,
        so that the next start resumes the queue instead of losing it. To the
        spool's own path if nothing else is there now (or only what an
        earlier salvage wrote); else beside it, as
        C{spool.db.salvaged-TIME}. Done when the loss is found, and again
        when the spool is closed. @return: where it went (C{None}: nowhere).
        """
        if self.why is None or db is None:
            return None
        target = self.salvaged or self.path
        try:
            found = os.stat(target)
        except FileNotFoundError:
            pass
        else:
            if (found.st_dev, found.st_ino) != self._salvagedAs:
                stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
                target = self.root / f"{SPOOL_FILE}.salvaged-{stamp}"
        temporary = target.with_name(target.name + ".tmp")
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            db.execute("VACUUM INTO ?", (str(temporary),))
            with open(temporary, "rb") as f:
                os.fsync(f.fileno())
            if target == self.path:
                # A write-ahead log left at the path is not this file's: SQLite
                # would apply it to the new one at the next start.
                for name in (SPOOL_FILE + "-wal", SPOOL_FILE + "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.root / name)
            os.replace(temporary, target)
            _fsyncDirectory(self.root)
        except (sqlite3.Error, OSError) as e:
            log.critical(
                "could not save what the lost spool database held to {path}: {why}",
                path=str(target),
                why=str(e),
            )
            return None
        found = os.stat(target)
        self.salvaged, self._salvagedAs = target, (found.st_dev, found.st_ino)
        return target
