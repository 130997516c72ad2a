"""The durable event log over a real SQLite database, with its real threads."""

from __future__ import annotations

import queue
import sqlite3

import pytest
from zope.interface.verify import verifyObject

from smtpeter.events import DEFERRAL, DELIVERY, FAILURE, Event, EventLog, IEventSink
from smtpeter.queue import Envelope, Options, QueuedMessage
from smtpeter.queue._message import Recipient
from smtpeter.store._events import EventQuery


class PumpedReactor:
    """Just what EventLog needs of a reactor: callFromThread, run by L{wait}."""

    def __init__(self) -> None:
        self.calls: queue.Queue = queue.Queue()

    def callFromThread(self, f, *args, **kwargs):
        self.calls.put((f, args, kwargs))

    def wait(self, d, timeout: float = 10.0):
        results = []
        d.addBoth(results.append)
        while not results:
            f, args, kwargs = self.calls.get(timeout=timeout)
            f(*args, **kwargs)
        if hasattr(results[0], "raiseException"):
            results[0].raiseException()
        return results[0]


@pytest.fixture
def log(tmp_path):
    reactor = PumpedReactor()
    eventLog = EventLog(tmp_path / "db.sqlite", reactor)
    eventLog.start()
    eventLog.wait = reactor.wait
    yield eventLog
    eventLog.stop()


def message(qid="0123456789ABCDEF0123", tags=("spring",), recipients=("a@x.test", "b@x.test")):
    envelope = Envelope(
        "news@shop.test",
        tuple(Recipient(r, ("NEVER",) if r.startswith("b") else ()) for r in recipients),
    )
    options = Options(frozenset({"trackclicks"}), tags, "shop")
    return QueuedMessage(qid, envelope, options, 1000.0, b"", False)


def test_provides_the_interface(log):
    assert verifyObject(IEventSink, log)


def test_an_accepted_message_is_recorded_once_with_an_attempt_per_recipient(log):
    first = log.wait(log.accepted(message()))
    again = log.wait(log.accepted(message()))
    assert [(e.type, e.recipient) for e in first] == [
        ("attempt", "a@x.test"),
        ("attempt", "b@x.test"),
    ]
    assert again == []
    record = log.wait(log.read(lambda store: store.message("0123456789ABCDEF0123")))
    assert record.sender == "news@shop.test"
    assert record.recipient(1).notify == ("NEVER",)
    assert record.tags == ("spring",)
    assert record.options["features"] == ["trackclicks"]
    assert first[0].details["features"] == ["trackclicks"]


def test_deferrals_are_stored_as_temporary_failures(log):
    qid = "0123456789ABCDEF0123"
    log.wait(log.record(Event(DEFERRAL, qid, "a@x.test", 5.0, (), {"code": 451})))
    log.wait(log.record(Event(FAILURE, qid, "a@x.test", 6.0, (), {"code": 550})))
    events = log.wait(log.read(lambda store: store.messageEvents(qid)))
    assert [(e.type, e.details["permanent"], e.details["code"]) for e in events] == [
        ("failure", False, 451),
        ("failure", True, 550),
    ]


def test_queries_filter_by_each_field_and_page_with_the_cursor(log):
    log.wait(log.accepted(message()))
    log.wait(log.accepted(message("FEDCBA98765432100000", tags=("autumn",))))
    for qid in ("0123456789ABCDEF0123", "FEDCBA98765432100000"):
        log.wait(log.record(Event(DELIVERY, qid, "A@X.test", 2000.0, ("t2",), {"code": 250})))

    def ids(**filters):
        found = log.wait(log.read(lambda s: s.events(EventQuery(**filters))))
        return [(e.type, e.qid[:4], e.recipient) for e in found]

    assert ids(tag="autumn") == [("attempt", "FEDC", "a@x.test"), ("attempt", "FEDC", "b@x.test")]
    assert ids(email="a@x.TEST", type="delivery") == [
        ("delivery", "0123", "A@X.test"),
        ("delivery", "FEDC", "A@X.test"),
    ]
    assert ids(messageid="FEDCBA98765432100000", start=1500.0) == [("delivery", "FEDC", "A@X.test")]
    assert len(ids(end=1500.0)) == 4
    first = log.wait(log.read(lambda s: s.events(EventQuery(limit=3))))
    rest = log.wait(log.read(lambda s: s.events(EventQuery(after=first[-1].id, limit=3))))
    assert len(first) == 3 and len(rest) == 3
    assert {e.id for e in first}.isdisjoint(e.id for e in rest)


def test_many_writes_waiting_together_share_one_transaction(log, tmp_path):
    log.wait(log.accepted(message()))
    batches = []
    log.committed.append(batches.append)
    ds = [
        log.record(Event(DELIVERY, "0123456789ABCDEF0123", "a@x.test", float(i)))
        for i in range(300)
    ]
    for d in ds:
        log.wait(d)
    assert sum(len(b) for b in batches) == 300
    assert len(batches) < 300  # grouped: far fewer commits than events
    rows = sqlite3.connect(tmp_path / "db.sqlite").execute("SELECT count(*) FROM events")
    assert rows.fetchone()[0] == 302


def test_a_failing_write_fails_alone(log):
    def broken(store):
        raise ValueError("no")

    bad = log.write(broken)
    good = log.record(Event(DELIVERY, "0123456789ABCDEF0123", "a@x.test", 1.0))
    with pytest.raises(ValueError):
        log.wait(bad)
    assert [e.type for e in log.wait(good)] == ["delivery"]


def test_purge_forgets_old_events_and_messages(log):
    log.wait(log.accepted(message()))  # received at 1000
    log.wait(log.record(Event(DELIVERY, "0123456789ABCDEF0123", "a@x.test", 3000.0, ("x",))))
    assert log.wait(log.purge(2000.0)) == 2
    left = log.wait(log.read(lambda s: s.events(EventQuery())))
    assert [e.type for e in left] == ["delivery"]
    assert log.wait(log.read(lambda s: s.message("0123456789ABCDEF0123"))) is None
    assert [e.type for e in log.wait(log.read(lambda s: s.events(EventQuery(tag="x"))))] == [
        "delivery"
    ]


def test_a_store_first_made_inside_a_batch_keeps_the_batch_one_transaction(log, tmp_path):
    """
    The webhook hook makes its store inside the writer's transaction; making
    its schema must not commit that transaction half-way (which failed the
    first batch after every start, and its retry wrote the events twice).
    """
    from smtpeter.store._webhooks import WebhookStore

    log.inTransaction.append(lambda store, events: store.view(WebhookStore).queue(events, 0.0))
    [event] = log.wait(log.record(Event(DELIVERY, "0123456789ABCDEF0123", "a@x.test", 1.0)))
    assert event.type == "delivery"
    rows = sqlite3.connect(tmp_path / "db.sqlite").execute("SELECT count(*) FROM events")
    assert rows.fetchone()[0] == 1
