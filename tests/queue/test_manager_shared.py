"""
The queue manager on a spool shared by several workers (an
L{IClaimingSpool}): it holds only what it claimed, gives a message back
after an attempt that leaves it pending, and a dead worker's mail is
delivered by another with its attempts kept.
"""

from __future__ import annotations

from datetime import timedelta

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.task import Clock
from zope.interface import implementer

from smtpeter.delivery import IDeliveryAgent, Outcome
from smtpeter.events import MemoryEventSink
from smtpeter.queue import Board, Envelope, MemoryClaimingSpool, Options, Recipient
from smtpeter.queue.manager import Claiming, QueueManager, RetryPolicy
from smtpeter.testing import result

OK = Outcome("delivered", 250, "2.0.0", "ok", "end of DATA", "mx.test")
LATER = Outcome("transient", 451, "4.3.0", "later", "RCPT", "mx.test")


@implementer(IDeliveryAgent)
class Agent:
    """Answers with C{outcomes} in turn; with C{stall}, leaves the attempt hanging."""

    def __init__(self, *outcomes: Outcome, stall: bool = False) -> None:
        self.outcomes = list(outcomes)
        self.stall = stall
        self.calls: list[str] = []
        self.hanging: list[Deferred] = []
        self.abandoned: list[str] = []

    def deliver(self, message, content, recipients, beforeDot):
        self.calls.append(message.qid)
        if self.stall:
            d = Deferred()
            self.hanging.append(d)
            return d
        if not result(beforeDot()):
            self.abandoned.append(message.qid)
            return succeed([LATER for _ in recipients])
        return succeed([self.outcomes.pop(0) for _ in recipients])

    def stop(self):
        return succeed(None)


def worker(board, clock, name, agent, lease=60.0, events=None):
    spool = MemoryClaimingSpool(board, name, clock, lease)
    retry = RetryPolicy(timedelta(seconds=60), timedelta(seconds=600), timedelta(hours=1))
    events = MemoryEventSink() if events is None else events
    return QueueManager(spool, agent, clock, "gw.test", events, retry)


def enqueue(queue, hold=False):
    envelope = Envelope("s@example.com", (Recipient("a@x.test"),))
    return result(queue.enqueue(envelope, Options(hold=hold), b"Subject: x\r\n\r\nbody\r\n"))


def setup(*agents, lease=60.0):
    """The workers share one event log, as the workers of a cluster share their store."""
    board, clock, events = Board(), Clock(), MemoryEventSink()
    clock.advance(1_000_000)
    return (
        board,
        clock,
        [worker(board, clock, f"n{i}/1", agent, lease, events) for i, agent in enumerate(agents)],
    )


def test_delivered_at_once_by_the_accepting_worker_and_gone():
    board, clock, [a] = setup(Agent(OK))
    qid = enqueue(a)
    clock.advance(0)
    assert a.agent.calls == [qid]
    assert board.rows == {} and a.entries == {}


def test_pending_after_an_attempt_is_given_back_and_retried_by_any_worker():
    board, clock, [a, b] = setup(Agent(LATER), Agent(OK))
    qid = enqueue(a)
    clock.advance(0)
    assert a.entries == {} and a.spool.holding() == 0
    row = board.rows[qid]
    assert row.owner is None and row.due == clock.seconds() + 60
    assert result(ensureDeferred(b.claimDue(10))) == 0  # not due yet
    clock.advance(60)
    assert result(ensureDeferred(b.claimDue(10))) == 1
    clock.advance(0)
    assert b.agent.calls == [qid]
    assert board.rows == {}
    # b recorded the message again on claiming it: the log kept the first.
    assert [e.type for e in b.events.events] == ["attempt", "deferral", "delivery"]


def test_a_dead_workers_mail_is_taken_over_and_its_late_outcome_is_not_recorded():
    stalled = Agent(stall=True)
    board, clock, [a, b] = setup(stalled, Agent(OK), lease=30.0)
    qid = enqueue(a)
    clock.advance(0)
    assert stalled.calls == [qid]  # a is sending; then a stops renewing (it "died")
    clock.advance(31)
    assert result(ensureDeferred(b.claimDue(10))) == 1
    clock.advance(0)
    assert b.agent.calls == [qid] and board.rows == {}
    # a's attempt ends after all: its outcome is fenced off, nothing breaks.
    stalled.hanging[0].callback([LATER])
    assert board.rows == {} and a.entries == {}


def test_held_mail_is_stored_unclaimed_and_released_for_anyone():
    board, clock, [a, b] = setup(Agent(), Agent(OK))
    qid = enqueue(a, hold=True)
    assert a.entries == {} and board.rows[qid].owner is None and board.rows[qid].due is None
    assert result(ensureDeferred(b.claimDue(10))) == 0
    assert result(ensureDeferred(b.take(qid))) is True
    assert b.release(qid) is True
    assert b.entries == {} and board.rows[qid].due == clock.seconds()
    result(ensureDeferred(b.claimDue(10)))
    clock.advance(0)
    assert qid not in board.rows


