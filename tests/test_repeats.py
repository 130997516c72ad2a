"""The same error again and again, logged once a minute with a count (smtpeter._repeats)."""

from __future__ import annotations

from twisted.logger import Logger, LogLevel

from smtpeter._repeats import KINDS, RepeatedErrors


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


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
        clock.now += 0.5
    assert len(events) == 1 and events[0]["log_level"] == LogLevel.critical
    assert "log_failure" in events[0]  # the first one has its traceback
    clock.now += 40  # a minute after the first
    fail(repeated)
    assert len(events) == 2
    assert events[1]["repeats"] == 49 and events[1]["repeatSeconds"] == 65
    assert "49 more like it" in events[1]["log_format"].format(**events[1])


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
