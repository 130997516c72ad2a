"""RFC 3464 reports built by the gateway."""

from __future__ import annotations

import email

from smtpeter.delivery import Outcome
from smtpeter.delivery._dsn import FAILED, RecipientReport, buildDSN
from smtpeter.queue import Envelope, Options, QueuedMessage, Recipient

CONTENT = b"Received: x\r\nSubject: hi\r\nMessage-ID: <m1@x>\r\n\r\nbody\r\n"


def message(ret=None):
    envelope = Envelope(
        "s@example.com", (Recipient("r@example.org", (), "rfc822;o@example.org"),), ret, "ENV\u00e9"
    )
    return QueuedMessage("Q1", envelope, Options(), 1700000000.0, CONTENT)


def test_failed_report_structure_and_lines():
    long = Outcome("permanent", 550, "5.7.1", "no " * 2000, "end of DATA", "mx.example.org")
    report = RecipientReport(message().envelope.recipients[0], FAILED, long)
    envelope, content = buildDSN("gw.test", message(), CONTENT, [report], 1700000100.0)
    assert envelope.sender == "" and [r.address for r in envelope.recipients] == ["s@example.com"]
    assert envelope.recipients[0].notify == ("NEVER",)
    assert max(len(line) for line in content.split(b"\r\n")) <= 998
    assert content.count(b"\r\n") == content.count(b"\n")  # CRLF only
    parsed = email.message_from_bytes(content)
    assert parsed["From"] == "Mail Delivery System <MAILER-DAEMON@gw.test>"
    assert parsed["Message-ID"].endswith(".dsn@gw.test>")
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed.get_content_type() == "multipart/report"
    assert [p.get_content_type() for p in parsed.get_payload()] == [
        "text/plain",
        "message/delivery-status",
        "message/rfc822",
    ]
    returned = parsed.get_payload()[2].get_payload()[0]
    assert returned["Message-ID"] == "<m1@x>"
    assert b"Original-Envelope-Id: ENV?" in content  # ASCII only
    assert b"Remote-MTA: dns; mx.example.org" in content


def test_ret_hdrs_returns_only_the_header():
    report = RecipientReport(
        message().envelope.recipients[0], FAILED, Outcome.permanent("gone", "RCPT", "mx")
    )
    _, content = buildDSN("gw.test", message("HDRS"), CONTENT, [report], 1700000100.0)
    assert b"Content-Type: text/rfc822-headers" in content
    assert b"Subject: hi" in content and b"body\r\n" not in content.split(b"rfc822-headers")[1]
