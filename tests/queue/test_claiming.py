"""
The contract of L{IClaimingSpool}, run against the in-memory spool and
against the shared queue on a real PostgreSQL.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from smtpeter.message import Envelope, Options, QueuedMessage, Recipient
from smtpeter.queue import (
    Board,
    ClaimLost,
    IClaimingSpool,
    MemoryClaimingSpool,
    SharedQueueDatabase,
    SharedSpool,
)
from smtpeter.testing import PumpedReactor, result

from .conftest import databaseNow, leases

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

    def now(self) -> float:
        """The time on the clock leases are counted on."""
        return self.clock.seconds()

    def leases(self) -> dict[str, float | None]:
        """When each queued message's lease runs out."""
        return {qid: row.leaseUntil for qid, row in self.board.rows.items()}

    def close(self) -> None:
        pass


class PostgresWorld:
    def __init__(self, connect) -> None:
        self.connect = connect
        self.reactor = PumpedReactor()
        self.spools: list[SharedSpool] = []

    def spool(self, owner: str, lease: float = 60.0, clock: Clock | None = None):
        """A started spool; with C{clock}, its leases are counted on that local clock."""
        counted = {} if clock is None else {"clock": clock.seconds}
        node = owner.split("/")[0]
        spool = SharedSpool(self.connect, owner, node, self.reactor, lease, **counted)
        self.wait(spool.start())
        self.spools.append(spool)
        return spool

    def wait(self, d):
        # A finished message waits a little for company before its commit
        # (on the reactor's clock, which only tests move).
        self.reactor.advance(SharedSpool.FINISH_WAIT)
        return self.reactor.wait(d)

    def passTime(self, seconds: float) -> None:
        time.sleep(seconds)

    def now(self) -> float:
        """The time on the clock leases are counted on: the database's."""
        return databaseNow(self.connect)

    def leases(self) -> dict[str, float | None]:
        """When each queued message's lease runs out."""
        return leases(self.connect)

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
    both = {QID, "0000000000000000000B"}
    a, b = world.spool("a/1", lease=0.4), world.spool("b/1")
    for qid in sorted(both):
        world.wait(a.store(message(qid)))
    stored = world.leases()
    world.passTime(0.05)
    between = world.now()
    assert world.wait(a.renew()) == []
    # Renewed: each lease now runs a whole lease from the renewal, which came
    # after a moment its first lease ran less than that from (whether or not
    # it had run out meanwhile: nobody took it).
    renewed = world.leases()
    assert stored.keys() == renewed.keys() == both
    assert all(stored[qid] < between + 0.4 <= renewed[qid] for qid in both)
    assert a.holding() == 2
    world.passTime(0.5)  # past the renewed lease
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


# What the shared spool knows of its leases -----------------------------------
#
# Leases are counted on the database's clock (real time here); the spools'
# local clocks are Clocks that the tests move on, as far as real time went
# where a lease must run out in the database.


@pytest.fixture
def pg(pgconnect):
    made = PostgresWorld(pgconnect)
    yield made
    made.close()


@pytest.fixture
def asked(monkeypatch):
    """The lease checks the spools ask of the database: each statement's queue ids."""
    calls: list[list[str]] = []
    holding = SharedQueueDatabase.holding

    def counted(self, qids):
        calls.append(list(qids))
        return holding(self, qids)

    monkeypatch.setattr(SharedQueueDatabase, "holding", counted)
    return calls


def answeredAtOnce(d) -> bool:
    """The answer of a lease check that did not wait for a thread or the database."""
    assert d.called, "the check waited (for the database)"
    return result(d)


def sureUntilTheMargin(pg, spool, local: Clock, asked: list, left: float) -> None:
    """
    C{spool}'s claim on QID is answered at once for C{left} more seconds
    less a tenth on C{local}; from then on the database is asked, and says
    it holds.
    """
    local.advance(left - 0.1)
    assert answeredAtOnce(spool.holds(QID)) is True
    assert asked == []
    local.advance(0.1)  # past the margin: the database is asked, and says so
    assert pg.wait(spool.holds(QID)) is True
    assert asked == [[QID]]


def test_a_claim_surely_held_is_answered_at_once_until_half_its_lease_has_passed(pg, asked):
    local = Clock()
    a = pg.spool("a/1", lease=60.0, clock=local)
    pg.wait(a.store(message()))  # claimed by its store, at 0 on the local clock
    sureUntilTheMargin(pg, a, local, asked, 30)


