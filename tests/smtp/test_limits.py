"""
Per-login rates and quotas: the limiter of one worker (counting in memory,
exchanging with the shared store once a second), and the session's
answers (451 4.7.1 over a rate, 550 5.7.1 over a quota, or held).
"""

from __future__ import annotations

import calendar
from datetime import timedelta

from attrs import evolve
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from smtpeter.events import MemoryEventSink
from smtpeter.smtp import AuthenticatedSender, SendingLimits
from smtpeter.store import Limit, MemoryLoginUsage

from .harness import Harness

NOON = calendar.timegm((2026, 12, 7, 12, 0, 0))


def limited(rate=None, quota=None, overQuota="refuse", login="app") -> AuthenticatedSender:
    return AuthenticatedSender(login, frozenset(), rate=rate, quota=quota, overQuota=overQuota)


def admitted(limits, sender, clock, n: int) -> list:
    """Admit and commit C{n} recipients; the answers."""
    answers = []
    for _ in range(n):
        d = Deferred.fromCoroutine(limits.admit(sender, clock.seconds()))
        answer = d.result
        answers.append(answer)
        if answer.refused is None and not answer.held:
            limits.commit(answer.keys)
    return answers


def makeLimits(store=None, events=None) -> tuple[SendingLimits, Clock]:
    clock = Clock()
    clock.advance(NOON)
    limits = SendingLimits(store or MemoryLoginUsage(), clock, events)
    limits.startService()
    return limits, clock


def test_a_rate_is_exact_within_a_worker_and_costs_one_read_per_window():
    store = MemoryLoginUsage()
    limits, clock = makeLimits(store)
    sender = limited(rate=Limit(5, "minute"))
    answers = admitted(limits, sender, clock, 7)
    assert [a.refused for a in answers] == [None] * 5 + ["rate"] * 2
    assert answers[-1].resets == NOON + 60  # the minute's end: when to try again
    assert store.exchanges == 1  # the first recipient read the window's total; no more
    clock.advance(1)  # the exchange hands over what was counted
    assert store.exchanges == 2 and sum(store.counts.values()) == 5
    clock.advance(60)  # a new minute
    assert [a.refused for a in admitted(limits, sender, clock, 1)] == [None]


def test_two_workers_share_a_quota_within_a_second():
    store = MemoryLoginUsage()
    one, clock = makeLimits(store)
    two = SendingLimits(store, clock)
    two.startService()
    sender = limited(quota=Limit(10, "day"))
    assert all(a.refused is None for a in admitted(one, sender, clock, 6))
    assert all(a.refused is None for a in admitted(two, sender, clock, 2))
    clock.advance(1)  # both exchange: each now knows the other's count
    answers = admitted(two, sender, clock, 3)
    assert [a.refused for a in answers] == [None, None, "quota"]
    assert [a.refused for a in admitted(one, sender, clock, 1)] == [None]  # overshoot: <= 1 s
    clock.pump([1, 1])  # two exchanges: each worker has the other's latest
    assert [a.refused for a in admitted(one, sender, clock, 1)] == ["quota"]
    assert sum(store.counts.values()) == 11


def test_reserved_recipients_count_until_released():
    limits, clock = makeLimits()
    sender = limited(rate=Limit(2, "hour"))
    first = Deferred.fromCoroutine(limits.admit(sender, clock.seconds())).result
    second = Deferred.fromCoroutine(limits.admit(sender, clock.seconds())).result
    third = Deferred.fromCoroutine(limits.admit(sender, clock.seconds())).result
    assert (first.refused, second.refused, third.refused) == (None, None, "rate")
    limits.release(first.keys)
    limits.release(second.keys)
    assert [a.refused for a in admitted(limits, sender, clock, 3)] == [None, None, "rate"]


def test_over_quota_a_holding_login_is_admitted_uncounted():
    store = MemoryLoginUsage()
    limits, clock = makeLimits(store)
    sender = limited(quota=Limit(1, "month"), overQuota="hold")
    answers = admitted(limits, sender, clock, 3)
    assert [(a.refused, a.held) for a in answers] == [(None, False), (None, True), (None, True)]
    clock.advance(1)
    assert sum(store.counts.values()) == 1


def test_idle_windows_are_forgotten_and_an_idle_worker_asks_nothing():
    store = MemoryLoginUsage()
    limits, clock = makeLimits(store)
    admitted(limits, limited(rate=Limit(9, "minute")), clock, 1)
    clock.advance(1)
    before = store.exchanges
    clock.pump([1] * 70)  # the minute ends: the window goes, and with it the exchanges
    assert limits._windows == {}
    exchanges = store.exchanges
    clock.pump([1] * 10)
    assert store.exchanges == exchanges > before


