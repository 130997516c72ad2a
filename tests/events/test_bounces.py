"""Reading bounces (a corpus of real-world shapes) and the forwarding rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpeter.events._bounces import forwarding, readBounce
from smtpeter.queue._message import Recipient
from smtpeter.store._events import MessageRecord

BOUNCES = Path(__file__).parents[1] / "fixtures" / "bounces"


def read(name: str):
    return readBounce((BOUNCES / name).read_bytes().replace(b"\n", b"\r\n"))


@pytest.mark.parametrize(
    "name, kind, reason, action, status",
    [
        ("postfix-hard.eml", "hard", "user unknown", "failed", "5.1.1"),
        ("delayed.eml", "soft", "system error", "delayed", "4.4.1"),
        ("mailbox-full.eml", "soft", "mailbox full", "failed", "5.2.2"),
        ("out-of-office.eml", "auto-reply", "vacation", None, None),
        ("qmail-hard.eml", "hard", "user unknown", "failed", "5.1.1"),
        ("soft-words.eml", "soft", "mailbox full", "failed", None),
        ("arf.eml", "complaint", "feedback", None, None),
        ("newsletter-reply.eml", "unknown", "undefined", None, None),
        # Exim marks its bounces Auto-Submitted: auto-replied; the quoted
        # original (spam, policy) is not read.
        ("exim-hard.eml", "hard", "user unknown", "failed", "5.1.1"),
        ("exim-delay.eml", "soft", "system error", "delayed", "4.4.1"),
        ("exchange2003.eml", "hard", "user unknown", "failed", None),
        ("gmail-delay.eml", "soft", "rate limited", "delayed", "4.7.0"),
        ("broken-rfc3464.eml", "hard", "host unknown", "failed", "5.1.2"),
        ("deliverable.eml", "success", "delivered", "deliverable", "2.1.5"),
        ("gmail-spam.eml", "soft", "spam detected", "failed", "5.7.1"),
        ("outlook-rbl.eml", "soft", "blocked", "failed", "5.7.1"),
        ("policy.eml", "soft", "policy", "failed", "5.7.0"),
        ("too-big.eml", "soft", "message too big", "failed", "5.3.4"),
        ("rate-limited.eml", "soft", "rate limited", "failed", "5.7.28"),
        ("moved.eml", "hard", "has moved", "failed", "5.1.6"),
        ("expired.eml", "soft", "expired", "failed", "4.4.7"),
    ],
)
def test_classes_and_reasons(name, kind, reason, action, status):
    report = read(name)
    assert (report.kind, report.reason, report.action, report.status) == (
        kind,
        reason,
        action,
        status,
    )
    assert report.toJSON()["reason"] == reason


def test_rfc3464_fields():
    report = read("postfix-hard.eml")
    assert report.standard
    assert report.reportingMta == "mx.example.org"
    assert report.diagnostic.startswith("550 5.1.1 <reader@example.org>: Recipient address")
    assert report.subject == "Undelivered Mail Returned to Sender"
    # A DSN is auto-submitted too, but its report decides: it is not an auto-reply.
    assert read("postfix-hard.eml").kind == "hard"


def record(sender="news@example.com", notify=(), isDSN=False):
    recipient = Recipient("reader@example.org", notify)
    return MessageRecord("Q" * 20, 0.0, sender, (recipient,), None, None, (), {}, isDSN)


@pytest.mark.parametrize(
    "notify, name, forwarded",
    [
        ((), "postfix-hard.eml", True),  # default NOTIFY is FAILURE,DELAY
        ((), "delayed.eml", True),
        (("NEVER",), "postfix-hard.eml", False),
        (("NEVER",), "out-of-office.eml", True),  # auto-replies always
        (("SUCCESS",), "postfix-hard.eml", False),
        (("FAILURE",), "delayed.eml", False),
        (("DELAY",), "delayed.eml", True),
        (("NEVER",), "qmail-hard.eml", False),
        (("FAILURE",), "qmail-hard.eml", True),
        (("NEVER",), "exim-hard.eml", False),  # a failure, not an auto-reply
        (("FAILURE",), "exim-hard.eml", True),
        (("SUCCESS",), "deliverable.eml", True),
        (("FAILURE",), "deliverable.eml", False),
    ],
)
def test_forwarding_follows_the_senders_dsn_request(notify, name, forwarded):
    decision, why = forwarding(record(notify=notify), 0, read(name))
    assert decision is forwarded, why


def test_nothing_is_forwarded_for_a_null_sender_or_an_unknown_message():
    assert forwarding(record(sender=""), 0, read("out-of-office.eml"))[0] is False
    assert forwarding(record(isDSN=True), 0, read("postfix-hard.eml"))[0] is False
    assert forwarding(None, 0, read("postfix-hard.eml"))[0] is False
    assert forwarding(record(), 5, read("postfix-hard.eml"))[0] is False
