"""IEventSink implementations."""

from __future__ import annotations

from zope.interface.verify import verifyObject

from smtpeter.events import Event, IEventSink, LogEventSink, MemoryEventSink
from smtpeter.testing import result


def test_sinks_provide_the_interface():
    for sink in (LogEventSink(), MemoryEventSink()):
        assert verifyObject(IEventSink, sink)


def test_memory_sink_keeps_events_in_order():
    sink = MemoryEventSink()
    first = Event("attempt", "Q1", "a@x.test", 1.0, ("t",), {"sender": "s@x.test"})
    second = Event("delivery", "Q1", "a@x.test", 2.0)
    assert result(sink.record(first)) is None
    result(sink.record(second))
    assert sink.events == [first, second]


def test_log_sink_writes_one_line_per_outcome_and_none_per_attempt():
    from twisted.logger import globalLogPublisher

    seen = []
    globalLogPublisher.addObserver(seen.append)
    try:
        sink = LogEventSink()
        result(sink.record(Event("attempt", "Q9", "a@x.test", 2.0)))
        result(sink.record(Event("failure", "Q9", "b@x.test", 3.0, (), {"code": 550})))
    finally:
        globalLogPublisher.removeObserver(seen.append)
    [entry] = [e for e in seen if e.get("qid") == "Q9"]
    assert (entry["type"], entry["recipient"], entry["details"]) == (
        "failure",
        "b@x.test",
        "code=550",
    )
