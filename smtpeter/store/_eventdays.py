"""
Events in tables per day, on PostgreSQL: C{events} and C{event_tags} are
partitioned on their C{time}, one partition per UTC day (C{events_20261207},
C{event_tags_20261207}), with a C{DEFAULT} partition so that an insert never
fails for want of its day's table. The retention purge drops the tables of
days wholly past it (L{dropDays}) and deletes the rest by rows; the tables
PostgreSQL's autovacuum has to clean stay small.

The days' tables are made ahead (today's and the next L{AHEAD} days') and
rows found in the C{DEFAULT} partition (the upgrade's, C{db copy}'s, an
event dated far off) are moved into tables of their own days: by
L{prepare} at every start (L{smtpeter.store.upgrade}), and by
L{keepDays} at each hourly purge. SQLite's one table is left as it is:
every function here does nothing on an SQLite connection.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterable

from twisted.logger import Logger

from . import _engines

log = Logger()

#: Seconds in a day (UTC days: the partitions' bounds are multiples of it).
DAY = 86400
#: How many days after today have their tables made ahead.
AHEAD = 2
#: The tables kept per day, each partitioned on its column C{time}.
TABLES = ("events", "event_tags")

#: How long the days' upkeep waits for a table's lock (readers of the events
#: hold theirs; new readers queue behind a waiting DROP or CREATE).
LOCK_TIMEOUT = "5s"
#: PostgreSQL's code for a lock not taken within C{lock_timeout}.
_LOCK_NOT_AVAILABLE = "55P03"

#: The days that get tables of their own: from 1970 to 9999 (an event dated
#: outside stays in the DEFAULT partition, until the purge deletes it).
_DATED = f"time >= 0 AND time < {calendar.timegm((9999, 12, 31, 0, 0, 0)) + DAY}"

_DATE = re.compile(r"_(\d{8})$")


def dayName(table: str, day: int) -> str:
    """The name of C{table}'s partition for C{day} (days since the epoch)."""
    return f"{table}_{time.strftime('%Y%m%d', time.gmtime(day * DAY))}"