def test_stopping_hands_over_what_is_pending():
    store = MemoryLoginUsage()
    limits, clock = makeLimits(store)
    admitted(limits, limited(quota=Limit(9, "day")), clock, 3)
    limits.stopService()
    assert sum(store.counts.values()) == 3


# -- the session -----------------------------------------------------------------------


def session(rate=None, quota=None, overQuota="refuse") -> Harness:
    h = Harness()
    events = MemoryEventSink()
    h.limits = SendingLimits(MemoryLoginUsage(), h.clock, events, interval=timedelta(seconds=1))
    h.limits.startService()
    h.events = events
    h.settings.limits = h.limits
    record, password = h.logins.logins["alice"]
    h.logins.logins["alice"] = (
        evolve(record, rate=rate, quota=quota, overQuota=overQuota),
        password,
    )
    h.login()
    return h


def test_over_its_rate_a_recipient_gets_451_and_a_refused_event():
    h = session(rate=Limit(2, "minute"))
    h.send("MAIL FROM:<a@example.com>\r\n")
    assert h.send("RCPT TO:<b1@example.org>\r\n")[0].startswith("250")
    assert h.send("RCPT TO:<b2@example.org>\r\n")[0].startswith("250")
    reply = h.send("RCPT TO:<b3@example.org>\r\n")
    assert reply == [
        "451 4.7.1 Rate limit reached: this login may send to 2/minute recipients; try again later"
    ]
    [event] = [e for e in h.events.events if e.type == "refused"]
    assert event.recipient == "b3@example.org"
    assert event.details["reason"] == "rate" and event.details["login"] == "alice"
    assert event.details["code"] == 451 and event.details["status"] == "4.7.1"
    h.send("DATA\r\n")
    assert h.send("Subject: x\r\n\r\nbody\r\n.\r\n")[0].startswith("250")
    [(envelope, options, _)] = h.queue.messages
    assert len(envelope.recipients) == 2 and not options.hold


def test_a_client_that_keeps_trying_over_its_rate_is_closed():
    h = session(rate=Limit(1, "minute"))
    h.send("MAIL FROM:<a@example.com>\r\n")
    h.send("RCPT TO:<b@example.org>\r\n")
    replies = [h.send("RCPT TO:<c@example.org>\r\n") for _ in range(20)]
    assert replies[0][0].startswith("451 4.7.1") and replies[18][0].startswith("451 4.7.1")
    assert replies[19][-1].startswith("421 4.7.0") and h.protocol.closed
    assert len([e for e in h.events.events if e.type == "refused"]) == 20


def test_over_its_quota_a_recipient_gets_550_quota_exceeded():
    h = session(quota=Limit(1, "day"))
    h.send("MAIL FROM:<a@example.com>\r\n")
    h.send("RCPT TO:<b1@example.org>\r\n")
    reply = h.send("RCPT TO:<b2@example.org>\r\n")
    assert reply == ["550 5.7.1 quota exceeded: this login may send to 1/day recipients"]
    assert [e.details["reason"] for e in h.events.events if e.type == "refused"] == ["quota"]


def test_over_its_quota_a_holding_login_s_message_is_accepted_and_held():
    h = session(quota=Limit(1, "day"), overQuota="hold")
    h.transaction()
    assert h.send("Subject: x\r\n\r\nbody\r\n.\r\n")[0].startswith("250")
    h.transaction()
    assert h.send("Subject: y\r\n\r\nbody\r\n.\r\n")[0].startswith("250")
    assert [options.hold for _, options, _ in h.queue.messages] == [False, True]
    assert not [e for e in h.events.events if e.type == "refused"]


def test_a_transaction_not_completed_gives_its_recipients_back():
    h = session(rate=Limit(1, "hour"))
    h.send("MAIL FROM:<a@example.com>\r\n")
    assert h.send("RCPT TO:<b1@example.org>\r\n")[0].startswith("250")
    assert h.send("RSET\r\n")[0].startswith("250")
    h.send("MAIL FROM:<a@example.com>\r\n")
    assert h.send("RCPT TO:<b1@example.org>\r\n")[0].startswith("250")
    h.protocol.connectionLost(None)
    assert all(w.reserved == 0 for w in h.limits._windows.values())


def test_a_refused_message_gives_its_recipients_back():
    h = session(rate=Limit(1, "hour"))
    h.transaction()
    assert h.send("not a header\r\n\r\n.\r\n")[0].startswith("550")
    h.transaction()
    assert h.send("Subject: x\r\n\r\nbody\r\n.\r\n")[0].startswith("250")


def test_a_login_without_limits_never_touches_the_limiter():
    h = Harness()
    store = MemoryLoginUsage()
    h.settings.limits = SendingLimits(store, h.clock)
    h.login()
    for _ in range(3):
        h.transaction()
        assert h.send("Subject: x\r\n\r\nbody\r\n.\r\n")[0].startswith("250")
    assert store.exchanges == 0 and h.settings.limits._windows == {}
