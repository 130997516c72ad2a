"""
Per-login rates and quotas: the limiter of one worker (admitting from
allowances reserved in the shared store, exactly), and the session's
answers (451 4.7.1 over a rate, 550 5.7.1 over a quota, or held).
"""

from __future__ import annotations

import calendar
from datetime import timedelta

from attrs import evolve
from twisted.internet.defer import Deferred, fail
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


def test_near_its_limit_each_recipient_is_its_own_reservation():
    store = MemoryLoginUsage()
    limits, clock = makeLimits(store)
    sender = limited(rate=Limit(5, "minute"))
    answers = admitted(limits, sender, clock, 7)
    assert [a.refused for a in answers] == [None] * 5 + ["rate"] * 2
    assert answers[-1].resets == NOON + 60  # the minute's end: when to try again
    # Fewer than 16 left: one at a time; then the total read says full: no more asking.
    assert store.reservations == 5 and store.counts == {("app", "minute", NOON): 5}
    clock.advance(60)  # a new minute
    assert [a.refused for a in admitted(limits, sender, clock, 1)] == [None]


def test_far_from_its_limit_a_burst_takes_few_reservations():
    store = MemoryLoginUsage()
    limits, clock = makeLimits(store)
    sender = limited(quota=Limit(100_000, "day"))
    assert all(a.refused is None for a in admitted(limits, sender, clock, 1000))
    assert store.reservations <= 11  # each takes twice the pace so far: 1, 1, 2, 4, 8...
    [counted] = store.counts.values()
    assert 1000 <= counted <= 2000
    clock.advance(1)  # kept: what it admitted in this second
    clock.advance(1)  # an idle second: the rest is handed back
    assert store.counts == {("app", "day", NOON - 12 * 3600): 1000}


def test_at_a_steady_pace_far_from_the_limit_recipients_never_wait_for_the_database():
    store = MemoryLoginUsage()
    limits, clock = makeLimits(store)
    sender = limited(quota=Limit(100_000, "day"))
    admitted(limits, sender, clock, 50)
    for _ in range(5):
        clock.advance(1)  # each second's exchange takes ahead what the next needs
        reservations = store.reservations
        assert all(a.refused is None for a in admitted(limits, sender, clock, 50))
        assert store.reservations == reservations
    clock.pump([1, 1])
    assert sum(store.counts.values()) == 300


def test_a_reservation_takes_at_most_an_eighth_of_what_is_left():
    store = MemoryLoginUsage()
    limits, clock = makeLimits(store)
    sender = limited(quota=Limit(100, "day"))
    admitted(limits, sender, clock, 60)
    [counted] = store.counts.values()
    assert counted <= 60 + (100 - 60) // 8 + 1


def test_two_workers_together_never_exceed_a_quota():
    store = MemoryLoginUsage()
    one, clock = makeLimits(store)
    two = SendingLimits(store, clock)
    two.startService()
    sender = limited(quota=Limit(10, "day"))
    answers = []
    for _ in range(10):
        answers += admitted(one, sender, clock, 1) + admitted(two, sender, clock, 1)
    assert [a.refused for a in answers].count(None) == 10
    assert {a.refused for a in answers} == {None, "quota"}
    assert sum(store.counts.values()) == 10
    clock.pump([1, 1])
    assert [
        a.refused for a in admitted(one, sender, clock, 1) + admitted(two, sender, clock, 1)
    ] == [
        "quota",
        "quota",
    ]
    assert sum(store.counts.values()) == 10


def test_a_window_another_worker_holds_unused_is_free_again_after_its_exchange():
    store = MemoryLoginUsage()
    one, clock = makeLimits(store)
    two = SendingLimits(store, clock)
    two.startService()
    sender = limited(quota=Limit(100, "day"))
    admitted(one, sender, clock, 3)  # took 1, 1, 2: one left over
    assert sum(store.counts.values()) == 4
    assert [a.refused for a in admitted(two, sender, clock, 96)] == [None] * 96
    assert [a.refused for a in admitted(two, sender, clock, 1)] == ["quota"]  # one's spare
    clock.pump([1, 1])  # one hands it back; two reads the total
    assert [a.refused for a in admitted(two, sender, clock, 2)] == [None, "quota"]
    assert sum(store.counts.values()) == 100


def test_a_failed_reservation_refuses_nothing_and_raises():
    class Broken(MemoryLoginUsage):
        def reserveLoginUsage(self, wants):
            return fail(RuntimeError("database gone"))

    limits, clock = makeLimits(Broken())
    d = Deferred.fromCoroutine(limits.admit(limited(rate=Limit(5, "minute")), clock.seconds()))
    assert d.result.check(RuntimeError)
    d.addErrback(lambda f: None)
    assert all(w.reserving is None for w in limits._windows.values())


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


def test_over_its_rate_too_a_holding_login_over_its_quota_is_refused_not_held():
    store = MemoryLoginUsage()
    limits, clock = makeLimits(store)
    sender = limited(rate=Limit(1, "minute"), quota=Limit(1, "day"), overQuota="hold")
    answers = admitted(limits, sender, clock, 2)
    assert [(a.refused, a.held) for a in answers] == [(None, False), ("rate", False)]
    clock.advance(60)  # a new minute: the rate allows it, the quota holds it
    assert [(a.refused, a.held) for a in admitted(limits, sender, clock, 1)] == [(None, True)]


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


def test_stopping_hands_back_the_unused_allowance():
    store = MemoryLoginUsage()
    limits, clock = makeLimits(store)
    admitted(limits, limited(quota=Limit(1000, "day")), clock, 3)
    assert sum(store.counts.values()) == 4  # took 1, 1, 2
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
