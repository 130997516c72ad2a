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
    "name, kind, action, status",
    [
        ("postfix-hard.eml", "hard", "failed", "5.1.1"),
        ("delayed.eml", "soft", "delayed", "4.4.1"),
        ("mailbox-full.eml", "soft", "failed", "5.2.2"),
        ("out-of-office.eml", "auto-reply", None, None),
        ("qmail-hard.eml", "hard", "failed", "5.1.1"),
        ("soft-words.eml", "soft", "failed", None),
        ("arf.eml", "complaint", None, None),
        ("newsletter-reply.eml", "unknown", None, None),
    ],
)
def test_classes(name, kind, action, status):
    report = read(name)
    assert (report.kind, report.action, report.status) == (kind, action, status)


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
