"""
What only the SQLite store does, over a real database with its real
threads: group commits, a failing write failing alone, durable before
answered, and bookkeeping that never holds up an answer. What every store
does is in test_contract.py.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import time

import pytest

from smtpeter.events import DELIVERY, Event
from smtpeter.store import (
    CURRENT,
    LoginStore,
    SQLiteStore,
    connect,
    openDatabase,
    upgrade,
)
from smtpeter.store._events import EventStore
from smtpeter.store._suppressions import SuppressionStore
from smtpeter.store._webhooks import WebhookStore
from smtpeter.testing import PumpedReactor

from .conftest import QID, message


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
    transaction = store._writer._transaction
    store._writer._transaction = lambda db, batch: (
        batches.append(len(batch)),
        transaction(db, batch),
    )[1]
    ds = [store.record(Event(DELIVERY, QID, "a@x.test", float(i))) for i in range(300)]
    for d in ds:
        store.wait(d)
    assert sum(batches) == 300
    assert len(batches) < 300  # grouped: far fewer commits than events
    assert count(tmp_path) == 302


def firedAfter(store, d) -> float:
    started = time.monotonic()
    store.wait(d)
    return time.monotonic() - started


def test_a_busy_writer_lets_writes_nobody_waits_for_linger_until_one_somebody_does(
    store, tmp_path, monkeypatch
):
    # A linger far longer than anything here takes, even on a busy machine.
    monkeypatch.setattr(store._writer, "linger", 10.0)
    # Idle: even a message's events (nobody waits for them) are committed at once.
    assert firedAfter(store, store.accepted(message())) < 5
    assert count(tmp_path) == 2  # its two attempts
    # Just committed, so busy: a write nobody waits for waits for company.
    lingering = store.record(Event(DELIVERY, QID, "a@x.test", 1.0))
    time.sleep(0.2)
    assert count(tmp_path) == 2  # not written yet
    # A write that someone waits for (a click's redirect) ends the wait at
    # once, and the lingering one shares its commit.
    assert firedAfter(store, store.recordClick(QID, "a@x.test", (), {}, 3.0)) < 5
    assert lingering.called
    assert count(tmp_path) == 4  # two attempts, a delivery, a click


def test_a_lingering_write_is_committed_alone_when_the_linger_is_over(store, tmp_path, monkeypatch):
    monkeypatch.setattr(store._writer, "linger", 0.5)
    started = time.monotonic()
    store.wait(store.accepted(message()))  # idle: at once, and busy from its commit
    store.wait(store.record(Event(DELIVERY, QID, "a@x.test", 1.0)))  # nothing else comes
    # The linger ran from the first commit, which ended after started.
    assert time.monotonic() - started >= 0.5
    assert count(tmp_path) == 3


def test_a_read_sees_the_writes_given_before_it_even_lingering_ones(store, tmp_path, monkeypatch):
    monkeypatch.setattr(store._writer, "linger", 30.0)
    store.wait(store.recordClick(QID, "a@x.test", (), {}, 1.0))  # busy from now
    accepted = store.accepted(message())
    time.sleep(0.2)
    assert count(tmp_path) == 1  # the message lingers
    started = time.monotonic()
    assert store.wait(store.message(QID)) is not None
    assert accepted.called and time.monotonic() - started < 10  # far from the linger
    assert store._writer.unanswered == 0


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
    assert store._writer.unanswered == 0  # a failed write is answered too


def test_a_store_first_made_inside_a_batch_keeps_the_batch_one_transaction(store, tmp_path):
    """
    Webhook deliveries are queued inside the writer's transaction, through a
    store made there the first time; making its schema must not commit the
    transaction half-way (which once failed the first batch after every
    start, and its retry wrote the events twice).
    """
    WebhookStore(openDatabase(tmp_path / "db.sqlite")).add("https://h.example/", ["delivery"])
    [event] = store.wait(store.record(Event(DELIVERY, QID, "a@x.test", 1.0)))
    assert event.type == "delivery"
    assert count(tmp_path) == 1 and count(tmp_path, "webhook_deliveries") == 1


def test_auth_answers_before_its_bookkeeping_is_written(store, tmp_path):
    logins = LoginStore(openDatabase(tmp_path / "db.sqlite"))
    _, password = logins.create("app", [])
    writes = []
    write = store._write
    store._write = lambda work, **kw: (writes.append(write(work, **kw)), writes[-1])[1]
    # Another process holds the write lock: the writer must wait, AUTH must not.
    blocker = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    assert store.wait(store.authenticate("app", password)).name == "app"
    # Checking the password writes nothing: the throttle may yet refuse it.
    assert writes == []
    assert store.wait(store.noteLoginUse("app")) is None
    [pending] = writes  # last_used, given to the writer
    assert not pending.called and logins.get("app").lastUsed is None
    blocker.execute("COMMIT")
    store.wait(pending)
    assert logins.get("app").lastUsed is not None
    writes.clear()
    store.wait(store.authenticate("app", password))
    store.wait(store.noteLoginUse("app"))
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
    assert upgrade(db) == (0, CURRENT)
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
    assert upgrade(db) == (0, CURRENT)
    record = EventStore(db).message(QID)
    assert record.sender == "a@x.test" and (record.subject, record.size) == (None, None)


def test_each_webhook_keeps_its_latest_delivery_attempts(store, tmp_path, monkeypatch):
    monkeypatch.setattr("smtpeter.store._webhooks.HISTORY", 3)
    hooks = WebhookStore(openDatabase(tmp_path / "db.sqlite"))
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


def reads(store) -> list[str]:
    """The reads the store sends to its reading threads from now on, by what they call."""
    names: list[str] = []
    read = store._read

    def counted(method, *args):
        names.append(getattr(method, "__qualname__", repr(method)))
        return read(method, *args)

    store._read = counted
    return names


def test_auth_keeps_a_login_and_sees_every_change_made_elsewhere_at_the_next_auth(store, tmp_path):
    cli = LoginStore(openDatabase(tmp_path / "db.sqlite"))  # as the CLI and the admin API change it
    _, password = cli.create("app", [])
    done = reads(store)
    for attempt in (password, password, "wrong"):
        store.wait(store.authenticate("app", attempt))
    assert len(done) == 1  # read once, then kept
    cli.setEnabled("app", False)
    assert store.wait(store.authenticate("app", password)) is None
    cli.setEnabled("app", True)
    _, new = cli.resetPassword("app")
    assert store.wait(store.authenticate("app", password)) is None
    assert store.wait(store.authenticate("app", new)).name == "app"
    cli.update("app", enable=["trackclicks"])
    assert store.wait(store.authenticate("app", new)).features == {"trackclicks"}
    cli.setHold("app", True)
    assert store.wait(store.authenticate("app", new)).hold
    cli.delete("app")
    assert store.wait(store.authenticate("app", new)) is None
    assert done == ["LoginStore.get"] * 6  # then one after each change (reset: two at once)


def test_an_earlier_versions_scrypt_hash_is_checked_in_a_thread_and_replaced(store, tmp_path):
    db = openDatabase(tmp_path / "db.sqlite")
    _, password = LoginStore(db).create("old", [])
    digest = hashlib.scrypt(password.encode(), salt=b"salt", n=2, r=8, p=1, dklen=32)
    old = f"scrypt$2$8$1${base64.b64encode(b'salt').decode()}${base64.b64encode(digest).decode()}"
    db.execute("UPDATE logins SET password_hash = ? WHERE name = 'old'", (old,))
    done = reads(store)
    assert store.wait(store.authenticate("old", password)).name == "old"
    assert done == ["LoginStore.get", "LoginStore.check"]  # the slow hash: not on the reactor
    deadline = time.monotonic() + 10
    while LoginStore(db).get("old").passwordHash == old:  # the writer replaces it, after
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert store.wait(store.authenticate("old", password)).name == "old"
    assert store.wait(store.authenticate("old", password + "x")) is None
    assert done[2:] == ["LoginStore.get"]  # read again once, as the hash changed


def test_a_ban_recorded_by_another_worker_is_seen_at_once(store, tmp_path):
    elsewhere = PumpedReactor()
    other = SQLiteStore(tmp_path / "db.sqlite", elsewhere)
    other.start()
    try:
        assert store.wait(store.authBannedUntil("192.0.2.7", 10.0)) is None
        done = reads(store)
        assert store.wait(store.authBannedUntil("192.0.2.7", 10.0)) is None
        assert done == []  # kept
        for t in range(5):
            elsewhere.wait(other.recordAuthFailure("192.0.2.7", float(t), 600, 5, 60))
        assert store.wait(store.authBannedUntil("192.0.2.7", 10.0)) == 64.0
        assert store.wait(store.authBannedUntil("192.0.2.7", 64.0)) is None  # over
        assert len(done) == 1
    finally:
        other.stop()


def test_the_suppression_list_is_kept_and_sees_changes_made_elsewhere(store, tmp_path):
    cli = SuppressionStore(openDatabase(tmp_path / "db.sqlite"))
    cli.add("gone@x.test", "hard bounce", 1.0, 100.0)
    addresses = ["gone@x.test", "here@x.test"]
    assert set(store.wait(store.suppressed(addresses, 50.0))) == {"gone@x.test"}
    done = reads(store)
    assert set(store.wait(store.suppressed(addresses, 50.0))) == {"gone@x.test"}
    assert store.wait(store.suppressed(addresses, 100.0)) == {}  # expired, without a read
    assert done == []
    cli.add("here@x.test", "complaint", 2.0, None)
    cli.delete("gone@x.test")
    assert set(store.wait(store.suppressed(addresses, 50.0))) == {"here@x.test"}
    assert len(done) == 1


def test_the_writer_and_reader_threads_are_batch_work(store):
    assert os.sched_getscheduler(store._writer.thread.native_id) == os.SCHED_BATCH
    assert store.wait(store._read(lambda _: os.sched_getscheduler(0))) == os.SCHED_BATCH
