"""Once per cluster: the duty's services run in one worker at a time, and move when it dies."""

from __future__ import annotations

import time

import pytest
from twisted.application.service import Service
from twisted.internet.task import Clock

from smtpeter.process._duty import MemoryDuty, OncePerCluster, PostgresDuty
from smtpeter.testing import PumpedReactor


def worker(lease, name, clock):
    duty = OncePerCluster(lease, name, clock, seconds=30.0)
    work = Service()
    work.setServiceParent(duty)
    return duty, work


def test_one_worker_runs_the_duty_and_another_takes_over_when_it_dies():
    clock = Clock()
    lease = MemoryDuty(clock)
    a, aWork = worker(lease, "a/1", clock)
    b, bWork = worker(lease, "b/1", clock)
    a.startService()
    b.startService()
    assert aWork.running and not bWork.running
    clock.advance(10)  # a renews; b asks
    assert aWork.running and not bWork.running
    a._loop.stop()  # a "dies": it renews no more
    clock.advance(31)
    assert bWork.running


def test_a_stopped_worker_gives_the_duty_up_at_once():
    clock = Clock()
    lease = MemoryDuty(clock)
    a, aWork = worker(lease, "a/1", clock)
    b, bWork = worker(lease, "b/1", clock)
    a.startService()
    b.startService()
    a.stopService()
    assert not aWork.running and lease.owner is None
    clock.advance(10)
    assert bWork.running


def test_a_lost_lease_stops_the_work():
    clock = Clock()
    lease = MemoryDuty(clock)
    a, aWork = worker(lease, "a/1", clock)
    a.startService()
    lease.owner, lease.until = "b/1", 1e12  # taken over meanwhile
    clock.advance(10)
    assert not aWork.running


@pytest.fixture
def connect(pgconnect):
    return pgconnect


def test_the_lease_in_postgresql_holds_one_owner(connect):
    reactor = PumpedReactor()
    duty = PostgresDuty(reactor, connect, "purge")
    duty.start()
    try:
        # Leases counted on PostgreSQL's clock: long ones where another
        # worker must be refused; a short one only where it must run out.
        assert reactor.wait(duty.take("a/1", 60)) is True
        assert reactor.wait(duty.take("b/1", 60)) is False
        assert reactor.wait(duty.take("a/1", 60)) is True  # renewed
        reactor.wait(duty.give("a/1"))
        assert reactor.wait(duty.take("b/1", 0.3)) is True
        time.sleep(0.4)  # b dies: its lease runs out
        assert reactor.wait(duty.take("a/1", 60)) is True
        assert reactor.wait(duty.take("b/1", 60)) is False  # a's new lease, not b's old one
    finally:
        duty.stop()
