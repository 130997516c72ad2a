"""
The queue's gauges, set every few seconds: this worker's messages by state
(SQLite), or the whole shared queue's (PostgreSQL).
"""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client import REGISTRY
from twisted.internet.defer import fail, succeed
from twisted.internet.task import Clock

from smtpeter.queue.manager import QueueGauges, SharedQueueGauges, queueStates


def _entry(held=False, ready=False, running=False):
    return SimpleNamespace(held=held, ready=ready, running=running)


ENTRIES = {
    "A": _entry(held=True),
    "B": _entry(ready=True),
    "C": _entry(running=True),
    "D": _entry(),
    "E": _entry(),
    "F": _entry(),
}


def test_each_message_counts_in_one_state():
    assert queueStates(ENTRIES.values()) == {"held": 1, "ready": 2, "scheduled": 3}
    assert queueStates([]) == {"held": 0, "ready": 0, "scheduled": 0}


def _gauge(state: str) -> float | None:
    return REGISTRY.get_sample_value("smtpeter_queue_messages", {"state": state})


def test_the_gauges_follow_the_queue_at_each_tick():
    clock = Clock()
    manager = SimpleNamespace(entries=dict(ENTRIES))
    gauges = QueueGauges(manager, clock)
    gauges.startService()
    try:
        assert (_gauge("held"), _gauge("ready"), _gauge("scheduled")) == (1, 2, 3)
        manager.entries = {"B": _entry(ready=True)}
        clock.advance(4)
        assert _gauge("scheduled") == 3  # not yet: every 5 s
        clock.advance(1)
        assert (_gauge("held"), _gauge("ready"), _gauge("scheduled")) == (0, 1, 0)
    finally:
        gauges.stopService()


def test_the_shared_queue_s_gauges_are_its_counts_and_outlast_a_failed_read():
    clock = Clock()
    answers = [
        succeed({"ready": 4, "scheduled": 5, "held": 6}),
        fail(OSError("connection refused")),
        succeed({"ready": 0, "scheduled": 1, "held": 2}),
    ]
    spool = SimpleNamespace(stateCounts=lambda: answers.pop(0))
    gauges = SharedQueueGauges(spool, clock)
    gauges.startService()
    try:
        assert (_gauge("ready"), _gauge("scheduled"), _gauge("held")) == (4, 5, 6)
        clock.advance(5)  # the read fails: logged, the last values kept, the timer still runs
        assert (_gauge("ready"), _gauge("scheduled"), _gauge("held")) == (4, 5, 6)
        clock.advance(5)
        assert (_gauge("ready"), _gauge("scheduled"), _gauge("held")) == (0, 1, 2)
        assert answers == []
    finally:
        gauges.stopService()
