"""Reading bounces (a corpus of real-world shapes) and the forwarding rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smtpeter.events._bouncereasons import REASONS, STATUS
from smtpeter.events._bounces import forwarding, readBounce
from smtpeter.events._classify import reasonFor
from smtpeter.message import Recipient
from smtpeter.store._events import MessageRecord

BOUNCES = Path(__file__).parents[1] / "fixtures" / "bounces"
DOC = Path(__file__).parents[2] / "docs" / "bounces.md"


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


def dsn(status: str, diagnostic: str | None, notice: str = "Your message could not be delivered."):
    """An RFC 3464 report with one recipient, as Postfix or Sendmail would send it."""
    fields = f"Final-Recipient: rfc822; reader@example.org\nAction: failed\nStatus: {status}\n"
    if diagnostic is not None:
        fields += f"Diagnostic-Code: smtp; {diagnostic}\n"
    text = (
        "From: MAILER-DAEMON@mx.example.org\nSubject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="P"\n\n'
        f"--P\nContent-Type: text/plain\n\n{notice}\n\n"
        "--P\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; mx.example.org\n\n{fields}\n--P--\n"
    )
    return readBounce(text.replace("\n", "\r\n").encode())


@pytest.mark.parametrize(
    "status, diagnostic, notice, kind, reason",
    [
        # Permanent codes whose words say the message was filtered, or its sender refused.
        ("5.0.0", "550 5.0.0 Message filtered. Please see the FAQ", "", "soft", "filtered"),
        ("5.7.1", "550 5.7.1 Refused due to recipient preferences", "", "soft", "filtered"),
        ("5.1.8", "501 5.1.8 Sender address rejected", "", "soft", "sender rejected"),
        (
            "5.1.8",
            "553 5.1.8 <news@example.com>... Domain of sender address news@example.com does "
            "not exist",
            "",
            "soft",
            "sender rejected",
        ),
        ("5.1.7", "550 5.1.7 Invalid sender address", "", "soft", "sender rejected"),
        (
            "5.0.0",
            "553 5.0.0 news.example.com does not exist",
            "SMTP error from remote mail server after MAIL FROM:<news@example.com>:",
            "soft",
            "sender rejected",
        ),
        # "User unknown" in answer to DATA, with a status that does not say it: a filter.
        (
            "5.0.0",
            "550 5.0.0 <reader@example.org>... User unknown",
            "... while talking to mx.example.org.:\n>>> DATA\n<<< 550 5.0.0 User unknown",
            "soft",
            "filtered",
        ),
        (
            "5.0.0",
            "550 Unknown user reader@example.org",
            "host mx.example.org said: 550 Unknown user (in reply to end of DATA command)",
            "soft",
            "filtered",
        ),
        # ...but 5.1.1 says it, and so does an answer to RCPT TO.
        (
            "5.1.1",
            "550 5.1.1 <reader@example.org>... User unknown",
            ">>> DATA\n<<< 550 5.1.1 <reader@example.org>... User unknown",
            "hard",
            "user unknown",
        ),
        (
            "5.0.0",
            "550 <reader@example.org>: User unknown",
            "(in reply to RCPT TO command)",
            "hard",
            "user unknown",
        ),
        # 5.0.0 / 5.5.0 with the words inside longer sentences.
        (
            "5.0.0",
            "550 5.0.0 Sorry, no such user here: reader@example.org",
            "",
            "hard",
            "user unknown",
        ),
        (
            "5.0.0",
            "550 Requested action failed: user unknown in this domain",
            "",
            "hard",
            "user unknown",
        ),
        ("5.0.0", "550 5.0.0 Recipient failed: mailbox not found (#1)", "", "hard", "user unknown"),
        (
            "5.5.0",
            "550 5.5.0 Adresse destinataire invalide. Invalid recipient. LPN007_416",
            "",
            "hard",
            "user unknown",
        ),
        (
            "5.0.0",
            "554 delivery error: dd This user doesn't have a example.com account (reader@"
            "example.org) [0] - mta1.example.com",
            "",
            "hard",
            "user unknown",
        ),
        # Status 5.5.0 for an unknown recipient: the notice says what the report does not.
        (
            "5.5.0",
            None,
            "----- Transcript of session follows -----\nmail.local: unknown user: reader\n"
            "554 <reader@example.org>... Service unavailable",
            "hard",
            "user unknown",
        ),
        ("5.0.0", None, "reader@example.org: Domain does not exist", "hard", "host unknown"),
        # A mailbox disabled is not a mailbox gone.
        (
            "5.2.1",
            "550 5.2.1 The email account that you tried to reach is disabled.",
            "",
            "soft",
            "suspended",
        ),
        ("5.2.1", "550 5.2.1 <reader@example.org>... User Unknown", "", "hard", "user unknown"),
        (
            "5.4.1",
            "550 5.4.1 Recipient address rejected: Access denied. [AM0PR01MB.eurprd01.prod."
            "outlook.com]",
            "",
            "hard",
            "user unknown",
        ),
        ("5.7.27", "550 5.7.27 Sender address has null MX", "", "soft", "sender rejected"),
        ("5.1.10", "550 5.1.10 Recipient address has null MX", "", "hard", "host unknown"),
    ],
)
def test_permanent_codes_and_their_words(status, diagnostic, notice, kind, reason):
    report = dsn(status, diagnostic, notice or "Your message could not be delivered.")
    assert (report.kind, report.reason, report.status) == (kind, reason, status)


def test_a_version_number_is_not_a_status():
    text = (
        "From: MAILER-DAEMON@relay.example.org\r\nSubject: Undeliverable mail\r\n\r\n"
        "Received: by relay.example.org (mxl_mta-5.5.0-3) with ESMTP\r\n"
        "550 <reader@example.org>... No such user\r\n"
    )
    report = readBounce(text.encode())
    assert (report.kind, report.reason, report.status) == ("hard", "user unknown", "5.0.0")


@pytest.mark.parametrize("charset", ["iso-2022-jp", "undefined", "idna", "x-no-such-charset"])
def test_a_notice_is_read_in_its_charset_whatever_it_is(charset):
    text = "ユーザー reader (reader@example.org) は Domino ディレクトリには見つかりません。"
    body = text.encode("iso-2022-jp") if charset == "iso-2022-jp" else b"No such user here"
    message = (
        f"From: MAILER-DAEMON@mx.example.org\r\nSubject: Undeliverable\r\n"
        f'Content-Type: text/plain; charset="{charset}"\r\n\r\n'
    ).encode() + body
    report = readBounce(message)
    assert (report.kind, report.reason) == ("hard", "user unknown")


def test_headers_with_8bit_bytes_are_read():
    message = (
        b"From: reader@example.org\r\nSubject: Re: news\r\n"
        b"Auto-Submitted: auto-replied \xe9t\xe9\r\nPrecedence: \x80\r\n\r\nAway.\r\n"
    )
    report = readBounce(message)
    assert (report.kind, report.reason) == ("auto-reply", "vacation")


def test_a_multi_line_replys_status_is_read():
    report = dsn("", "550-5.2.1 The email account that you tried to reach is disabled.")
    assert (report.kind, report.reason, report.status) == ("soft", "suspended", "5.2.1")


def test_a_report_quoted_in_a_message_is_not_read_as_one():
    quoted = (BOUNCES / "postfix-hard.eml").read_text()
    text = (
        "From: reader@example.org\nSubject: Fwd: what is this?\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="Q"\n\n'
        "--Q\nContent-Type: text/plain\n\nI got this, what does it mean?\n\n"
        f"--Q\nContent-Type: message/rfc822\n\n{quoted}\n--Q--\n"
    )
    report = readBounce(text.replace("\n", "\r\n").encode())
    assert (report.kind, report.reason) == ("unknown", "undefined")


def test_a_local_programs_no_such_user_is_its_own_trouble():
    report = dsn("5.1.1", None, "")
    assert report.kind == "hard"
    text = (
        "From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="P"\r\n\r\n'
        "--P\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; reader@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        'Diagnostic-Code: x-unix; procmail: Couldn\'t create "/var/spool/mail/reader": '
        "No such user\r\n\r\n--P--\r\n"
    )
    report = readBounce(text.encode())
    assert (report.kind, report.reason) == ("soft", "system error")


@pytest.mark.parametrize(
    "headers, body, kind, reason",
    [
        (
            "From: staff@hotmail.com\r\nSubject: complaint about message from 192.0.2.1",
            "",
            "complaint",
            "feedback",
        ),
        (
            "From: reader@example.org\r\nSubject: unsubscribe\r\nX-Apple-Unsubscribe: true",
            "",
            "complaint",
            "feedback",
        ),
        (
            "From: no-reply@sns.amazonaws.com\r\nSubject: AWS Notification Message",
            '{"notificationType":"Complaint","complaint":{}}',
            "complaint",
            "feedback",
        ),
        (
            "From: no-reply@sns.amazonaws.com\r\nSubject: AWS Notification Message",
            '{"notificationType":"Delivery","delivery":{}}',
            "success",
            "delivered",
        ),
    ],
)
def test_complaints_and_notifications_that_are_not_arf(headers, body, kind, reason):
    report = readBounce(f"{headers}\r\n\r\n{body}\r\n".encode())
    assert (report.kind, report.reason) == (kind, reason)


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


def documentedReasons() -> list[tuple[str, str, str]]:
    """docs/bounces.md's table of reasons: (reason, phrases, status codes)."""
    header = "| reason | phrases, for example (case ignored) | status codes |"
    text = DOC.read_text()
    assert header in text
    rows = []
    for line in text.split(header, 1)[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        reason, phrases, codes = (cell.strip() for cell in line.strip().strip("|").split("|"))
        rows.append((reason.strip("`"), phrases, codes))
    return rows


def test_the_documented_reasons_are_the_code():
    rows = documentedReasons()
    assert [reason for reason, _, _ in rows] == list(REASONS)
    for reason, phrases, codes in rows:
        documented = {
            (int(subject), None if detail == "x" else int(detail))
            for subject, detail in re.findall(r"x\.(\d+)\.(\d+|x)", codes)
        }
        inCode = {
            key if isinstance(key, tuple) else (key, None)
            for key, value in STATUS.items()
            if value == reason
        }
        assert documented == inCode, reason
        if reason in ("vacation", "feedback", "delivered", "undefined"):
            continue
        # Every phrase the table gives is one the code reads as that reason.
        for phrase in re.sub(r"\([^)]*\)", "", phrases).split(","):
            phrase = phrase.strip().strip('"')
            assert reasonFor(None, phrase) == reason, (phrase, reason)
