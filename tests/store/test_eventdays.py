"""
Events in tables per day on PostgreSQL (L{smtpeter.store._eventdays}): the
days' tables made ahead, rows in their days' tables, the purge dropping
whole days, and a database from before them upgraded in place.
"""

from __future__ import annotations

import time

import pytest

from smtpeter.store import (
    CURRENT,
    EventQuery,
    PostgreSQL,
    _engines,
    _eventdays,
    _postgres,
    openDatabase,
    upgrade,
)
from smtpeter.store._commands import Purge
from smtpeter.store._events import EventStore
from smtpeter.store._migrate import steps

from ..conftest import upgradeAtOnce

DAY = _eventdays.DAY
TODAY = int(time.time() // DAY)


@pytest.fixture
def pg(postgresDatabase):
    db = openDatabase(PostgreSQL(postgresDatabase))
    yield db
    db.close()


def add(db, when: float, tags=("spring",), qid="Q1", recipient="a@x.test"):
    with _engines.transaction(db):
        return EventStore(db).addEvent("delivery", when, qid, recipient, tags, {}).id


def where(db, table: str) -> dict[int, str]:
    """The table each row of C{table} is in, by event id."""
    column = "id" if table == "events" else "event"
    rows = db.execute(f"SELECT {column}, tableoid::regclass::text FROM {table}")
    return dict(rows.fetchall())


def test_the_days_tables_are_made_ahead_with_a_default(pg):
    for table in _eventdays.TABLES:
        assert set(_eventdays.days(pg, table)) == {TODAY, TODAY + 1, TODAY + 2}
        assert _eventdays.days(pg, table)[TODAY] == _eventdays.dayName(table, TODAY)
        assert pg.execute(f"SELECT to_regclass('{table}_default')").fetchone()[0]
    assert _eventdays.dayName("events", 20794) == "events_20261207"
    # The partitions are not tables of their own to the rest of the store.
    tables = _postgres.tables(pg)
    assert "events" in tables and "event_tags" in tables
    assert not {t for t in tables if t.startswith(("events_", "event_tags_"))}


def test_events_land_in_their_days_tables(pg):
    today = add(pg, TODAY * DAY + 60)
    tomorrow = add(pg, (TODAY + 1) * DAY + 60)
    old = add(pg, (TODAY - 5) * DAY + 60)  # no table for that day yet: the default
    assert where(pg, "events") == {
        today: _eventdays.dayName("events", TODAY),
        tomorrow: _eventdays.dayName("events", TODAY + 1),
        old: "events_default",
    }
    # The hourly purge's upkeep moves it into a table of its day.
    with _engines.transaction(pg):
        _eventdays.keepDays(pg, time.time())
    assert where(pg, "events")[old] == _eventdays.dayName("events", TODAY - 5)
    assert where(pg, "event_tags") == {
        today: _eventdays.dayName("event_tags", TODAY),
        tomorrow: _eventdays.dayName("event_tags", TODAY + 1),
        old: _eventdays.dayName("event_tags", TODAY - 5),
    }
    assert pg.execute("SELECT count(*) FROM events_default").fetchone()[0] == 0


def test_the_purge_drops_whole_days_and_deletes_the_rest_of_the_last(pg):
    oldest = add(pg, (TODAY - 5) * DAY + 100)
    older = add(pg, (TODAY - 3) * DAY + 100)
    early = add(pg, (TODAY - 2) * DAY + 100)
    late = add(pg, (TODAY - 2) * DAY + 80000)
    kept = add(pg, TODAY * DAY + 100)
    before = (TODAY - 2) * DAY + 40000
    with _engines.transaction(pg):
        (removed,) = Purge(before, time.time())(EventStore(pg))
    assert removed == 3
    for table in _eventdays.TABLES:
        assert set(_eventdays.days(pg, table)) == {TODAY - 2, TODAY, TODAY + 1, TODAY + 2}
    assert set(where(pg, "events")) == {late, kept}
    assert set(where(pg, "event_tags")) == {late, kept}
    assert {oldest, older, early}.isdisjoint(where(pg, "events"))
    # The tables made for the days after today stay.
    with _engines.transaction(pg):
        (removed,) = Purge(before, time.time())(EventStore(pg))
    assert removed == 0


def test_paging_by_id_crosses_the_days_tables(pg):
    times = [TODAY * DAY + 10, (TODAY - 3) * DAY, TODAY * DAY + 20, (TODAY + 1) * DAY, 1000.0]
    ids = [add(pg, when, qid=f"Q{n}") for n, when in enumerate(times)]
    assert ids == sorted(ids)
    store = EventStore(pg)
    first = store.events(EventQuery(limit=2))
    second = store.events(EventQuery(after=first[-1].id, limit=2))
    third = store.events(EventQuery(after=second[-1].id, limit=2))
    assert [e.id for e in first + second + third] == ids
    assert [e.time for e in first + second + third] == times
    tagged = store.events(EventQuery(tag="spring", after=ids[1], limit=10))
    assert [e.id for e in tagged] == ids[2:]


def _atVersion(db, last: int) -> None:
    """Bring an empty PostgreSQL database to schema version C{last} (a release before it)."""
    with _engines.transaction(db):
        db.execute(
            "CREATE TABLE schema_version"
            " (version INTEGER PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)"
        )
        for step in steps(_postgres.DIALECT)[:last]:
            for statement in step.statements():
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?, 0)", (step.version,))


