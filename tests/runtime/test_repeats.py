"""The same error again and again, logged once a minute with a count (smtpeter.runtime._repeats)."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.logger import Logger, LogLevel

from smtpeter.runtime._repeats import KINDS, RepeatedErrors, stopAll


def logged():
    events: list[dict] = []
    return Logger(namespace="test", observer=events.append), events


def fail(repeated: RepeatedErrors, text: str = "file is not a database") -> None:
    try:
        raise RuntimeError(text)
    except RuntimeError:
        repeated.failure("{uri} failed", uri="/v1/x")


def test_a_repeated_error_is_logged_once_a_minute_with_its_count():
    log, events = logged()
    clock = Clock()
    repeated = RepeatedErrors(log, clock=clock)
    for _ in range(50):
        fail(repeated)
        clock.advance(0.5)
    assert len(events) == 1 and events[0]["log_level"] == LogLevel.critical
    assert "log_failure" in events[0]  # the first one has its traceback
    clock.advance(34)  # the minute is up: the count, though the error stopped
    assert len(events) == 1
    clock.advance(1)
    assert len(events) == 2 and events[1]["log_level"] == LogLevel.critical
    assert events[1]["repeats"] == 49 and events[1]["repeatSeconds"] == 60
    assert "49 more like it" in events[1]["log_format"].format(**events[1])
    assert "log_failure" not in events[1] and events[1]["uri"] == "/v1/x"
    clock.advance(600)  # nothing more pending: nothing more logged
    assert len(events) == 2 and not clock.getDelayedCalls()


def test_the_error_going_on_is_logged_once_a_minute_each_with_its_count():
    log, events = logged()
    clock = Clock()
    repeated = RepeatedErrors(log, clock=clock)
    for _ in range(300):  # five minutes, one error a second
        fail(repeated)
        clock.advance(1)
    assert [e.get("repeats") for e in events] == [None, 59, 60, 60, 60, 60]
    fail(repeated)  # a repeat after the last count: logged at its minute
    clock.advance(59)
    assert len(events) == 6
    clock.advance(1)
    assert [e.get("repeats") for e in events] == [None, 59, 60, 60, 60, 60, 1]


def test_a_repeat_after_a_quiet_minute_is_logged_at_once_with_its_traceback():
    log, events = logged()
    clock = Clock()
    repeated = RepeatedErrors(log, clock=clock)
    fail(repeated)
    clock.advance(61)
    fail(repeated)
    assert len(events) == 2 and "log_failure" in events[1] and "repeats" not in events[1]


def test_stopping_logs_the_pending_counts_and_cancels_their_timers():
    log, events = logged()
    clock = Clock()
    repeated = RepeatedErrors(log, clock=clock)
    for _ in range(3):
        fail(repeated)
        clock.advance(1)
    assert len(clock.getDelayedCalls()) == 1
    stopAll()
    assert not clock.getDelayedCalls()
    assert len(events) == 2 and events[1]["repeats"] == 2
    clock.advance(120)
    assert len(events) == 2


def test_other_errors_are_logged_each_the_first_time_and_memory_stays_bounded():
    log, events = logged()
    repeated = RepeatedErrors(log, clock=Clock())
    fail(repeated, "one")
    fail(repeated, "two")
    fail(repeated, "one")
    assert len(events) == 2
    for n in range(KINDS * 3):
        repeated.emit(LogLevel.warn, "could not note {n}", key=n, n=n)
    assert len(repeated._seen) <= KINDS
    assert events[-1]["log_level"] == LogLevel.warn and events[-1]["n"] == KINDS * 3 - 1
