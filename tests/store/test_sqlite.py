"""
What only the SQLite store does, over a real database with its real
threads: group commits, a failing write failing alone, durable before
answered, and bookkeeping that never holds up an answer. What every store
does is in test_contract.py.
"""

from __future__ import annotations

import sqlite3

import pytest

from smtpeter.events import DELIVERY, Event
from smtpeter.store import LoginStore, SQLiteStore, connect
from smtpeter.store._events import EventStore
from smtpeter.store._webhooks import WebhookStore

from .test_contract import QID, PumpedReactor, message


@pytest.fixture
def store(tmp_path):
    reactor = PumpedReactor()
    store = SQLiteStore(tmp_path / "db.sqlite", reactor)
    store.start()
    store.wait = reactor.wait
    yield store
    store.stop()


def count(tmp_path, table: str = "events") -> int:
    return (
        sqlite3.connect(tmp_path / "db.sqlite")
        .execute(f"SELECT count(*) FROM {table}")
        .fetchone()[0]
    )


def test_many_writes_waiting_together_share_one_transaction(store, tmp_path):
    store.wait(store.accepted(message()))
    batches = []
    transaction = store._transaction
    store._transaction = lambda db, batch: (batches.append(len(batch)), transaction(db, batch))[1]
    ds = [store.record(Event(DELIVERY, QID, "a@x.test", float(i))) for i in range(300)]
    for d in ds:
        store.wait(d)
    assert sum(batches) == 300
    assert len(batches) < 300  # grouped: far fewer commits than events
    assert count(tmp_path) == 302


def test_a_write_is_on_disk_when_it_is_answered(store, tmp_path):
    store.wait(store.recordClick(QID, "a@x.test", (), {}, 1.0))
    assert count(tmp_path) == 1  # another connection sees it at once


def test_a_failing_write_fails_alone(store):
    def broken(db):
        raise ValueError("no")

    bad = store._write(broken)
    good = store.record(Event(DELIVERY, QID, "a@x.test", 1.0))
    with pytest.raises(ValueError):
        store.wait(bad)
    assert [e.type for e in store.wait(good)] == ["delivery"]


def test_a_store_first_made_inside_a_batch_keeps_the_batch_one_transaction(store, tmp_path):
    """
    Webhook deliveries are queued inside the writer's transaction, through a
    store made there the first time; making its schema must not commit the
    transaction half-way (which once failed the first batch after every
    start, and its retry wrote the events twice).
    """
    WebhookStore(connect(tmp_path / "db.sqlite")).add("https://h.example/", ["delivery"])
    [event] = store.wait(store.record(Event(DELIVERY, QID, "a@x.test", 1.0)))
    assert event.type == "delivery"
    assert count(tmp_path) == 1 and count(tmp_path, "webhook_deliveries") == 1


def test_auth_answers_before_its_bookkeeping_is_written(store, tmp_path):
    logins = LoginStore(connect(tmp_path / "db.sqlite"))
    _, password = logins.create("app", [])
    writes = []
    write = store._write
    store._write = lambda work: (writes.append(write(work)), writes[-1])[1]
    # Another process holds the write lock: the writer must wait, AUTH must not.
    blocker = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    assert store.wait(store.authenticate("app", password)).name == "app"
    [pending] = writes  # last_used, given to the writer
    assert not pending.called and logins.get("app").lastUsed is None
    blocker.execute("COMMIT")
    store.wait(pending)
    assert logins.get("app").lastUsed is not None
    writes.clear()
    store.wait(store.authenticate("app", password))
    assert writes == []  # once a minute at most


def test_stop_commits_what_is_waiting_and_closes_every_connection(tmp_path):
    reactor = PumpedReactor()
    store = SQLiteStore(tmp_path / "db.sqlite", reactor)
    store.start()
    store.wait = reactor.wait
    store.wait(store.message(QID))  # a reading thread opens its connection
    store.record(Event(DELIVERY, QID, "a@x.test", 1.0))
    store.domains()
    store.stop()
    assert count(tmp_path) == 1
    assert store._connections == []


def test_deliveries_queued_before_delivery_uids_get_one(tmp_path):
    db = connect(tmp_path / "db.sqlite")
    db.execute(  # the table as gateways before delivery uids made it
        "CREATE TABLE webhook_deliveries (id INTEGER PRIMARY KEY, webhook INTEGER NOT NULL,"
        " event INTEGER NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, created REAL NOT NULL,"
        " next_attempt REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0)"
    )
    db.execute(
        "INSERT INTO webhook_deliveries (webhook, event, type, body, created, next_attempt)"
        " VALUES (1, 7, 'click', '{}', 1, 1)"
    )
    store = WebhookStore(db)
    store.add("https://hooks.example/in", ["click"])
    [delivery] = store.due(2.0, 10)
    assert delivery.event == 7 and len(delivery.uid) == 32
    assert WebhookStore(db).due(2.0, 10)[0].uid == delivery.uid  # kept, not made anew


def test_message_records_from_before_search_fields_still_read(tmp_path):
    db = connect(tmp_path / "db.sqlite")
    db.execute(  # the table as gateways before the search fields made it
        "CREATE TABLE messages (qid TEXT PRIMARY KEY, received REAL NOT NULL, sender TEXT NOT"
        " NULL, recipients TEXT NOT NULL, ret TEXT, envid TEXT, tags TEXT NOT NULL, options"
        " TEXT NOT NULL, dsn INTEGER NOT NULL DEFAULT 0)"
    )
    db.execute(
        "INSERT INTO messages VALUES (?, 1.0, 'a@x.test', '[]', NULL, NULL, '[]', '{}', 0)",
        (QID,),
    )
    record = EventStore(db).message(QID)
    assert record.sender == "a@x.test" and (record.subject, record.size) == (None, None)


def test_each_webhook_keeps_its_latest_delivery_attempts(store, tmp_path, monkeypatch):
    monkeypatch.setattr("smtpeter.store._webhooks.HISTORY", 3)
    hooks = WebhookStore(connect(tmp_path / "db.sqlite"))
    hook = hooks.add("https://hooks.test/", ["delivery"])
    store.wait(store.accepted(message()))
    for n in range(4):
        store.wait(store.record(Event(DELIVERY, QID, "a@x.test", float(n))))
    deliveries = store.wait(store.dueWebhooks(1e12, 10))
    assert len(deliveries) == 4
    store.wait(store.webhookFailed(deliveries[0], "HTTP 500", 1e12))
    for delivery in deliveries[1:]:
        store.wait(store.webhookSucceeded(delivery, 50.0))
    history = hooks.history(hook.id)
    assert [h["event"] for h in history] == [d.event for d in reversed(deliveries[1:])]
    assert history[0] == {
        "time": 50.0,
        "delivery": deliveries[3].uid,
        "event": deliveries[3].event,
        "type": "delivery",
        "attempt": 1,
        "delivered": True,
        "error": None,
    }
    assert [h["error"] for h in hooks.history(hook.id, 5)] == [None, None, None]
    hooks.delete(hook.id)
    assert count(tmp_path, "webhook_attempts") == 0
