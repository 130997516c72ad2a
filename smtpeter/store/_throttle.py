"""
Failed AUTH attempts and bans per client address, kept where every worker
process (and, later, every node) sees them: a client whose attempts land on
different workers is counted once, and banned everywhere at once.

Runs inside a transaction its caller holds (the event log's writer).
"""

from __future__ import annotations

import sqlite3

from ._changes import changed
from ._schema import applySchema

SCHEMA = """
CREATE TABLE IF NOT EXISTS auth_failures (address TEXT NOT NULL, time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS auth_failures_address ON auth_failures (address, time);
CREATE INDEX IF NOT EXISTS auth_failures_time ON auth_failures (time);
CREATE TABLE IF NOT EXISTS auth_bans (address TEXT PRIMARY KEY, until REAL NOT NULL);
"""


class ThrottleStore:
    """Synchronous access to the throttle's tables."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        applySchema(db, SCHEMA)

    def bannedUntil(self, address: str, now: float) -> float | None:
        row = self.db.execute(
            "SELECT until FROM auth_bans WHERE address = ? AND until > ?", (address, now)
        ).fetchone()
        return None if row is None else row[0]

    def recordFailure(
        self, address: str, now: float, window: float, limit: int, banFor: float
    ) -> int:
        """
        Note a failure; ban the address until C{now + banFor} if it has
        C{limit} failures within C{window}. @return: its recent failures,
        this one included.
        """
        db = self.db
        # Everything past the window goes, whoever it was: the tables hold
        # only what still counts, however many addresses try.
        db.execute("DELETE FROM auth_failures WHERE time <= ?", (now - window,))
        db.execute("DELETE FROM auth_bans WHERE until <= ?", (now,))
        db.execute("INSERT INTO auth_failures (address, time) VALUES (?, ?)", (address, now))
        [count] = db.execute(
            "SELECT count(*) FROM auth_failures WHERE address = ?", (address,)
        ).fetchone()
        if count >= limit:
            db.execute(
                "INSERT OR REPLACE INTO auth_bans (address, until) VALUES (?, ?)",
                (address, now + banFor),
            )
            changed(db, "auth_bans")
        return count
