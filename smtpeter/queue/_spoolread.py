"""
Reading a worker's spool (L{SpoolReader}): what is queued, each
recipient's state, a message's content, what is held, and the finished
messages kept a while. The process that writes the spool reads through
the same methods (L{smtpeter.queue.SpoolDatabase} is a reader too), and
so does the C{smtpeter queue} command, from another process, beside it.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from pathlib import Path
from typing import Self

from ..message import QUEUE_ID, QueuedMessage
from ._spool import _fromMetadata
from ._spoolschema import QUEUED, SPOOL_FILE


class SpoolReader:
    """
    A worker's spool in C{root}, synchronously, for reading: opened with
    L{reading} beside the process writing it (in this process or another).
    """

    def __init__(self, root: Path, keepSent: float = 0) -> None:
        self.root = root
        self.path = root / SPOOL_FILE
        self.large = root / "large"
        #: Days a finished message stays (0: deleted when it finishes).
        self.keepSent = keepSent
        self.db: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection."""
        assert self.db is not None, "the spool is not open"
        return self.db

    def _connect(self, readOnly: bool = False) -> sqlite3.Connection:
        if readOnly:
            db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(f"PRAGMA journal_size_limit={16 << 20}")
        db.execute("PRAGMA busy_timeout=10000")
        return db

    @classmethod
    def reading(cls, root: Path) -> Self | None:
        """A spool to read beside the process writing it; C{None} if it has no database."""
        spool = cls(root)
        if not spool.path.is_file():
            return None
        spool.db = spool._connect(readOnly=True)
        return spool

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def load(self) -> list[tuple[QueuedMessage, dict[int, dict]]]:
        """Every queued message (content empty) and its recipients' states."""
        return [(_fromMetadata(meta), states) for meta, states in self.inspect()]

    def readContent(self, qid: str, limit: int | None = None) -> bytes:
        """A message's content (queued or kept after it finished); its first C{limit} bytes."""
        content = self._content(qid, "", limit)
        if content is None:
            raise FileNotFoundError(errno.ENOENT, "no such message in the spool", qid)
        return content

    def sent(self, qid: str) -> bytes | None:
        """The content of a finished message still kept; C{None} if there is none."""
        try:
            return self._content(qid, f" AND done != {QUEUED}")
        except OSError:  # its large file purged just now
            return None

    def _content(self, qid: str, where: str, limit: int | None = None) -> bytes | None:
        column, args = (
            ("content", (qid,)) if limit is None else ("substr(content, 1, ?)", (limit, qid))
        )
        row = self.conn.execute(
            f"SELECT {column} FROM message WHERE qid = ?{where}", args
        ).fetchone()
        if row is None:
            return None
        if row[0] is not None:
            return row[0]
        with open(self.large / qid, "rb") as f:  # a large one: only what is asked is read
            return f.read() if limit is None else f.read(limit)

    def queuedCount(self) -> int:
        """How many messages are queued (not finished), in one read of an index."""
        row = self.conn.execute(f"SELECT count(*) FROM message WHERE done = {QUEUED}").fetchone()
        return int(row[0])

    def inspect(self) -> list[tuple[dict, dict[int, dict]]]:
        """What is queued: each message's metadata and its recipients' states."""
        return self._inspect(f"done = {QUEUED} ORDER BY qid", ())

    def inspectOne(self, qid: str) -> tuple[dict, dict[int, dict]] | None:
        """L{inspect} for one message, by its queue id; C{None} if it is not queued here."""
        if not QUEUE_ID.fullmatch(qid):
            return None
        found = self._inspect(f"qid = ? AND done = {QUEUED}", (qid,))
        return found[0] if found else None

    def held(self) -> list[str]:
        """The queue ids of messages kept in hold mode and not released, in one read."""
        rows = self.conn.execute(
            # A substring first (as _metadata writes it, or with a space): parsing
            # every queued message's JSON takes twice as long (100,000 queued: 75 ms).
            f"SELECT qid FROM message m WHERE done = {QUEUED}"
            " AND (instr(meta, '\"hold\":true') OR instr(meta, '\"hold\": true'))"
            " AND json_extract(meta, '$.options.hold')"
            " AND NOT EXISTS (SELECT 1 FROM state s WHERE s.qid = m.qid"
            " AND json_extract(s.state, '$.released'))"
        )
        return [qid for (qid,) in rows]

    def _inspect(self, where: str, args: tuple) -> list[tuple[dict, dict[int, dict]]]:
        rows = self.conn.execute(f"SELECT qid, meta FROM message WHERE {where}", args).fetchall()
        if not rows:
            return []
        states = self._states(rows[0][0] if len(rows) == 1 else None)
        return [(json.loads(meta), states.get(qid, {})) for qid, meta in rows]

    def _states(self, qid: str | None) -> dict[str, dict[int, dict]]:
        """
        The recipients' states of C{qid}, or of every message (only queued
        messages have any: finishing one deletes them), in one read.
        """
        query = "SELECT qid, rcpt, state FROM state"
        args: tuple[str, ...] = ()
        if qid is not None:
            query, args = query + " WHERE qid = ?", (qid,)
        states: dict[str, dict[int, dict]] = {}
        for found, rcpt, state in self.conn.execute(query, args):
            states.setdefault(found, {})[rcpt] = json.loads(state)
        return states

    def freeBytes(self) -> int:
        stat = os.statvfs(self.root)
        return stat.f_bavail * stat.f_frsize
