"""
The submission step every way in shares (SMTP's DATA, POST /v1/send):
the recipient checks, the limits, and what submit does to a message.
"""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from smtpeter.message import Envelope, Recipient
from smtpeter.runtime import AddressPolicy
from smtpeter.smtp import (
    AuthenticatedSender,
    OverLimit,
    SendingLimits,
    ServerSettings,
    SMTPRefusal,
    admitRecipient,
    checkRecipient,
    submit,
)
from smtpeter.store import Limit, MemoryLoginUsage
from smtpeter.testing import result


class Queue:
    def __init__(self) -> None:
        self.queued: list = []

    def enqueue(self, envelope, options, content):
        self.queued.append((envelope, options, content))
        return succeed("Q1")


def settings() -> ServerSettings:
    clock = Clock()
    clock.advance(1_800_000_000)
    return ServerSettings(
        hostname="gw.test",
        portal=None,  # type: ignore[arg-type]
        queue=Queue(),  # type: ignore[arg-type]
        throttle=None,  # type: ignore[arg-type]
        clock=clock,
        tlsOptions=None,
        recipientLiterals=AddressPolicy(),
        limits=SendingLimits(MemoryLoginUsage(), clock),
    )


def run(coroutine):
    return result(Deferred.fromCoroutine(coroutine))


def test_literals_to_internal_hosts_are_refused():
    s = settings()
    checkRecipient(s, "a@example.org", "peer")
    checkRecipient(s, "a@[93.184.216.34]", "peer")
    for address in ("a@[127.0.0.1]", "a@[10.1.2.3]", "a@[IPv6:::1]", "a@[169.254.169.254]"):
        with pytest.raises(SMTPRefusal) as raised:
            checkRecipient(s, address, "peer")
        assert raised.value.reply.code == 550 and "not a public address" in raised.value.reply.text


def test_admitted_recipients_count_once_submitted_and_the_rest_refused():
    s = settings()
    sender = AuthenticatedSender("app", frozenset(), rate=Limit(2, "minute"))
    reserved = []
    for address in ("a@x.org", "b@x.org"):
        reserved.extend(run(admitRecipient(s, sender, "s@example.com", address)).keys)
    with pytest.raises(OverLimit) as raised:
        run(admitRecipient(s, sender, "s@example.com", "c@x.org"))
    assert raised.value.reply.code == 451 and raised.value.admission.resets is not None
    envelope = Envelope("s@example.com", (Recipient("a@x.org"), Recipient("b@x.org")))
    fields = [b"From: s@example.com\r\n", b"X-Smtpeter-Tags: t\r\n", b"Subject: hi\r\n"]
    qid, options = run(
        submit(
            s,
            sender,
            envelope,
            fields,
            lambda kept: b"".join(kept) + b"\r\nbody\r\n",
            reserved,
            False,
            "peer",
        )
    )
    assert qid == "Q1" and reserved == []  # counted for good
    assert options.tags == ("t",) and options.login == "app" and options.messageId
    [(_, _, content)] = s.queue.queued  # type: ignore[attr-defined]
    assert b"X-Smtpeter" not in content and b"Message-ID: " in content and b"Date: " in content


def test_a_login_in_hold_mode_or_over_its_quota_has_its_mail_held():
    s = settings()
    envelope = Envelope("s@example.com", (Recipient("a@x.org"),))
    fields = [b"From: s@example.com\r\n"]
    for sender, overQuota in (
        (AuthenticatedSender("app", frozenset(), hold=True), False),
        (AuthenticatedSender("app", frozenset()), True),
    ):
        _, options = run(submit(s, sender, envelope, fields, b"".join, [], overQuota, "peer"))
        assert options.hold


def test_a_from_outside_the_sender_domains_is_refused_before_queuing():
    s = settings()
    sender = AuthenticatedSender("app", frozenset(), senderDomains=("example.com",))
    envelope = Envelope("s@example.com", (Recipient("a@x.org"),))
    with pytest.raises(SMTPRefusal) as raised:
        run(submit(s, sender, envelope, [b"From: x@evil.test\r\n"], b"".join, [], False, "peer"))
    assert "x@evil.test" in raised.value.reply.text
    assert s.queue.queued == []  # type: ignore[attr-defined]
