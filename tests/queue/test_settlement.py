"""
The pure settlement of outcomes and removals: new states, events,
suppressions and DSNs, decided without I/O, case by case.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from attrs import evolve

from smtpeter.delivery import Outcome, dsn
from smtpeter.queue import Envelope, Options, QueuedMessage, Recipient
from smtpeter.queue.manager import (
    DELETED,
    DONE,
    FAILED,
    HOLD_EXPIRED,
    PENDING,
    Attempt,
    RecipientState,
    Removal,
    RetryPolicy,
    settle,
)

RETRY = RetryPolicy(
    initial=timedelta(seconds=60),
    maximum=timedelta(seconds=600),
    maxQueueTime=timedelta(hours=1),
    delayWarning=timedelta(minutes=30),
)
RECEIVED = 1000.0
EXPIRY = RECEIVED + 3600

OK = Outcome("delivered", 250, "2.0.0", "ok", "end of DATA", "mx.test")
RELAYED = Outcome("delivered", 250, "2.0.0", "ok", "end of DATA", "mx.test", relayed=True)
LATER = Outcome("transient", 451, "4.3.0", "later", "RCPT", "mx.test")
LATER_5 = Outcome("transient", 452, "5.2.2", "mailbox full", "RCPT", "mx.test")
GONE = Outcome("permanent", 550, "5.1.1", "no such user", "RCPT", "mx.test")
SPAM = Outcome("permanent", 550, "5.7.1", "rejected as spam", "DATA", "mx.test")
LISTED = Outcome("permanent", 550, "5.7.1", "not attempted: on the suppression list", "suppressed")

SUCCESS = ("SUCCESS",)
NEVER = ("NEVER",)


def message(*recipients: Recipient, sender="s@example.com", isDSN=False) -> QueuedMessage:
    envelope = Envelope(sender, tuple(recipients))
    return QueuedMessage("Q1", envelope, Options(), RECEIVED, b"", isDSN)


def one(notify=()) -> QueuedMessage:
    return message(Recipient("a@x.test", notify))


def states(n=1, **fields) -> list[RecipientState]:
    return [RecipientState(**fields) for _ in range(n)]


# One recipient, one outcome: (name, notify, old state, outcome, now, expected
# new state, event kind, extra event details, suppressed?, DSN actions).
CASES = [
    (
        "delivered",
        (),
        RecipientState(),
        OK,
        RECEIVED,
        RecipientState(DONE, 1, 0.0, OK.describe()),
        "delivery",
        {},
        False,
        [],
    ),
    (
        "delivered, SUCCESS asked",
        SUCCESS,
        RecipientState(),
        OK,
        RECEIVED,
        RecipientState(DONE, 1, 0.0, OK.describe()),
        "delivery",
        {},
        False,
        [dsn.DELIVERED],
    ),
    (
        "relayed, SUCCESS asked: the next hop reports",
        SUCCESS,
        RecipientState(),
        RELAYED,
        RECEIVED,
        RecipientState(DONE, 1, 0.0, RELAYED.describe()),
        "delivery",
        {},
        False,
        [],
    ),
    (
        "unknown user: failed, suppressed, DSN",
        (),
        RecipientState(attempts=2),
        GONE,
        RECEIVED + 5,
        RecipientState(FAILED, 3, 0.0, GONE.describe()),
        "failure",
        {"reason": "user unknown"},
        True,
        [dsn.FAILED],
    ),
    (
        "spam refusal: failed, not suppressed",
        (),
        RecipientState(),
        SPAM,
        RECEIVED,
        RecipientState(FAILED, 1, 0.0, SPAM.describe()),
        "failure",
        {"reason": "spam detected"},
        False,
        [dsn.FAILED],
    ),
    (
        "permanent failure, NOTIFY=NEVER: no DSN",
        NEVER,
        RecipientState(),
        GONE,
        RECEIVED,
        RecipientState(FAILED, 1, 0.0, GONE.describe()),
        "failure",
        {"reason": "user unknown"},
        True,
        [],
    ),
    (
        "transient: retried after the first delay",
        (),
        RecipientState(),
        LATER,
        RECEIVED + 10,
        RecipientState(PENDING, 1, RECEIVED + 70, LATER.describe()),
        "deferral",
        {"next_attempt": RECEIVED + 70},
        False,
        [],
    ),
    (
        "transient: the delay doubles up to the maximum",
        (),
        RecipientState(attempts=5),
        LATER,
        RECEIVED + 100,
        RecipientState(PENDING, 6, RECEIVED + 700, LATER.describe()),
        "deferral",
        {"next_attempt": RECEIVED + 700},
        False,
        [],
    ),
    (
        "transient: the next attempt never later than expiry",
        (),
        RecipientState(attempts=5, delayNotified=True),
        LATER,
        EXPIRY - 100,
        RecipientState(PENDING, 6, EXPIRY, LATER.describe(), True),
        "deferral",
        {"next_attempt": EXPIRY},
        False,
        [],
    ),
    (
        "transient past the delay warning: one DELAY notice",
        (),
        RecipientState(attempts=3),
        LATER,
        RECEIVED + 1800,
        RecipientState(PENDING, 4, RECEIVED + 2280, LATER.describe(), True),
        "deferral",
        {"next_attempt": RECEIVED + 2280},
        False,
        [dsn.DELAYED],
    ),
    (
        "transient, DELAY already notified: no second notice",
        (),
        RecipientState(attempts=4, delayNotified=True),
        LATER,
        RECEIVED + 1900,
        RecipientState(PENDING, 5, RECEIVED + 2500, LATER.describe(), True),
        "deferral",
        {"next_attempt": RECEIVED + 2500},
        False,
        [],
    ),
    (
        "transient past the warning, NOTIFY=SUCCESS: no DELAY notice",
        SUCCESS,
        RecipientState(attempts=3),
        LATER,
        RECEIVED + 1800,
        RecipientState(PENDING, 4, RECEIVED + 2280, LATER.describe(), False),
        "deferral",
        {"next_attempt": RECEIVED + 2280},
        False,
        [],
    ),
]


@pytest.mark.parametrize(
    "name, notify, old, outcome, now, new, kind, extra, suppressed, actions",
    CASES,
    ids=[case[0] for case in CASES],
)
def test_one_recipient(name, notify, old, outcome, now, new, kind, extra, suppressed, actions):
    queued = one(notify)
    settlement = settle(queued, [old], Attempt({0: outcome}), now, RETRY)
    assert settlement.states == {0: new}
    [event] = settlement.events
    assert (event.kind, event.recipient) == (kind, "a@x.test")
    assert event.details == {
        "attempt": new.attempts,
        "code": outcome.code,
        "status": outcome.enhanced,
        "state": outcome.state,
        "host": outcome.host,
        "text": outcome.text,
        **extra,
    }
    assert settlement.suppress == (["a@x.test"] if suppressed else [])
    assert [[r.action for r in reports] for reports in settlement.dsns] == [[a] for a in actions]
    for [report] in settlement.dsns:
        assert report.recipient == queued.envelope.recipients[0]
        assert report.outcome == outcome
        assert report.retryUntil == (EXPIRY if report.action == dsn.DELAYED else None)


@pytest.mark.parametrize("outcome", [LATER, LATER_5], ids=["4xx", "5xx status in a 4xx reply"])
def test_expired(outcome):
    """A transient failure once the message is as old as maxQueueTime: failed, and says why."""
    settlement = settle(one(), states(attempts=7), Attempt({0: outcome}), EXPIRY, RETRY)
    [state] = settlement.states.values()
    enhanced = "4.4.7" if outcome.enhanced.startswith("4") else outcome.enhanced
    text = f"gave up after 8 attempts; last: {outcome.text}"
    assert (state.status, state.attempts, state.nextAttempt) == (FAILED, 8, 0.0)
    assert state.last.startswith(f"{outcome.code} {enhanced} {text}")
    [event] = settlement.events
    assert event.kind == "failure"
    assert event.details["expired"] is True
    assert event.details["reason"] == "expired"
    assert (event.details["status"], event.details["text"]) == (enhanced, text)
    assert settlement.suppress == []
    [[report]] = settlement.dsns
    assert report.action == dsn.FAILED
    assert (report.outcome.status, report.outcome.enhanced) == ("permanent", enhanced)


def test_suppressed_recipient_is_not_suppressed_again():
    """The suppression list stopped it: reason C{suppressed}, no new entry, a failure DSN."""
    settlement = settle(one(), states(), Attempt({0: LISTED}, frozenset({0})), RECEIVED, RETRY)
    [event] = settlement.events
    assert (event.kind, event.details["reason"]) == ("failure", "suppressed")
    assert settlement.states[0].status == FAILED
    assert settlement.suppress == []
    assert [[r.action for r in d] for d in settlement.dsns] == [[dsn.FAILED]]


def test_only_the_outcomes_given_are_settled():
    """An attempt settles the recipients it names; the others keep their state."""
    queued = message(Recipient("a@x.test"), Recipient("b@x.test"), Recipient("c@x.test"))
    old = [RecipientState(DONE, 1), RecipientState(), RecipientState(attempts=1)]
    settlement = settle(queued, old, Attempt({1: OK, 2: LATER}), RECEIVED + 60, RETRY)
    assert set(settlement.states) == {1, 2}
    assert [e.recipient for e in settlement.events] == ["b@x.test", "c@x.test"]
    assert [e.kind for e in settlement.events] == ["delivery", "deferral"]


def test_dsns_one_per_action_in_order_of_first_appearance():
    queued = message(
        Recipient("a@x.test"),
        Recipient("b@x.test", ("SUCCESS",)),
        Recipient("c@x.test"),
        Recipient("d@x.test", ("SUCCESS", "FAILURE")),
    )
    outcomes = {0: GONE, 1: OK, 2: SPAM, 3: OK}
    settlement = settle(queued, states(4), Attempt(outcomes), RECEIVED, RETRY)
    assert [[(r.action, r.recipient.address) for r in d] for d in settlement.dsns] == [
        [(dsn.FAILED, "a@x.test"), (dsn.FAILED, "c@x.test")],
        [(dsn.DELIVERED, "b@x.test"), (dsn.DELIVERED, "d@x.test")],
    ]


@pytest.mark.parametrize(
    "queued",
    [message(Recipient("a@x.test"), sender=""), message(Recipient("a@x.test"), isDSN=True)],
    ids=["null sender", "a DSN itself"],
)
def test_no_dsn_to_tell(queued):
    """Nobody to tell (null sender), or a DSN about a DSN: the events, no DSN."""
    for happened in (Attempt({0: GONE}), Removal(DELETED, "deleted")):
        settlement = settle(queued, states(), happened, RECEIVED, RETRY)
        assert [e.kind for e in settlement.events] == ["failure"]
        assert settlement.dsns == []


def test_removal_fails_every_pending_recipient():
    """An administrator's deletion: reason C{deleted}, no attempt counted, no suppression."""
    queued = message(
        Recipient("a@x.test"), Recipient("b@x.test"), Recipient("c@x.test", ("NEVER",))
    )
    old = [RecipientState(attempts=2), RecipientState(DONE, 1), RecipientState(attempts=2)]
    text = "deleted from the queue by an administrator"
    settlement = settle(queued, old, Removal(DELETED, text), RECEIVED + 60, RETRY)
    assert set(settlement.states) == {0, 2}
    outcome = Outcome("permanent", 550, "5.0.0", text, DELETED)
    assert settlement.states[0] == RecipientState(FAILED, 2, 0.0, outcome.describe())
    assert [e.recipient for e in settlement.events] == ["a@x.test", "c@x.test"]
    assert settlement.events[0].kind == "failure"
    assert settlement.events[0].details == {
        "attempt": 2,
        "code": 550,
        "status": "5.0.0",
        "state": DELETED,
        "host": "",
        "text": text,
        "reason": DELETED,
    }
    assert settlement.suppress == []
    [[report]] = settlement.dsns
    assert (report.action, report.recipient.address, report.outcome) == (
        dsn.FAILED,
        "a@x.test",
        outcome,
    )


def test_removal_without_notice():
    """Held mail dropped (its sender watches it in the dashboard): the failures, no DSN."""
    removal = Removal(HOLD_EXPIRED, "held too long", notify=False)
    settlement = settle(one(), states(), removal, RECEIVED + 7 * 86400, RETRY)
    [event] = settlement.events
    assert (event.kind, event.details["reason"]) == ("failure", HOLD_EXPIRED)
    assert settlement.states[0].status == FAILED
    assert settlement.dsns == []


def test_removal_long_after_expiry_is_still_a_removal():
    settlement = settle(one(), states(), Removal(DELETED, "gone"), EXPIRY + 10, RETRY)
    assert settlement.events[0].details["reason"] == DELETED
    assert "expired" not in settlement.events[0].details


def test_pure():
    """The same question gets the same answer, and the states given are left alone."""
    queued = message(Recipient("a@x.test"), Recipient("b@x.test"))
    old = [RecipientState(attempts=3), RecipientState()]
    before = [evolve(s) for s in old]
    happened = Attempt({0: LATER, 1: GONE})
    first = settle(queued, old, happened, RECEIVED + 1800, RETRY)
    second = settle(queued, old, happened, RECEIVED + 1800, RETRY)
    assert first == second
    assert old == before
