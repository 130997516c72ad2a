"""
What each login with a limit has sent, per window (C{login_usage}): every
worker adds what it accepted, in batches (L{UsageStore.exchange}), and
reads back the totals of all of them, so that the limits hold across
workers and, with a shared database, across nodes.

Near a limit, workers take their recipients (or a few at a time) by
L{UsageStore.reserve}: a count that grows only while it stays within the
limit, in one statement each, so that however many workers and nodes ask
at once, no more than the limit is ever counted.

A key is C{(login, period, start)}: the login, its limit's period
(L{smtpeter.store._limits}) and the window's start in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._engine import Connection
from ._events import isoTime
from ._limits import Limit

UsageKey = tuple[str, str, int]

#: One window's request to L{UsageStore.reserve}: its key, how many it
#: wants (at least one), and its limit.
Want = tuple[UsageKey, int, int]

#: Adds C{n} to a window's count only if the count stays within the limit:
#: atomic on both engines (the row is locked by the conflict; a new row
#: holds C{n}, which the caller keeps within the limit).
_RESERVE = (
    "INSERT INTO login_usage (login, span, start, count) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (login, span, start)"
    " DO UPDATE SET count = login_usage.count + excluded.count"
    " WHERE login_usage.count + excluded.count <= ?"
    " RETURNING count"
)


class UsageFull(Exception):
    """
    A window of a reservation (L{UsageStore.reserve}) is full: its
    arguments are its key and its total. Roll the others back.
    """


#: Windows are forgotten this long after they began (the longest, a month, ends before).
KEPT = 40 * 86400


class UsageStore:
    """Synchronous access to C{login_usage}."""

    def __init__(self, db: Connection) -> None:
        self.db = db

    def add(self, increments: dict[UsageKey, int]) -> None:
        """Add C{increments} to the counts (in the caller's transaction)."""
        self.db.executemany(
            "INSERT INTO login_usage (login, span, start, count) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (login, span, start)"
            " DO UPDATE SET count = login_usage.count + excluded.count",
            # In the keys' order, as L{reserve} takes its rows: no two
            # transactions lock the same rows in opposite orders.
            [(*key, n) for key, n in sorted(increments.items()) if n],
        )

    def totals(self, keys: Iterable[UsageKey]) -> dict[UsageKey, int]:
        """Every worker's count in each window of C{keys} (0 where none)."""
        found = {}
        for key in keys:
            row = self.db.execute(
                "SELECT count FROM login_usage WHERE login = ? AND span = ? AND start = ?", key
            ).fetchone()
            found[key] = row[0] if row else 0
        return found

    def exchange(
        self, increments: dict[UsageKey, int], keys: Iterable[UsageKey]
    ) -> dict[UsageKey, int]:
        """L{add} C{increments}, then the L{totals} of C{keys} and theirs."""
        if increments:
            self.add(increments)
        return self.totals({*keys, *increments})

    def reserve(self, wants: list[Want]) -> dict[UsageKey, tuple[int, int]]:
        """
        Take from each window of C{wants} as many as it wants, or what is
        left of its limit if less, but at least one. In the caller's
        transaction (L{inTransaction<smtpeter.store._commands.inTransaction>}),
        which must be rolled back if a window is full: then this raises
        L{UsageFull}. @return: C{{key: (granted, total)}}.
        """
        totals = self.totals([key for key, _, _ in wants])
        for key, _, limit in wants:  # a full window, in the order asked: nothing taken
            if totals[key] >= limit:
                raise UsageFull(key, totals[key])
        granted = {
            key: self._take(key, want, limit, totals[key]) for key, want, limit in sorted(wants)
        }
        return {key: granted[key] for key, _, _ in wants}

    def _take(self, key: UsageKey, want: int, limit: int, total: int) -> tuple[int, int]:
        while total < limit:
            n = min(want, limit - total)
            rows = self.db.execute(_RESERVE, (*key, n, limit)).fetchall()
            if rows:
                return n, rows[0][0]
            # Another connection took some since the read (only without the
            # write lock); the statement refused to go over: read again.
            total = self.totals([key])[key]
        raise UsageFull(key, total)

    def usage(self, login: str, limits: dict[str, Limit | None], now: float) -> dict:
        """
        What a login has used of each limit now, for people: C{{"rate":
        {"limit", "period", "used", "resets"}, "quota": ...}} (C{None} for
        a limit it does not have).
        """
        shown: dict[str, dict | None] = {}
        for name, limit in limits.items():
            if limit is None:
                shown[name] = None
                continue
            start, end = limit.window(now)
            used = self.totals([(login, limit.period, start)])[(login, limit.period, start)]
            shown[name] = {
                "limit": limit.count,
                "period": limit.period,
                "used": used,
                "resets": isoTime(end),
            }
        return shown

    def purge(self, now: float) -> int:
        """Forget windows that began more than L{KEPT} before C{now}."""
        return self.db.execute(
            "DELETE FROM login_usage WHERE start < ?", (int(now) - KEPT,)
        ).rowcount
