"""
The contract of L{IClaimingSpool}, run against the in-memory spool and
against the shared queue on a real PostgreSQL.
"""

from __future__ import annotations

import time

import pytest
from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from smtpeter.message import Envelope, Options, QueuedMessage, Recipient
from smtpeter.queue import (
    Board,
    ClaimLost,
    IClaimingSpool,
    MemoryClaimingSpool,
    SharedSpool,
)
from smtpeter.testing import PumpedReactor, result

QID = "0000000000000000000A"


class MemoryWorld:
    def __init__(self) -> None:
        self.board = Board()
        self.clock = Clock()
        self.clock.advance(time.time())

    def spool(self, owner: str, lease: float = 60.0):
        return MemoryClaimingSpool(self.board, owner, self.clock, lease)

    def wait(self, d):
        return result(d)

    def passTime(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def close(self) -> None:
        pass


class PostgresWorld:
    def __init__(self, connect) -> None:
        self.connect = connect
        self.reactor = PumpedReactor()
        self.spools: list[SharedSpool] = []

    def spool(self, owner: str, lease: float = 60.0):
        spool = SharedSpool(self.connect, owner, owner.split("/")[0], self.reactor, lease)
        self.wait(spool.start())
        self.spools.append(spool)
        return spool

    def wait(self, d):
        return self.reactor.wait(d)

    def passTime(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        for spool in self.spools:
            spool.stop()


@pytest.fixture(params=["memory", "postgresql"])
def world(request):
    if request.param == "memory":
        made = MemoryWorld()
    else:
        made = PostgresWorld(request.getfixturevalue("pgconnect"))
    yield made
    made.close()


def message(qid=QID, hold=False):
    envelope = Envelope("s@example.com", (Recipient("a@example.com"), Recipient("b@example.com")))
    return QueuedMessage(qid, envelope, Options(hold=hold), time.time() - 1, b"body\r\n", False)


def test_interface(world):
    assert verifyObject(IClaimingSpool, world.spool("a/1"))


def test_a_stored_message_is_its_workers(world):
    a, b = world.spool("a/1"), world.spool("b/1")
    world.wait(a.store(message()))
    assert a.holding() == 1
    assert world.wait(b.claim(10)) == []
    assert world.wait(a.readContent(QID)) == b"body\r\n"
    assert world.wait(a.holds(QID)) is True
    assert world.wait(b.holds(QID)) is False


def test_released_goes_to_any_worker_with_its_states(world):
    a, b = world.spool("a/1"), world.spool("b/1")
    world.wait(a.store(message()))
    state = {"status": "pending", "attempts": 1, "next": 5.0}
    world.wait(a.release(QID, {1: state}, time.time() - 1))
    assert a.holding() == 0
    [(found, states)] = world.wait(b.claim(10))
    assert found.qid == QID and len(found.envelope.recipients) == 2
    assert states == {1: state}
    assert world.wait(a.claim(10)) == []


def test_not_due_yet_is_not_claimed(world):
    a, b = world.spool("a/1"), world.spool("b/1")
    world.wait(a.store(message()))
    world.wait(a.release(QID, {}, time.time() + 3600))
    assert world.wait(b.claim(10)) == []


def test_a_dead_workers_mail_is_taken_over_and_its_outcomes_fenced(world):
    a, b = world.spool("a/1", lease=0.2), world.spool("b/1")
    world.wait(a.store(message()))
    world.passTime(0.3)
    [(found, _)] = world.wait(b.claim(10))
    assert world.wait(a.holds(QID)) is False
    for late in (a.release(QID, {0: {"status": "delivered"}}, None), a.remove(QID)):
        with pytest.raises(ClaimLost):
            world.wait(late)
    world.wait(b.recordStates(QID, {0: {"status": "delivered"}}))
    world.wait(b.remove(QID))
    assert world.wait(a.claim(10)) == world.wait(b.claim(10)) == []


def test_renewed_leases_hold_and_lost_ones_are_reported(world):
    a, b = world.spool("a/1", lease=0.4), world.spool("b/1")
    world.wait(a.store(message(QID)))
    world.wait(a.store(message("0000000000000000000B")))
    world.passTime(0.25)
    assert world.wait(a.renew()) == []
    world.passTime(0.25)
    assert world.wait(b.claim(10)) == []
    world.passTime(0.3)
    assert len(world.wait(b.claim(1))) == 1
    assert len(world.wait(a.renew())) == 1
    assert a.holding() == 1


def test_held_mail_is_nobodys_but_can_be_claimed_for_a_request(world):
    a, b = world.spool("a/1"), world.spool("b/1")
    world.wait(a.store(message(hold=True)))
    assert a.holding() == 0
    assert world.wait(b.claim(10)) == []
    claimed = world.wait(b.claimOne(QID, True))
    assert claimed is not None and claimed[0].options.hold
    assert world.wait(a.claimOne(QID)) is None
    world.wait(b.release(QID, {}, None))
    assert world.wait(a.claimOne(QID, True)) is not None


def test_claim_one_of_a_message_not_held_when_held_is_asked(world):
    a = world.spool("a/1")
    world.wait(a.store(message()))
    world.wait(a.release(QID, {}, time.time() + 3600))
    assert world.wait(a.claimOne(QID, True)) is None
    assert world.wait(a.claimOne(QID)) is not None


def test_a_message_stored_twice_fails(world):
    a = world.spool("a/1")
    world.wait(a.store(message()))
    with pytest.raises(Exception):  # noqa: B017 - each backend says it its own way
        world.wait(a.store(message()))


def test_held_too_long_is_claimed_for_expiry(world):
    a, b = world.spool("a/1"), world.spool("b/1")
    old = message(hold=True)
    for held in (old, message("0000000000000000000B", hold=True)):
        world.wait(a.store(held))
    world.wait(a.store(message("0000000000000000000C")))  # not held: never expired so
    assert world.wait(b.claimHeld(old.received, 10)) == []  # none received before that
    cutoff = old.received + 0.5
    [(first, _)] = world.wait(b.claimHeld(cutoff, 1))
    [(second, _)] = world.wait(a.claimHeld(cutoff, 10))
    assert {first.qid, second.qid} == {QID, "0000000000000000000B"}
    assert world.wait(a.claimHeld(cutoff, 10)) == []
