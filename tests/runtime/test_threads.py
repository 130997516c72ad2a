"""Blocking work in plain threads, answered through the reactor."""

from __future__ import annotations

import os
import threading
import time

import pytest
from twisted.logger import globalLogPublisher

from smtpeter.runtime._threads import LATER, Workers
from smtpeter.testing import PumpedReactor

from ..conftest import eventually


def test_results_failures_and_each_threads_own_state():
    reactor = PumpedReactor()
    made = []
    workers = Workers(reactor, 3, "test", lambda: made.append(threading.get_ident()) or len(made))
    workers.start()
    try:
        assert reactor.wait(workers.run(lambda state, a, b: a + b, 2, 3)) == 5
        with pytest.raises(ZeroDivisionError):
            reactor.wait(workers.run(lambda state: 1 / 0))
        states = {reactor.wait(workers.run(lambda state: state)) for _ in range(30)}
        assert states <= {1, 2, 3} and len(made) == 3 and len(set(made)) == 3
    finally:
        workers.stop()


def test_stop_finishes_what_is_queued_and_ends_the_threads():
    reactor = PumpedReactor()
    workers = Workers(reactor, 2, "test")
    workers.start()
    release = threading.Event()
    done = []
    for i in range(10):
        workers.run(lambda state, i=i: (release.wait(5), done.append(i)))
    release.set()
    workers.stop()
    assert sorted(done) == list(range(10))
    assert not [t for t in threading.enumerate() if t.name.startswith("test-")]


class CountingReactor(PumpedReactor):
    """Counts the calls from threads, each of which writes to the waker pipe."""

    def __init__(self) -> None:
        super().__init__()
        self.fromThreads = 0

    def callFromThread(self, f, *args, **kwargs):
        self.fromThreads += 1
        super().callFromThread(f, *args, **kwargs)


def test_results_that_finish_together_reach_the_reactor_in_one_call():
    reactor = CountingReactor()
    workers = Workers(reactor, 4, "test")
    workers.start()
    try:
        release = threading.Event()

        def work(state, i):
            release.wait(5)
            if i == 3:
                raise ValueError(i)
            return i

        results = [workers.run(work, i) for i in range(8)]
        release.set()
        # Every result finished, the reactor not yet run.
        eventually(lambda: len(workers._done) == 8, 5, "eight results")
        values = [reactor.wait(d) for d in results[:3]]
        with pytest.raises(ValueError):
            reactor.wait(results[3])
        values += [reactor.wait(d) for d in results[4:]]
        assert values == [0, 1, 2, 4, 5, 6, 7]
        # Eight results while the reactor was not turning: one wake-up.
        assert reactor.fromThreads == 1
    finally:
        workers.stop()


def test_a_result_that_cannot_be_delivered_does_not_hold_up_the_others():
    reactor = PumpedReactor()
    workers = Workers(reactor, 1, "test")  # one thread: the first result is first in line
    workers.start()
    try:
        release = threading.Event()
        first, second = (workers.run(lambda state, i=i: release.wait(5) and i) for i in (1, 2))
        release.set()
        eventually(lambda: len(workers._done) == 2, 5, "two results")
        first.callback("fired elsewhere")  # its result will find it already fired
        assert reactor.wait(second) == 2
        assert reactor.wait(first) == "fired elsewhere"
    finally:
        workers.stop()


def test_posted_work_runs_without_a_call_to_the_reactor_unless_it_fails():
    reactor = CountingReactor()
    workers = Workers(reactor, 2, "test", lambda: "state")
    workers.start()
    done = []

    def broken(state, i):
        raise OSError(f"disk gone {i}")

    try:
        for i in range(5):
            workers.post(lambda state, i: done.append((state, i)), i)
        workers.post(broken, 7)
    finally:
        workers.stop()  # waits for posted work too
    assert sorted(done) == [("state", i) for i in range(5)]
    # Only the failure came back to the reactor, to be logged there.
    assert reactor.fromThreads == 1
    f, args, kwargs = reactor.handed.get_nowait()
    logged = []
    globalLogPublisher.addObserver(logged.append)
    try:
        f(*args, **kwargs)
    finally:
        globalLogPublisher.removeObserver(logged.append)
    [event] = logged
    assert event["name"] == "test" and "broken" in event["what"]
    assert "disk gone 7" in str(event["log_failure"].value)


def test_work_posted_for_later_rides_along_with_the_next_work_or_waits_for_the_sweep():
    reactor = CountingReactor()
    workers = Workers(reactor, 2, "test", lambda: threading.get_ident())
    workers.start()
    done = []
    try:
        workers.postLater(lambda state, i: done.append((state, i)), 1)
        time.sleep(0.1)
        assert done == []  # no thread was woken for it
        ran = reactor.wait(workers.run(lambda state: state))
        eventually(lambda: done, 5, "the work posted for later")
        assert done == [(ran, 1)]  # by the thread that ran the next work
        # No work comes: after LATER, the sweep hands it to a thread.
        workers.postLater(lambda state, i: done.append((state, i)), 2)
        reactor.advance(LATER)
        eventually(lambda: len(done) == 2, 5, "the swept work")
        assert done[1][1] == 2 and reactor.getDelayedCalls() == []
        workers.postLater(lambda state, i: done.append((state, i)), 3)
    finally:
        workers.stop()  # runs what still waits, and cancels the sweep
    assert [i for _, i in done] == [1, 2, 3] and reactor.getDelayedCalls() == []
    assert reactor.fromThreads == 1  # the result of run(); nothing else came back


def test_batch_threads_are_batch_work_and_others_and_the_caller_are_left_as_they_were():
    reactor = PumpedReactor()
    policies = {}
    for batch in (True, False):
        workers = Workers(reactor, 2, "test", batch=batch)
        workers.start()
        try:
            policies[batch] = {
                reactor.wait(workers.run(lambda state: os.sched_getscheduler(0))) for _ in range(10)
            }
        finally:
            workers.stop()
    assert policies == {True: {os.SCHED_BATCH}, False: {os.SCHED_OTHER}}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
