"""
The spool in SQLite: each worker's accepted messages, and what happened to
each recipient, in C{spool.db} of its spool directory (WAL mode,
C{synchronous=FULL}).

A commit appends to the write-ahead log and syncs that one file: no file is
created, renamed or unlinked per message, and no directory is synced, which
made a file per message cost twice the CPU. One thread writes; the stores
of every session waiting meanwhile share its next commit (and its sync).
Only once the commit holding a message is done is the message reported
stored, so a crash at any moment loses no message that got its C{250}.

A body too large to hold in memory (L{Spilled}) stays a file: it is copied
to C{large/<qid>} and synced before its row is committed; a file there
without a row never got its C{250} and is deleted at start, like the files
of C{incoming/}, where bodies are written as they arrive.

A finished message keeps its row, marked with the time it finished, for
C{keepSent} days, so the dashboard can show what was sent; the purge
deletes those rows in small transactions.

This module writes the spool (L{SpoolDatabase}, in the writer's thread);
beside it are its schema (C{_spoolschema}), its reads (C{_spoolread}), the
spools it takes over (C{_adopt}: the file spool of earlier versions, an
orphaned worker's), what is done when its file is lost under it
(C{_spoollost}), and the asynchronous L{ISpool} over it (C{_sqlitespool}).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import cast

from twisted.logger import Logger

from ..message import QueuedMessage
from ._adopt import adopt, importFiles
from ._incoming import Spilled
from ._spool import _copy, _fsyncDirectory, _metadata
from ._spoollost import LossWatch, SpoolUnusable
from ._spoolread import SpoolReader
from ._spoolschema import upgradeSpool

log = Logger()

#: Finished messages deleted per transaction by the purge.
PURGE_CHUNK = 500


def _asOSError(e: sqlite3.Error) -> OSError:
    """What the queue manager reports as a known condition in one line (a full disk)."""
    code = errno.ENOSPC if "full" in str(e) else errno.EIO
    return OSError(code, f"spool database: {e}")


class SpoolDatabase(SpoolReader):
    """
    A worker's spool, synchronously. One instance writes (in one thread);
    others, opened with L{reading}, read beside it, in this process or
    another (the C{smtpeter queue} command).
    """

    def __init__(self, root: Path, keepSent: float = 0) -> None:
        super().__init__(root, keepSent)
        self.incoming = root / "incoming"
        self.corrupt = root / "corrupt"
        #: Whether the files the connection writes are still those at their paths.
        self.watch = LossWatch(root)

    def open(self) -> None:
        """Open for writing, making the directories and the schema as needed."""
        if self.db is not None:
            return
        for d in (self.incoming, self.large):
            d.mkdir(parents=True, exist_ok=True)
        self.db = self._connect()
        upgradeSpool(self.db)
        self.watch.opened()

    def lost(self) -> str | None:
        """Why the database is lost (L{LossWatch.lost}), or C{None} while it is not."""
        return self.watch.lost()

    @property
    def salvaged(self) -> Path | None:
        """Where L{salvage} wrote what the lost database held, if it did."""
        return self.watch.salvaged

    def salvage(self) -> Path | None:
        """What the lost database held, saved (L{LossWatch.salvage})."""
        return self.watch.salvage(self.db)

    def reader(self) -> SpoolDatabase:
        """Another connection to this spool, for reading in another thread."""
        other = SpoolDatabase(self.root, self.keepSent)
        other.db = other._connect()
        return other

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """A write transaction: committed if the block ends well, else rolled back."""
        db = self.conn
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self.db is not None and self.watch.why is not None:
            self.salvage()  # what it holds now, for the next start
        super().close()

    # Start ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """
        Open, and tidy up after a stop or a crash: bodies that were being
        received, and large files whose message was never committed, go;
        a spool on files left by an earlier version is imported.
        """
        self.open()
        for leftover in self.incoming.iterdir():
            log.info("discarding incomplete incoming file {name}", name=leftover.name)
            leftover.unlink()
        importFiles(self, self.root)
        for path in self.large.iterdir():
            if not self.conn.execute(
                "SELECT 1 FROM message WHERE qid = ?", (path.name,)
            ).fetchone():
                log.info("discarding large file {name} of no message", name=path.name)
                path.unlink()

    def adopt(self, other: Path) -> int:
        """
        Take over every message of the spool in C{other} (a worker's that
        no longer runs; nothing may be using it), and remove it.
        @return: how many queued messages moved.
        """
        return adopt(self, other)

    # Writing (the writer thread) ----------------------------------------------------------

    def writeLarge(self, message: QueuedMessage) -> None:
        """A spilled body's message, in C{large/<qid>}, synced (before its row is)."""
        content = cast(Spilled, message.content)
        path = self.large / message.qid
        try:
            with open(path, "wb") as f:
                f.write(content.head)
                _copy(content.path, f, content.length)
                f.flush()
                os.fsync(f.fileno())
            _fsyncDirectory(self.large)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            raise

    def apply(self, work: list[tuple]) -> list[Exception | None]:
        """
        Do every item of C{work} in one transaction: C{("store", message)},
        C{("states", qid, states)}, C{("finish", qid, when)}. If that fails,
        each is tried alone, so that one bad item fails only itself.

        Once the database is L{lost}, a store fails with L{SpoolUnusable}:
        its client gets a 451 and sends it again later, so no copy of it
        may stay (it would be delivered twice).
        @return: for each item, C{None} or what it failed with.
        """
        if self.watch.why is not None and any(item[0] == "store" for item in work):
            rest = iter(self.apply([item for item in work if item[0] != "store"]))
            refused = SpoolUnusable(errno.ESTALE, self.watch.why)
            return [refused if item[0] == "store" else next(rest) for item in work]
        try:
            self._do(work)
        except (sqlite3.Error, OSError, ValueError) as e:
            if len(work) == 1:
                return [_asOSError(e) if isinstance(e, sqlite3.Error) else e]
            return [self.apply([item])[0] for item in work]
        stored = [item[1].qid for item in work if item[0] == "store"]
        if stored and self.lost() is not None:
            # Committed; but not to the file at the spool's path. One check for
            # every message of the commit, before any of them gets its 250.
            self._forget(stored)
            if self.salvaged is None:
                self.salvage()
            refused = SpoolUnusable(errno.ESTALE, self.watch.why)
            return [refused if item[0] == "store" else None for item in work]
        return [None] * len(work)

    def _forget(self, qids: list[str]) -> None:
        """Take back stores whose clients are told they failed."""
        try:
            with self._transaction():
                self.conn.executemany("DELETE FROM state WHERE qid = ?", [(q,) for q in qids])
                self.conn.executemany("DELETE FROM message WHERE qid = ?", [(q,) for q in qids])
        except sqlite3.Error as e:
            log.critical(
                "could not take back {n} message(s) refused with 451: {why}",
                n=len(qids),
                why=str(e),
            )
            return
        self._unlinkLarge(qids)

    def _do(self, work: list[tuple]) -> None:
        forgotten = []
        with self._transaction():
            for item in work:
                if item[0] == "store":
                    self._store(item[1])
                elif item[0] == "states":
                    self._recordStates(item[1], item[2])
                elif item[0] == "finish":
                    forgotten += self._finish(item[1], item[2])
        self._unlinkLarge(forgotten)

    def _unlinkLarge(self, qids: Iterable[str]) -> None:
        """Once their rows are gone for good: the large files of C{qids}, if they have any."""
        for qid in qids:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.large / qid)

    def _store(self, message: QueuedMessage) -> None:
        content = None if isinstance(message.content, Spilled) else message.content
        self._insert(message.qid, _metadata(message)[:-1].decode(), content)

    def _insert(self, qid: str, meta: str, content: bytes | None, conflict: str = "") -> None:
        self.conn.execute(
            f"INSERT {conflict} INTO message (qid, meta, content) VALUES (?, ?, ?)",
            (qid, meta, content),
        )

    def _recordStates(self, qid: str, states: dict[int, dict]) -> None:
        self.conn.executemany(
            "INSERT INTO state (qid, rcpt, state) VALUES (?, ?, ?)"
            " ON CONFLICT (qid, rcpt) DO UPDATE SET state = excluded.state",
            [(qid, i, json.dumps(s, separators=(",", ":"))) for i, s in states.items()],
        )

    def _finish(self, qid: str, when: float) -> list:
        """A finished message: kept a while, or forgotten (its large file then goes too)."""
        self.conn.execute("DELETE FROM state WHERE qid = ?", (qid,))
        if self.keepSent:
            self.conn.execute("UPDATE message SET done = ? WHERE qid = ?", (int(when * 1000), qid))
            return []
        large = self.conn.execute(
            "DELETE FROM message WHERE qid = ? RETURNING content IS NULL", (qid,)
        ).fetchall()
        return [qid] if large and large[0][0] else []

    def purge(self, now: float) -> int:
        """
        Forget up to L{PURGE_CHUNK} messages that finished over C{keepSent}
        days ago, in one transaction. @return: how many went.
        """
        cutoff = now - self.keepSent * 86400
        # Ids sort by arrival: one received after the cutoff finished after it.
        bound = f"{int(cutoff * 1000):012X}"
        rows = self.conn.execute(
            "SELECT rowid, qid, content IS NULL FROM message WHERE qid < ? AND done < ? LIMIT ?",
            (bound, int(cutoff * 1000), PURGE_CHUNK),
        ).fetchall()
        if rows:
            with self._transaction():
                self.conn.executemany(
                    "DELETE FROM message WHERE rowid = ?", [(r[0],) for r in rows]
                )
        self._unlinkLarge(qid for _, qid, large in rows if large)
        return len(rows)
