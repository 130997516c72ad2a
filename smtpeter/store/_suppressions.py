"""
The suppression list: recipient addresses that mail is no longer attempted
to, because they hard-bounced or complained (or an administrator said so).
One list per installation, shared by every worker through the database.
Addresses compare without regard to case. An entry may expire.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Iterable

from attrs import frozen

from ._changes import changed
from ._events import isoTime
from ._exceptions import Invalid, Missing, StoreError
from ._schema import applySchema

SCHEMA = """
CREATE TABLE IF NOT EXISTS suppressions (
    address TEXT PRIMARY KEY COLLATE NOCASE,
    reason TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL,
    qid TEXT
);
CREATE INDEX IF NOT EXISTS suppressions_expires ON suppressions (expires);
"""

#: Why an address is suppressed, when a bounce or a complaint put it there.
HARD_BOUNCE = "hard bounce"
COMPLAINT = "complaint"
MANUAL = "added by an administrator"
#: The longest an administrator may suppress an address for, in days (0 is for ever).
MAX_DAYS = 36500
#: The longest reason an administrator may give.
MAX_REASON = 200


def suppressionExpiry(now: float, days: object) -> float | None:
    """
    When an entry made now for C{days} days expires (C{None}: never, for 0);
    L{Invalid} for anything but a number from 0 to L{MAX_DAYS}.
    """
    if (
        isinstance(days, bool)
        or not isinstance(days, (int, float))
        or not (isinstance(days, int) or math.isfinite(days))
        or not 0 <= days <= MAX_DAYS
    ):
        raise Invalid("days", f"a number of days from 0 to {MAX_DAYS}; 0 for ever")
    return now + days * 86400 if days else None


def suppressionReason(reason: object) -> str:
    """A reason as given by an administrator, or L{Invalid}."""
    if not isinstance(reason, str) or not 0 < len(reason.strip()) <= MAX_REASON:
        raise Invalid("reason", f"a text of 1 to {MAX_REASON} characters")
    return reason.strip()


@frozen
class Suppression:
    address: str
    reason: str
    created: float
    expires: float | None
    #: The message whose bounce or complaint caused it, if one did.
    qid: str | None

    def toJSON(self) -> dict:
        return {
            "email": self.address,
            "reason": self.reason,
            "created": isoTime(self.created),
            "expires": None if self.expires is None else isoTime(self.expires),
            "messageid": self.qid,
        }


def normalise(address: str) -> str:
    address = address.strip().strip("<>").strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in address):
        raise StoreError(f"{address!r} is not an email address")
    return f"{local}@{domain.lower()}"


class SuppressionStore:
    """Synchronous access to the suppression list (the CLI; the database's threads)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        applySchema(db, SCHEMA)

    def add(
        self,
        address: str,
        reason: str,
        now: float,
        expires: float | None,
        qid: str | None = None,
    ) -> Suppression:
        """Suppress C{address} (again: the newest reason and expiry win)."""
        entry = Suppression(normalise(address), reason, now, expires, qid)
        self.db.execute(
            "INSERT OR REPLACE INTO suppressions (address, reason, created, expires, qid)"
            " VALUES (?, ?, ?, ?, ?)",
            (entry.address, entry.reason, entry.created, entry.expires, entry.qid),
        )
        changed(self.db, "suppressions")
        return entry

    def delete(self, address: str) -> None:
        cursor = self.db.execute(
            "DELETE FROM suppressions WHERE address = ?", (normalise(address),)
        )
        if not cursor.rowcount:
            raise Missing(f"{address} is not suppressed")
        changed(self.db, "suppressions")

    def list(self, now: float) -> list[Suppression]:
        """Every entry in force, oldest first."""
        rows = self.db.execute(
            "SELECT address, reason, created, expires, qid FROM suppressions"
            " WHERE expires IS NULL OR expires > ? ORDER BY created, address",
            (now,),
        )
        return [Suppression(*row) for row in rows]

    def find(self, addresses: list[str], now: float) -> dict[str, Suppression]:
        """The entries in force for C{addresses}, by the address as given."""
        found = {}
        for address in addresses:
            row = self.db.execute(
                "SELECT address, reason, created, expires, qid FROM suppressions"
                " WHERE address = ? AND (expires IS NULL OR expires > ?)",
                (address, now),
            ).fetchone()
            if row is not None:
                found[address] = Suppression(*row)
        return found

    def purge(self, now: float) -> int:
        """Forget expired entries; how many."""
        return self.db.execute(
            "DELETE FROM suppressions WHERE expires IS NOT NULL AND expires <= ?", (now,)
        ).rowcount
