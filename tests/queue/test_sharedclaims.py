"""
What a worker of the shared queue knows of its claims
(L{smtpeter.queue._sharedclaims}): how long each surely holds, on its
local clock.
"""

from __future__ import annotations

import sys
import time

import pytest
from twisted.internet.task import Clock

from smtpeter.queue._sharedclaims import LEASE_MARGIN, Claims, leaseClock


def claims(lease: float = 60.0) -> tuple[Claims, Clock]:
    clock = Clock()
    return Claims(lease, clock.seconds), clock


def test_a_confirmed_claim_is_sure_for_the_lease_less_the_margin_from_before_its_statement():
    made, clock = claims(60.0)
    assert LEASE_MARGIN == 0.5
    clock.advance(100)
    made.confirmed("A", 3, since=99.0)  # the statement was sent at 99
    assert made == {"A": 3}
    clock.advance(28.9)
    assert made.sure("A")
    clock.advance(0.1)  # 99 + 30
    assert not made.sure("A")
    made.confirmed("A", 3, since=clock.seconds())  # renewed
    assert made.sure("A")


def test_a_claim_number_alone_is_not_sure():
    made, _ = claims()
    made["A"] = 1
    assert not made.sure("A")
    made.confirmed("A", 1, 0.0)
    made["A"] = 2  # another claim of it, not confirmed
    assert not made.sure("A") and made["A"] == 2


@pytest.mark.parametrize("end", ["pop", "del", "clear"])
def test_a_claim_that_ends_takes_its_sure_time_with_it(end):
    made, _ = claims()
    made.confirmed("A", 1, 0.0)
    if end == "pop":
        assert made.pop("A", None) == 1
    elif end == "del":
        del made["A"]
    else:
        made.clear()
    assert not made.sure("A")
    super(Claims, made).__setitem__("A", 1)  # the number back alone: its sure time is gone
    assert not made.sure("A")


def test_doubt_forgets_every_sure_time_and_keeps_the_claims():
    made, _ = claims()
    made.confirmed("A", 1, 0.0)
    made.confirmed("B", 4, 0.0)
    made.doubt()
    assert made == {"A": 1, "B": 4}
    assert not made.sure("A") and not made.sure("B")


@pytest.mark.skipif(sys.platform != "linux", reason="CLOCK_BOOTTIME is Linux's")
def test_leases_are_counted_locally_on_clock_boottime():
    before = time.clock_gettime(time.CLOCK_BOOTTIME)
    read = leaseClock()
    assert before <= read <= time.clock_gettime(time.CLOCK_BOOTTIME)  # (counts a suspend)
