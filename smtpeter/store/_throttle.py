"""
Failed AUTH attempts and bans per client address, kept where every worker
process (and, later, every node) sees them: a client whose attempts land on
different workers is counted once, and banned everywhere at once.

Every attempt is counted before what its password check found is acted on
or told (L{ThrottleStore.settle}), in one transaction: the database's write
lock orders every worker's attempts, so however many arrive at once, no
more than C{limit} failures are ever told per window; the attempts after
them are refused whatever their password, the right one too.

Runs inside a transaction its caller holds (the event log's writer).
"""

from __future__ import annotations

from ._changes import changed
from ._engine import Connection


class ThrottleStore:
    """Synchronous access to the throttle's tables."""

    def __init__(self, db: Connection) -> None:
        self.db = db

    def bannedUntil(self, address: str, now: float) -> float | None:
        row = self.db.execute(
            "SELECT until FROM auth_bans WHERE address = ? AND until > ?", (address, now)
        ).fetchone()
        return None if row is None else row[0]

    def _forget(self, now: float, window: float) -> None:
        # Everything past the window goes, whoever it was: the tables hold
        # only what still counts, however many addresses try.
        self.db.execute("DELETE FROM auth_failures WHERE time <= ?", (now - window,))
        self.db.execute("DELETE FROM auth_bans WHERE until <= ?", (now,))

    def _count(self, address: str) -> int:
        [count] = self.db.execute(
            "SELECT count(*) FROM auth_failures WHERE address = ?", (address,)
        ).fetchone()
        return count

    def passed(self, address: str, now: float, window: float) -> int | None:
        """
        L{settle} for an attempt whose password was right, outside any
        transaction: one statement, which reads the bans and failures
        committed before it (a success writes nothing, so it needs neither
        the write lock nor a transaction: on PostgreSQL, one round trip
        instead of seven, and no wait behind the event log's commits).
        @return: C{None} if the address is banned, else its failures within
            C{window}.
        """
        banned, count = self.db.execute(
            "SELECT EXISTS (SELECT 1 FROM auth_bans WHERE address = ? AND until > ?),"
            " (SELECT count(*) FROM auth_failures WHERE address = ? AND time > ?)",
            (address, now, address, now - window),
        ).fetchone()
        return None if banned else count

    def settle(
        self, address: str, now: float, window: float, limit: int, banFor: float, failed: bool
    ) -> int | None:
        """
        Count an attempt whose password was checked and whose outcome
        nobody has been told. @return: C{None} if the address is banned
        (it has had C{limit} failures within C{window}): refuse the
        attempt, right or wrong, and record nothing. Else its failures
        within C{window}, a failure (recorded, with its ban) included.
        """
        self._forget(now, window)
        # The ban comes in the transaction of the failure that reaches the
        # limit: an attempt ordered after that one sees it.
        if self.bannedUntil(address, now) is not None:
            return None
        if not failed:
            return self._count(address)
        return self.recordFailure(address, now, window, limit, banFor)

    def recordFailure(
        self, address: str, now: float, window: float, limit: int, banFor: float
    ) -> int:
        """
        Note a failure; ban the address until C{now + banFor} if it has
        C{limit} failures within C{window}. @return: its recent failures,
        this one included.
        """
        db = self.db
        self._forget(now, window)
        db.execute("INSERT INTO auth_failures (address, time) VALUES (?, ?)", (address, now))
        count = self._count(address)
        if count >= limit:
            db.execute(
                "INSERT INTO auth_bans (address, until) VALUES (?, ?)"
                " ON CONFLICT (address) DO UPDATE SET until = excluded.until",
                (address, now + banFor),
            )
            changed(db, "auth_bans")
        return count