def test_delete_request_claims_a_message_nobody_holds():
    board, clock, [a, b] = setup(Agent(LATER), Agent())
    qid = enqueue(a)
    clock.advance(0)
    assert result(ensureDeferred(b.take(qid))) is True
    assert result(ensureDeferred(b.delete(qid))) is True
    assert qid not in board.rows
    [dsn] = board.rows.values()  # the failure DSN, claimed by b, which queued it
    assert dsn.message.isDSN and dsn.owner == "n1/1"
    assert [e.details.get("reason") for e in b.events.events if e.type == "failure"] == ["deleted"]


class Unwritten(MemoryEventSink):
    """A worker's store that dies with it: what it was given is never written."""

    def accepted(self, message):
        return Deferred()

    def record(self, event):
        return Deferred()


def test_mail_of_a_worker_that_died_before_its_record_was_written_is_recorded_by_its_taker():
    board, clock = Board(), Clock()
    clock.advance(1_000_000)
    events = MemoryEventSink()
    a = worker(board, clock, "n0/1", Agent(stall=True), 30.0, Unwritten())
    b = worker(board, clock, "n1/1", Agent(OK), 30.0, events)
    qid = enqueue(a)
    clock.advance(31)  # a's lease runs out: it died after its 250
    assert result(ensureDeferred(b.claimDue(10))) == 1
    clock.advance(0)
    assert list(events.messages) == [qid]
    assert [(e.type, e.qid) for e in events.events] == [("attempt", qid), ("delivery", qid)]


def test_a_message_in_another_workers_hands_is_not_taken():
    board, clock, [a, b] = setup(Agent(stall=True), Agent())
    qid = enqueue(a)
    clock.advance(0)
    assert result(ensureDeferred(b.take(qid))) is False


def test_claiming_keeps_a_bounded_number_in_hand_and_renews():
    board, clock, [a, b] = setup(Agent(*[LATER] * 5), Agent(stall=True))
    for _ in range(5):
        enqueue(a)
    clock.advance(0)
    clock.advance(60)
    b.concurrency = 1
    claiming = Claiming(b, clock, lease=60.0)
    claiming.startService()
    assert len(b.entries) == 2  # twice its concurrency, the rest left for others
    clock.advance(20)  # a renewal
    assert all(r.leaseUntil == clock.seconds() + 60 for r in board.rows.values() if r.owner)
    claiming.stopService()


def test_stop_gives_back_what_is_not_being_sent():
    board, clock, [a] = setup(Agent(LATER))
    qid = enqueue(a)
    clock.advance(0)
    clock.advance(60)
    a.concurrency = 0  # claimed, but no slot to send it in
    result(ensureDeferred(a.claimDue(1)))
    assert board.rows[qid].owner == "n0/1"
    result(a.stop(timedelta(seconds=1)))
    assert board.rows[qid].owner is None


def test_a_worker_whose_claim_is_lost_abandons_before_the_final_dot():
    board, clock, [a, b] = setup(Agent(OK), Agent(), lease=30.0)
    qid = enqueue(a, hold=True)
    assert result(ensureDeferred(a.take(qid)))
    entry = a.entries[qid]
    entry.held = False
    clock.advance(31)  # a's lease runs out; b claims it (for a request, say)
    assert result(ensureDeferred(b.take(qid)))
    a._schedule(entry, clock.seconds())
    clock.advance(0)
    assert a.agent.abandoned == [qid] and a.agent.outcomes == [OK]
    assert board.rows[qid].owner == "n1/1"


def test_held_too_long_is_dropped_once_by_whoever_expires_it():
    board, clock, [a, b] = setup(Agent(), Agent())
    enqueue(a, hold=True)
    clock.advance(timedelta(days=7).total_seconds() - 1)
    assert result(ensureDeferred(b.expireHeld())) == 0
    clock.advance(2)
    assert result(ensureDeferred(b.expireHeld())) == 1
    assert board.rows == {}
    assert [(e.type, e.details.get("reason")) for e in b.events.events] == [
        ("attempt", None),
        ("failure", "hold expired"),
    ]
    assert result(ensureDeferred(a.expireHeld())) == 0


def test_a_retry_request_on_held_mail_gives_it_back_still_held_and_expiring():
    board, clock, [a, b] = setup(Agent(), Agent(OK))
    qid = enqueue(a, hold=True)
    assert result(ensureDeferred(b.take(qid))) is True
    assert b.retryNow(qid) is True
    clock.advance(0)
    assert b.agent.calls == [] and b.entries == {}
    assert board.rows[qid].owner is None and board.rows[qid].due is None
    clock.advance(timedelta(days=7).total_seconds() + 1)
    assert result(ensureDeferred(a.expireHeld())) == 1 and board.rows == {}


def test_a_message_finished_by_another_worker_before_its_body_is_read_is_let_go():
    board, clock, [a, b] = setup(Agent(LATER), Agent(OK))
    qid = enqueue(a)
    clock.advance(0)  # deferred, given back
    clock.advance(60)
    assert result(ensureDeferred(b.claimDue(10))) == 1
    del board.rows[qid]  # ... and, before b reads its body, finished by another
    clock.advance(0)
    assert b.entries == {} and b.agent.calls == []
    assert [e.type for e in b.events.events] == ["attempt", "deferral"]  # no failure
