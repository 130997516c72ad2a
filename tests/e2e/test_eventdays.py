"""
A gateway on PostgreSQL keeps events in tables per day
(L{smtpeter.store._eventdays}): events of earlier days, found in the
default table, are moved into their days' tables when it starts, and the
events API's cursor walks every event once, in order, across the days.
"""

from __future__ import annotations

import json
import time

from smtpeter.store import PostgreSQL, _engines, _eventdays, openDatabase
from smtpeter.store._events import EventStore

from ..conftest import eventually
from .conftest import compose, get, send

DAY = _eventdays.DAY


def test_the_events_api_pages_across_the_days_tables(
    makeGateway, sink, postgresDatabase, monkeypatch
):
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    today = int(time.time() // DAY)
    db = openDatabase(PostgreSQL(postgresDatabase))
    with _engines.transaction(db):
        store = EventStore(db)
        for days in (5, 3, 1):
            when = (today - days) * DAY + 3600
            store.addEvent("click", when, "0123456789ABCDEF0123", "a@x.test", ("old",), {})
    old = dict(db.execute("SELECT id, tableoid::regclass::text FROM events").fetchall())
    assert set(old.values()) == {"events_default"}

    gateway = makeGateway(sink, "--workers", "1")
    password = gateway.createLogin("app")
    for n in range(2):
        send(gateway, "app", password, compose({}, subject=f"{n}"))
    sink.wait(2)
    token = json.loads(gateway.cli("token", "create", "ops", "--json").stdout)["token"]
    auth = {"Authorization": f"Bearer {token}"}

    def page(query: str) -> dict:
        response, body = get(gateway, f"/v1/events?{query}", **auth)
        assert response.status == 200, body
        return json.loads(body)

    everything = eventually(
        lambda: (found := page("limit=1000")["events"]) and len(found) == 7 and found,
        what="the old events and an attempt and a delivery for each message",
    )
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids) and ids[:3] == sorted(old)
    seen, cursor = [], None
    while True:
        found = page("limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [e["id"] for e in found["events"]]
        cursor = found["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert [e["id"] for e in page("tag=old&limit=2")["events"]] == ids[:2]

    # The start moved the old events into their days' tables.
    moved = dict(db.execute("SELECT id, tableoid::regclass::text FROM events").fetchall())
    assert {moved[id] for id in old} == {
        _eventdays.dayName("events", today - days) for days in (5, 3, 1)
    }
    assert {moved[id] for id in ids[3:]} == {_eventdays.dayName("events", today)}
    db.close()