def test_a_claim_taken_over_after_its_lease_ran_out_is_asked_of_the_database(pg, asked):
    local = Clock()
    a, b = pg.spool("a/1", lease=0.4, clock=local), pg.spool("b/1")
    pg.wait(a.store(message()))
    # a stopped past its lease (it renewed nothing): its clock went on too.
    time.sleep(0.5)
    local.advance(0.5)
    [(found, _)] = pg.wait(b.claim(10))
    assert answeredAtOnce(b.holds(QID)) is True  # b's claim: sure
    assert pg.wait(a.holds(QID)) is False  # so a's delivery stops before its dot
    assert asked == [[QID]]


def test_a_renewal_extends_how_long_a_claim_is_surely_held(pg, asked):
    local = Clock()
    a = pg.spool("a/1", lease=60.0, clock=local)
    pg.wait(a.store(message()))
    local.advance(20)  # a renewal's interval: a third of the lease
    assert pg.wait(a.renew()) == []
    sureUntilTheMargin(pg, a, local, asked, 30)  # 30 s after the renewal, 50 after the claim


def test_a_claim_a_renewal_reports_lost_is_no_longer_surely_held(pg, asked):
    local = Clock()
    a, b = pg.spool("a/1", lease=0.4, clock=local), pg.spool("b/1")
    pg.wait(a.store(message()))
    # The database's lease ran out while a's clock did not move: as if the
    # database's clock had stepped forward by more than the margin.
    time.sleep(0.5)
    pg.wait(b.claim(10))
    assert pg.wait(a.renew()) == [QID]
    assert pg.wait(a.holds(QID)) is False
    assert asked == [[QID]]


def test_a_claim_given_back_or_finished_is_no_longer_surely_held(pg, asked):
    local = Clock()
    a = pg.spool("a/1", clock=local)
    other = "0000000000000000000B"
    pg.wait(a.store(message()))
    pg.wait(a.store(message(other)))
    pg.wait(a.release(QID, {}, time.time() + 3600))
    pg.wait(a.remove(other))
    assert pg.wait(a.holds(QID)) is False
    assert pg.wait(a.holds(other)) is False
    assert asked == [[QID], [other]]
    assert pg.wait(a.claimOne(QID)) is not None  # claimed again: sure again
    assert answeredAtOnce(a.holds(QID)) is True
    assert len(asked) == 2


def test_once_the_database_failed_each_check_asks_it_until_it_confirms_again(
    pg, asked, monkeypatch
):
    local = Clock()
    a = pg.spool("a/1", clock=local)
    pg.wait(a.store(message()))
    renew = SharedQueueDatabase.renew

    def gone(self):
        raise psycopg.OperationalError("the server closed the connection")

    monkeypatch.setattr(SharedQueueDatabase, "renew", gone)
    with pytest.raises(psycopg.OperationalError):
        pg.wait(a.renew())
    assert pg.wait(a.holds(QID)) is True
    assert asked == [[QID]]
    monkeypatch.setattr(SharedQueueDatabase, "renew", renew)
    assert pg.wait(a.renew()) == []
    assert answeredAtOnce(a.holds(QID)) is True
    assert len(asked) == 1


def test_a_finished_message_waits_a_little_for_a_write_to_go_with(pg, monkeypatch):
    """Alone, for FINISH_WAIT; a new message's store takes it along at once."""
    batches: list[list[str]] = []
    apply = SharedQueueDatabase.apply

    def recorded(self, work, again=True):
        batches.append([item[0] for item in work])
        return apply(self, work, again)

    monkeypatch.setattr(SharedQueueDatabase, "apply", recorded)
    a = pg.spool("a/1")
    other = "0000000000000000000B"
    pg.wait(a.store(message()))
    batches.clear()
    finished = a.remove(QID)
    assert batches == []
    pg.reactor.wait(a.store(message(other)))
    pg.reactor.wait(finished)
    assert batches == [["finish", "store"]]
    alone = a.remove(other)
    pg.reactor.advance(SharedSpool.FINISH_WAIT * 0.9)
    assert batches == [["finish", "store"]]
    pg.reactor.advance(SharedSpool.FINISH_WAIT * 0.2)
    pg.reactor.wait(alone)
    assert batches == [["finish", "store"], ["finish"]]
    assert pg.wait(a.claim(10)) == []


def test_a_spool_that_keeps_nothing_purges_what_was_kept_before(pg, pgconnect):
    """A cluster switched to --keep-sent 0 lets go of the content it kept until then."""
    keeping = SharedQueueDatabase(pgconnect, "a/1", "a", 60.0, keepSent=1)
    assert keeping.apply([("store", message())]) == [None]
    assert keeping.apply([("finish", QID, time.time() - 10)]) == [None]
    spool = pg.spool("b/1")  # --keep-sent 0
    pg.reactor.advance(time.time() - pg.reactor.seconds())
    assert pg.wait(spool.purge()) == 1
    assert pg.wait(spool.purge()) == 0