def days(db, table: str) -> dict[int, str]:
    """C{table}'s partitions of a day: their names, by day (days since the epoch)."""
    rows = db.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass(?)",
        (table,),
    )
    found: dict[int, str] = {}
    for (name,) in rows:
        match = _DATE.search(name)
        if match is not None and name == f"{table}_{match[1]}":
            found[calendar.timegm(time.strptime(match[1], "%Y%m%d")) // DAY] = name
    return found


def _wanted(now: float) -> set[int]:
    today = int(now // DAY)
    return {today + n for n in range(AHEAD + 1)}


def _spilled(db, table: str) -> set[int]:
    """The days of the rows in C{table}'s DEFAULT partition."""
    rows = db.execute(
        f"SELECT DISTINCT floor(time / {DAY})::bigint FROM {table}_default WHERE {_DATED}"
    )
    return {int(day) for (day,) in rows}


def _waitingBriefly(db) -> None:
    """In a transaction, before changing the tables: wait at most L{LOCK_TIMEOUT} for a lock."""
    db.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def _create(db, table: str, day: int) -> None:
    _waitingBriefly(db)
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {dayName(table, day)} PARTITION OF {table}"
        f" FOR VALUES FROM ({day * DAY}) TO ({(day + 1) * DAY})"
    )


def _unspill(db, table: str, spilled: set[int], have: dict[int, str]) -> None:
    """
    Move the DEFAULT partition's rows into tables of their days: the
    partition is detached and replaced by an empty one, the days' tables
    made, and its rows inserted again (routed to their days) in one pass,
    leaving no dead rows behind.
    """
    _waitingBriefly(db)
    db.execute("SET LOCAL statement_timeout = 0")  # the upgrade's millions of events
    db.execute(f"ALTER TABLE {table} DETACH PARTITION {table}_default")
    db.execute(f"ALTER TABLE {table}_default RENAME TO {table}_spilled")
    db.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    for day in sorted(spilled - set(have)):
        _create(db, table, day)
    db.execute(f"INSERT INTO {table} SELECT * FROM {table}_spilled")
    db.execute(f"DROP TABLE {table}_spilled")


def keepDays(db, now: float) -> None:
    """
    In a write transaction the caller holds: make the tables of today and
    the next L{AHEAD} days, and move the DEFAULT partitions' rows into
    tables of their days. Nothing on SQLite.
    """
    if not _engines.isShared(db):
        return
    for table in TABLES:
        have = days(db, table)
        spilled = _spilled(db, table)
        if spilled:
            _unspill(db, table, spilled, have)
            have = days(db, table)
        for day in sorted(_wanted(now) - set(have)):
            _create(db, table, day)


def _needed(db, now: float) -> bool:
    for table in TABLES:
        if _wanted(now) - set(days(db, table)):
            return True
        spilled = f"SELECT EXISTS (SELECT 1 FROM {table}_default WHERE {_DATED})"
        if db.execute(spilled).fetchone()[0]:
            return True
    return False


def prepare(db, now: float) -> None:
    """
    Outside a transaction, at start: L{keepDays} in a write transaction of
    its own, if there is anything to do (usually nothing: no lock taken).
    If a table's lock is not had within L{LOCK_TIMEOUT} (long reads of the
    events), the start goes on: the hourly purge makes the tables, and the
    DEFAULT partitions take the events meanwhile. Nothing on SQLite.
    """
    if not _engines.isShared(db) or not _needed(db, now):
        return
    try:
        with _engines.transaction(db):
            keepDays(db, now)
    except _engines.DatabaseError as error:
        if getattr(error, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        log.warn("the events' tables per day wait for the next purge: {why}", why=str(error))


def dropDays(db, before: float) -> int:
    """
    In a write transaction the caller holds: drop the tables of the days
    wholly before C{before}; the number of events they held. (The rows of
    the day C{before} falls in, and any in the DEFAULT partitions, are the
    caller's to delete.) Nothing on SQLite.
    """
    if not _engines.isShared(db):
        return 0
    removed = 0
    for table in TABLES:
        for day, name in sorted(days(db, table).items()):
            if (day + 1) * DAY > before:
                continue
            if table == "events":
                removed += db.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            _waitingBriefly(db)
            db.execute(f"DROP TABLE {name}")
    return removed


def tagging(db, event: int, when: float, tags: Iterable[str]) -> tuple[str, list[tuple]]:
    """The statement and rows that record an event's tags (PostgreSQL's also hold its time)."""
    if _engines.isShared(db):
        sql = "INSERT INTO event_tags (tag, event, time) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
        return sql, [(tag, event, when) for tag in tags]
    sql = "INSERT INTO event_tags (tag, event) VALUES (?, ?) ON CONFLICT DO NOTHING"
    return sql, [(tag, event) for tag in tags]


#: On PostgreSQL: a batch of events and their tags in one statement (each
#: parameter an array, one element per event: type, time, qid, recipient,
#: tags and details, the last two as JSON), which answers their ids in the
#: order given (numbered here, from the events' own sequence: the tags'
#: rows need them).
EVENTS = (
    "WITH r AS (SELECT nextval((SELECT pg_get_serial_sequence('events', 'id'))::regclass) AS id,"
    " r.* FROM unnest(%b::text[], %b::float8[], %b::text[], %b::text[], %b::text[], %b::text[])"
    " WITH ORDINALITY AS r(type, time, qid, recipient, tags, details, n)),"
    " e AS (INSERT INTO events (id, type, time, qid, recipient, tags, details)"
    " SELECT id, type, time, qid, recipient, tags, details FROM r),"
    " t AS (INSERT INTO event_tags (tag, event, time)"
    " SELECT tag, r.id, r.time FROM r, json_array_elements_text(r.tags::json) AS tag"
    " WHERE r.tags != '[]' ON CONFLICT DO NOTHING)"
    " SELECT id FROM r ORDER BY n"
)


#: What C{db copy} reads of SQLite's C{event_tags}: with the time of each tag's event.
COPY_TAGS = (
    "tag, event, time",
    "SELECT t.tag, t.event, COALESCE(e.time, 0)"
    " FROM event_tags t LEFT JOIN events e ON e.id = t.event",
)
