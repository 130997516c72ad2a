"""The counting event sink: what happens to mail, per login, as Prometheus counters."""

from __future__ import annotations

from prometheus_client import REGISTRY
from zope.interface.verify import verifyObject

from smtpeter.events import CountingSink, Event, IEventSink
from smtpeter.message import Envelope, Options, QueuedMessage, Recipient
from smtpeter.testing import result


def _value(name: str, login: str) -> float:
    return REGISTRY.get_sample_value(name, {"login": login}) or 0.0


def _message(qid: str, login: str | None, received: float, isDSN: bool = False) -> QueuedMessage:
    envelope = Envelope("s@x.test", (Recipient("a@x.test"), Recipient("b@x.test")))
    return QueuedMessage(qid, envelope, Options(login=login), received, b"", isDSN)


def test_provides_the_interface():
    assert verifyObject(IEventSink, CountingSink(0.0))


def test_counts_messages_accepted_since_it_was_made_by_login():
    sink = CountingSink(100.0)
    before = _value("smtpeter_messages_accepted_total", "count-a")
    result(sink.accepted(_message("Q1", "count-a", 100.0)))
    result(sink.accepted(_message("Q2", "count-a", 101.0)))
    assert _value("smtpeter_messages_accepted_total", "count-a") == before + 2


def test_resumed_messages_and_notices_are_not_counted_as_accepted():
    sink = CountingSink(100.0)
    before = _value("smtpeter_messages_accepted_total", "count-b")
    notices = _value("smtpeter_messages_accepted_total", "")
    result(sink.accepted(_message("Q3", "count-b", 99.0)))  # received before this process
    result(sink.accepted(_message("Q4", None, 100.0, isDSN=True)))
    assert _value("smtpeter_messages_accepted_total", "count-b") == before
    assert _value("smtpeter_messages_accepted_total", "") == notices


def test_counts_each_outcome_by_the_login_of_its_message():
    sink = CountingSink(0.0)
    names = {
        "delivery": "smtpeter_recipients_delivered_total",
        "deferral": "smtpeter_recipients_deferred_total",
        "failure": "smtpeter_recipients_failed_total",
    }
    before = {kind: _value(name, "count-c") for kind, name in names.items()}
    for kind, times in (("delivery", 3), ("deferral", 2), ("failure", 1)):
        for _ in range(times):
            result(sink.record(Event(kind, "Q5", "a@x.test", 1.0, login="count-c")))
    # Attempts and warnings are not outcomes: nothing counts them.
    result(sink.record(Event("attempt", "Q5", "a@x.test", 1.0, login="count-c")))
    result(sink.record(Event("warning", "Q5", "a@x.test", 1.0, login="count-c")))
    after = {kind: _value(name, "count-c") for kind, name in names.items()}
    assert {k: after[k] - before[k] for k in names} == {
        "delivery": 3,
        "deferral": 2,
        "failure": 1,
    }


def test_an_event_without_a_login_counts_under_the_empty_login():
    sink = CountingSink(0.0)
    before = _value("smtpeter_recipients_delivered_total", "")
    result(sink.record(Event("delivery", "Q6", "a@x.test", 1.0)))
    assert _value("smtpeter_recipients_delivered_total", "") == before + 1
