"""What GET /healthz reports, and how seldom it checks (smtpeter.process._health)."""

from __future__ import annotations

from datetime import timedelta

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from smtpeter.process._health import HealthCheck, diskSpace


def result(d):
    out = []
    d.addBoth(out.append)
    [value] = out
    return value


def test_checks_run_at_most_once_per_second_and_callers_share_a_run():
    clock = Clock()
    runs = []
    pending = []

    def slow():
        runs.append(1)
        pending.append(Deferred())
        return pending[-1]

    health = HealthCheck(clock, [slow, lambda: ["the spool is gone"]])
    first, second = health.problems(), health.problems()
    assert len(runs) == 1 and not first.called
    pending[0].callback(["the database is damaged"])
    expected = ["the database is damaged", "the spool is gone"]
    assert result(first) == expected and result(second) == expected
    clock.advance(0.5)
    assert result(health.problems()) == expected and len(runs) == 1
    clock.advance(0.6)
    health.problems()
    assert len(runs) == 2


def test_a_check_that_raises_is_a_problem_not_an_error():
    def broken():
        raise OSError("no")

    health = HealthCheck(Clock(), [broken], cacheFor=timedelta(0))
    assert result(health.problems()) == ["a health check failed: no"]


def test_the_disk_check_names_the_directory_once_per_disk(tmp_path):
    (tmp_path / "spool").mkdir()
    assert diskSpace([tmp_path, tmp_path / "spool"], 1)() == []
    [problem] = diskSpace([tmp_path, tmp_path / "spool"], 1 << 62)()
    assert problem.startswith(f"the disk holding {tmp_path} is full")


def test_a_check_that_hangs_is_a_problem_after_its_timeout():
    clock = Clock()

    def hung():
        return Deferred()

    health = HealthCheck(clock, [hung, lambda: []], cacheFor=timedelta(0))
    d = health.problems()
    clock.advance(4.9)
    assert not d.called
    clock.advance(0.2)
    [problem] = result(d)
    assert "did not answer within 5 s" in problem and "hung" in problem