def test_a_database_with_one_events_table_upgrades_in_place(postgresDatabase):
    db = _postgres.connect(postgresDatabase)
    _atVersion(db, 12)
    assert db.execute("SELECT relkind FROM pg_class WHERE relname = 'events'").fetchone() == ("r",)
    times = [(TODAY - 4) * DAY + 5, (TODAY - 1) * DAY + 5, TODAY * DAY + 5]
    with _engines.transaction(db):
        for n, when in enumerate(times):
            (id,) = db.execute(
                "INSERT INTO events (type, time, qid, recipient, tags, details)"
                " VALUES ('delivery', ?, ?, 'a@x.test', '[\"spring\"]', '{}') RETURNING id",
                (when, f"Q{n}"),
            ).fetchone()
            db.execute("INSERT INTO event_tags (tag, event) VALUES ('spring', ?)", (id,))
        # Events numbered since and purged already: their numbers are not given again.
        db.execute("SELECT nextval(pg_get_serial_sequence('events', 'id'))")
        db.execute("SELECT nextval(pg_get_serial_sequence('events', 'id'))")

    assert upgrade(db) == (12, CURRENT)
    assert db.execute("SELECT relkind FROM pg_class WHERE relname = 'events'").fetchone() == ("p",)
    store = EventStore(db)
    found = store.events(EventQuery(limit=10))
    assert [(e.id, e.time, e.qid, e.tags) for e in found] == [
        (n + 1, when, f"Q{n}", ("spring",)) for n, when in enumerate(times)
    ]
    assert [e.id for e in store.events(EventQuery(tag="spring", after=1))] == [2, 3]
    # In their days' tables, none left in the default ones.
    assert where(db, "events") == {
        1: _eventdays.dayName("events", TODAY - 4),
        2: _eventdays.dayName("events", TODAY - 1),
        3: _eventdays.dayName("events", TODAY),
    }
    assert set(where(db, "event_tags").values()) == {
        _eventdays.dayName("event_tags", day) for day in (TODAY - 4, TODAY - 1, TODAY)
    }
    assert db.execute("SELECT count(*) FROM events_default").fetchone()[0] == 0
    # Numbering goes on after the last number given.
    assert add(db, time.time()) == 6
    db.close()


def test_a_start_that_cannot_lock_the_events_goes_on_without_their_days(
    postgresDatabase, monkeypatch
):
    db = openDatabase(PostgreSQL(postgresDatabase))
    db.execute("DROP TABLE events_" + time.strftime("%Y%m%d", time.gmtime(TODAY * DAY)))
    monkeypatch.setattr(_eventdays, "LOCK_TIMEOUT", "100ms")
    reader = _postgres.connect(postgresDatabase)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events")  # a long read holds its lock
    assert upgrade(db) == (CURRENT, CURRENT)  # no error, the start goes on
    assert TODAY not in _eventdays.days(db, "events")
    assert add(db, time.time())  # into the DEFAULT partition meanwhile
    # Once the read is over, the next start (or purge) makes the day's table.
    reader.execute("ROLLBACK")
    upgrade(db)
    assert set(where(db, "events").values()) == {_eventdays.dayName("events", TODAY)}
    reader.close()
    db.close()


def test_an_event_dated_past_9999_stays_in_the_default_table(pg):
    far = add(pg, 1e13)  # no table is made for its day, and every start
    dated = add(pg, (TODAY - 1) * DAY)  # would try again
    assert upgrade(pg) == (CURRENT, CURRENT)
    assert where(pg, "events") == {
        far: "events_default",
        dated: _eventdays.dayName("events", TODAY - 1),
    }
    assert not _eventdays._needed(pg, time.time())


def test_nodes_starting_at_once_make_the_days_tables_in_turn(postgresDatabase):
    db = openDatabase(PostgreSQL(postgresDatabase))
    for table in _eventdays.TABLES:
        db.execute(f"DROP TABLE {_eventdays.dayName(table, TODAY + 2)}")
    ids = [add(db, (TODAY - days) * DAY) for days in (3, 2)]
    _, errors = upgradeAtOnce(postgresDatabase, 3)
    assert errors == []
    assert set(_eventdays.days(db, "events")) == {TODAY - 3, TODAY - 2, TODAY, TODAY + 1, TODAY + 2}
    assert where(db, "events") == {
        ids[0]: _eventdays.dayName("events", TODAY - 3),
        ids[1]: _eventdays.dayName("events", TODAY - 2),
    }
    db.close()
