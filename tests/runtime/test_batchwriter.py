"""
The group-commit writer (L{BatchWriter}) on its own: a plain list stands for
the database, so what is tested is how writes are gathered into commits and
answered, not what a commit does.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from smtpeter.runtime import BatchWriter
from smtpeter.testing import PumpedReactor


class Log:
    """The state of a writer's thread: every commit's items, in order."""

    def __init__(self) -> None:
        self.commits: list[list] = []
        #: When each commit began (time.monotonic(), the writer's own clock).
        self.began: list[float] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()


def commit(log: Log, items: list) -> list:
    log.began.append(time.monotonic())
    log.entered.set()
    assert log.release.wait(10)
    log.commits.append(list(items))
    return [ValueError(item) if item == "bad" else item.upper() for item in items]


@pytest.fixture
def writer():
    reactor = PumpedReactor()
    log = Log()
    made: list[BatchWriter] = []

    def make(**kwargs) -> BatchWriter:
        w = BatchWriter(reactor, "test-writer", lambda: log, kwargs.pop("commit", commit), **kwargs)
        w.reactor, w.log, w.dropped_ = reactor, log, []
        w.dropped = lambda item, failure: w.dropped_.append((item, failure.value))
        w.start()
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop()


def test_writes_given_during_a_commit_share_the_next(writer):
    w = writer()
    w.log.release.clear()
    first = w.write("a")
    assert w.log.entered.wait(10)  # "a" is being committed, alone
    rest = [w.write(x) for x in "bcd"]
    w.log.release.set()
    assert [w.reactor.wait(d) for d in [first, *rest]] == ["A", "B", "C", "D"]
    assert w.log.commits == [["a"], ["b", "c", "d"]]
    assert w.unanswered == 0


def test_a_failed_result_fails_only_its_own_write(writer):
    w = writer()
    w.log.release.clear()
    w.write("a")
    assert w.log.entered.wait(10)
    good, bad, other = w.write("b"), w.write("bad"), w.write("c")
    w.log.release.set()
    assert w.reactor.wait(good) == "B"
    with pytest.raises(ValueError):
        w.reactor.wait(bad)
    assert w.reactor.wait(other) == "C"
    assert w.unanswered == 0  # a failed write is answered too


def test_a_commit_that_raises_fails_its_whole_group(writer):
    def broken(log, items):
        raise RuntimeError("the disk")

    w = writer(commit=broken)
    with pytest.raises(RuntimeError, match="the disk"):
        w.reactor.wait(w.write("a"))
    assert w.unanswered == 0


def test_a_posted_write_has_no_answer_and_its_failure_goes_to_dropped(writer):
    w = writer()
    assert w.post("bad") is None
    w.reactor.wait(w.run(lambda log: None))  # after the post's commit
    [(item, error)] = w.dropped_
    assert item == "bad" and isinstance(error, ValueError)
    assert w.log.commits == [["bad"]]


def test_run_comes_after_every_write_given_before_it_outside_their_commit(writer):
    w = writer()
    w.write("a")
    w.post("b")
    seen = w.reactor.wait(w.run(lambda log, extra: [*log.commits, extra], "then"))
    assert seen == [["a", "b"], "then"] or seen == [["a"], ["b"], "then"]

    def failing(log):
        raise KeyError("no")

    with pytest.raises(KeyError):
        w.reactor.wait(w.run(failing))


def test_idle_a_posted_write_is_committed_at_once(writer):
    w = writer(linger=30.0)
    w.post("a")
    deadline = time.monotonic() + 10
    while not w.log.commits:
        assert time.monotonic() < deadline, "the posted write was not committed"
        time.sleep(0.01)


def test_busy_a_posted_write_lingers_until_a_write_someone_waits_for(writer):
    w = writer(linger=30.0)
    w.reactor.wait(w.write("a"))  # busy from now
    w.post("b")
    time.sleep(0.2)
    assert w.log.commits == [["a"]]  # "b" waits for company
    started = time.monotonic()
    assert w.reactor.wait(w.write("c")) == "C"
    assert time.monotonic() - started < 5
    assert w.log.commits == [["a"], ["b", "c"]]


def test_busy_with_gather_it_commits_at_most_once_per_gather(writer):
    w = writer(gather=0.3)
    w.reactor.wait(w.write("a"))
    w.reactor.wait(w.write("b"))
    assert w.log.commits == [["a"], ["b"]]
    # The writer sleeps until gather after the first commit ended, on the
    # clock read here when each began (less a microsecond: float rounding).
    first, second = w.log.began
    assert second - first >= 0.3 - 1e-6


def test_stop_commits_what_waits(writer):
    w = writer(linger=30.0)
    w.reactor.wait(w.write("a"))
    w.post("b")
    w.stop()
    assert w.log.commits == [["a"], ["b"]]


@pytest.mark.parametrize("batch", [False, True])
def test_the_thread_is_batch_work_only_if_asked(writer, batch):
    w = writer(batch=batch)
    expected = os.SCHED_BATCH if batch else os.SCHED_OTHER
    assert w.reactor.wait(w.run(lambda log: os.sched_getscheduler(0))) == expected
