"""
Counters per hour, kept by the event writer in the same transaction as the
events they count, so that an overview (accepted, delivered, deferred,
failed, bounced by class, opened, clicked, unsubscribed; by hour or day; for one login,
tag or sender domain) reads a few hundred rows however many events are
stored, instead of scanning them.

Each event adds one to its row for (hour, login, sender domain, kind) with
the tag C{""} (every message), and one to the row of each of its tags. The
sender domain is that of the message's From header (its envelope sender's
when it has none).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from email.utils import parseaddr

from attrs import frozen

from . import _engines
from ._engine import Connection

#: The kinds counted, as the overview names them.
KINDS = (
    "accepted",
    "delivered",
    "deferred",
    "failed",
    "bounced",
    "opened",
    "clicked",
    "warning",
    "unsubscribed",
)
STEPS = {"hour": 3600, "day": 86400}


def kindOf(type: str, details: dict) -> str | None:
    """The counter an event adds to (bounces by class: C{bounced:hard})."""
    if type == "attempt":
        return "accepted"
    if type == "delivery":
        return "delivered"
    if type == "failure":
        return "failed" if details.get("permanent", True) else "deferred"
    if type == "bounce":
        return f"bounced:{details.get('class', 'unknown')}"
    return {
        "click": "clicked",
        "open": "opened",
        "warning": "warning",
        "unsubscribe": "unsubscribed",
    }.get(type)


def senderDomain(fromHeader: str | None, sender: str | None) -> str:
    address = parseaddr(fromHeader or "")[1] or sender or ""
    return address.rpartition("@")[2].lower()


@frozen
class StatsQuery:
    """An overview's filters: C{[start, end)} in seconds, by C{step} (hour or day)."""

    start: float
    end: float
    step: str = "hour"
    login: str | None = None
    tag: str | None = None
    domain: str | None = None


def rows(login: str, domain: str, kind: str, tags, when: float) -> list[tuple]:
    hour = int(when // 3600)
    return [(hour, login, tag, domain, kind) for tag in ("", *tags)]


def series(counted, query: StatsQuery) -> dict:
    """
    The overview from C{counted}, C{(bucket start, kind, count)} triples:
    every bucket of the range, each with every kind (zero when none).
    """
    step = STEPS[query.step]
    first = int(query.start // step) * step
    buckets: dict[int, dict] = {}
    t = first
    while t < query.end:
        buckets[t] = {}
        t += step
    totals: dict[str, int] = {}
    for start, kind, count in counted:
        if start in buckets:
            buckets[start][kind] = buckets[start].get(kind, 0) + count
            totals[kind] = totals.get(kind, 0) + count
    return {
        "by": query.step,
        "series": [{"timestamp": t, "counts": counts} for t, counts in buckets.items()],
        "totals": totals,
    }


#: PostgreSQL's: counters added to, one row per (hour, login, tag, domain, kind), from arrays.
_ADD_COUNTS = (
    "INSERT INTO stats_hourly (hour, login, tag, domain, kind, count)"
    " SELECT * FROM unnest(CAST(? AS BIGINT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]),"
    " CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS BIGINT[]))"
    " ON CONFLICT (hour, tag, login, domain, kind)"
    " DO UPDATE SET count = stats_hourly.count + excluded.count"
)


class StatsStore:
    """The counters, on one connection (the writer counts, the readers read)."""

    def __init__(self, db: Connection) -> None:
        self.db = db
        self._messages: OrderedDict[str, tuple[str, str]] = OrderedDict()
        #: On PostgreSQL, the counts of the transaction under way, written by L{flush}.
        self._pending: Counter[tuple] | None = Counter() if _engines.isShared(db) else None

    def _message(self, qid: str) -> tuple[str, str]:
        found = self._messages.get(qid)
        if found is None:
            row = self.db.execute(
                "SELECT login, from_header, sender FROM messages WHERE qid = ?", (qid,)
            ).fetchone()
            if row is None:
                # Not recorded yet (another worker's writer has it still): not
                # remembered, so that the message's next events find it.
                return ("", "")
            found = (row[0] or "", senderDomain(row[1], row[2]))
            self._messages[qid] = found
            if len(self._messages) > 4096:
                self._messages.popitem(last=False)
        return found

    def remember(self, qid: str, login: str | None, fromHeader: str | None, sender: str) -> None:
        """What L{count} reads of a message just recorded (no read back of what was written)."""
        self._messages[qid] = (login or "", senderDomain(fromHeader, sender))
        if len(self._messages) > 4096:
            self._messages.popitem(last=False)

    def count(self, type: str, when: float, qid: str, tags, details: dict) -> None:
        """
        Count an event: at once on SQLite; on PostgreSQL, at the L{flush}
        the writer makes before its transaction commits.
        """
        kind = kindOf(type, details)
        if kind is None:
            return
        login, domain = self._message(qid)
        login = login or details.get("login") or ""  # an unsubscribe names it
        if self._pending is not None:
            self._pending.update(rows(login, domain, kind, tags, when))
            return
        self.db.executemany(
            "INSERT INTO stats_hourly (hour, login, tag, domain, kind, count)"
            " VALUES (?, ?, ?, ?, ?, 1)"
            " ON CONFLICT (hour, tag, login, domain, kind)"
            " DO UPDATE SET count = stats_hourly.count + 1",
            rows(login, domain, kind, tags, when),
        )

    def flush(self) -> None:
        """
        On PostgreSQL, before the transaction that L{count}ed commits: its
        counts, added up, in one statement (one row per counter, however
        many events it counted). Nothing on SQLite, which counts at once.
        """
        if not self._pending:
            return
        counted, self._pending = self._pending, Counter()
        keys = list(counted)
        self.db.execute(
            _ADD_COUNTS,
            [[key[i] for key in keys] for i in range(5)] + [[counted[key] for key in keys]],
        )

    def discard(self) -> None:
        """The counts of a transaction that did not commit, forgotten."""
        if self._pending is not None:
            self._pending.clear()

    def overview(self, query: StatsQuery) -> dict:
        step = STEPS[query.step]
        where = ["hour >= ?", "hour < ?", "tag = ?"]
        arguments: list = [int(query.start // 3600), int(-(-query.end // 3600)), query.tag or ""]
        for column, value in (("login", query.login), ("domain", query.domain)):
            if value is not None:
                where.append(f"{column} = ?")
                arguments.append(value.lower() if column == "domain" else value)
        counted = self.db.execute(
            f"SELECT (hour * 3600 / {step}) * {step}, kind, sum(count) FROM stats_hourly"
            f" WHERE {' AND '.join(where)} GROUP BY 1, 2",
            arguments,
        ).fetchall()
        return series(counted, query)

    def purge(self, before: float) -> int:
        return self.db.execute(
            "DELETE FROM stats_hourly WHERE hour < ?", (int(before // 3600),)
        ).rowcount
