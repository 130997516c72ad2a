"""Blocking work in plain threads, answered through the reactor."""

from __future__ import annotations

import threading

import pytest

from smtpeter._threads import Workers

from .store.test_contract import PumpedReactor


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
