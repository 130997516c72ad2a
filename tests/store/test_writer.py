"""
The database's writer (L{smtpeter.store._writer}): on PostgreSQL, the
statements of a batch's transaction go to the server together, so that
a batch costs a few round trips, not one per statement.
"""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from smtpeter.runtime import PostgreSQL
from smtpeter.store import _commands as do
from smtpeter.store import connect, openDatabase
from smtpeter.store._events import EventStore, StoredEvent
from smtpeter.store._writer import Writer
from smtpeter.testing import RoundTrips

from .conftest import message

QIDS = [f"{i:020X}" for i in range(10)]


class _Reactor:
    def callFromThread(self, f, *args):
        f(*args)


@pytest.fixture
def writing(postgresDatabase):
    """A writer and its store on a new PostgreSQL database, connected (the counts are of writes)."""
    database = PostgreSQL(postgresDatabase)
    openDatabase(database).close()
    writer = Writer(_Reactor(), lambda: connect(database), Clock(), database)
    store = EventStore(connect(database))
    store.db.execute("SELECT 1").fetchone()
    yield writer, store
    store.db.close()


def commit(writing, batch: list) -> tuple[list, int | None]:
    """The batch committed by the writer: its results, and the round trips it took."""
    writer, store = writing
    with RoundTrips(store.db._connection().pgconn) as trips:
        results = writer._commitBatch(store, batch)
    assert not store.db.in_transaction
    return results, trips.count


def delivered(qid: str) -> do.AddEvent:
    return do.AddEvent("delivery", 1001.0, qid, "a@x.test", ("spring",), {"attempt": 1})


def test_a_batch_of_events_takes_two_round_trips_however_many(writing):
    """
    Every statement of every event (with its tags) and the webhooks' read
    sent at once, read in one wait; the counters and the COMMIT.
    """
    commit(writing, [do.Accepted(message(qid)) for qid in QIDS])
    results, trips = commit(writing, [delivered(qid) for qid in QIDS])
    assert trips == 2
    assert [[e.qid for e in result] for result in results] == [[qid] for qid in QIDS]
    ids = [e.id for result in results for e in result]
    writer, store = writing
    tagged = store.db.execute(
        "SELECT event FROM event_tags WHERE tag = 'spring' AND event = ANY(?) ORDER BY event",
        (ids,),
    ).fetchall()
    assert [event for (event,) in tagged] == sorted(ids)


def test_a_batch_of_messages_takes_three_round_trips_however_many(writing):
    """One more than events': whether each message's row was new, read for all at once."""
    results, trips = commit(writing, [do.Accepted(message(qid)) for qid in QIDS])
    assert trips == 3
    assert [[(e.qid, e.recipient) for e in result] for result in results] == [
        [(qid, "a@x.test"), (qid, "b@x.test")] for qid in QIDS
    ]


def test_a_failed_statement_in_a_batch_fails_only_its_item(writing):
    """Its error comes at the end of the batch's pipeline: the rest are written again alone."""
    writer, store = writing
    broken = do.Call(EventStore, lambda s: s.db.execute("INSERT INTO nowhere VALUES (1)"))
    results, _ = commit(writing, [delivered(QIDS[0]), broken, delivered(QIDS[1])])
    assert isinstance(results[0][0], StoredEvent) and isinstance(results[2][0], StoredEvent)
    assert "nowhere" in str(results[1].value)
    found = store.db.execute("SELECT qid FROM events ORDER BY id").fetchall()
    assert found == [(QIDS[0],), (QIDS[1],)]


def test_a_message_recorded_before_adds_no_events(writing):
    """Whether its row was new is read in the pipeline too (the row count)."""
    commit(writing, [do.Accepted(message(QIDS[0]))])
    results, _ = commit(writing, [do.Accepted(message(QIDS[0])), do.Accepted(message(QIDS[1]))])
    assert [len(result) for result in results] == [0, 2]


def counts(store) -> dict:
    rows = store.db.execute("SELECT tag, kind, count FROM stats_hourly").fetchall()
    return {(tag, kind): count for tag, kind, count in rows}


def test_a_batch_adds_to_each_counter_once_with_its_total(writing):
    writer, store = writing
    commit(writing, [do.Accepted(message(qid)) for qid in QIDS])
    commit(writing, [delivered(qid) for qid in QIDS[:3]])
    assert counts(store) == {
        ("", "accepted"): 20,
        ("spring", "accepted"): 20,
        ("", "delivered"): 3,
        ("spring", "delivered"): 3,
    }


def test_a_batch_that_failed_counts_only_what_was_committed(writing):
    """Its items are written again one by one: their counts once, the failed item's never."""
    writer, store = writing
    broken = do.Call(EventStore, lambda s: s.db.execute("INSERT INTO nowhere VALUES (1)"))
    commit(writing, [do.Accepted(message(QIDS[0])), broken, delivered(QIDS[0])])
    assert counts(store) == {
        ("", "accepted"): 2,
        ("spring", "accepted"): 2,
        ("", "delivered"): 1,
        ("spring", "delivered"): 1,
    }
