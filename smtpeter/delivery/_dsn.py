"""
RFC 3464 delivery status notifications: a multipart/report from the null
sender to the envelope sender, with a readable part, the machine-readable
report per recipient, and the original message or its header (RET).
"""

from __future__ import annotations

import secrets
from email.utils import formatdate

from attrs import frozen

from ..message import Envelope, QueuedMessage, Recipient, splitHeader
from ._outcome import Outcome

FAILED = "failed"
DELAYED = "delayed"
DELIVERED = "delivered"
RELAYED = "relayed"
FULL_BY_DEFAULT_UP_TO = 1024 * 1024

_SUBJECT = {
    FAILED: "Undelivered Mail Returned to Sender",
    DELAYED: "Delayed Mail (still being retried)",
    DELIVERED: "Successful Mail Delivery Report",
    RELAYED: "Successful Mail Delivery Report",
}
_EXPLANATION = {
    FAILED: "could not be delivered to one or more recipients. It will not be retried.",
    DELAYED: "has not yet been delivered to one or more recipients. Delivery is being"
    " retried; you do not need to send it again.",
    DELIVERED: "was delivered to the recipients below.",
    RELAYED: "was passed on to a system that does not send delivery reports.",
}


@frozen
class RecipientReport:
    recipient: Recipient
    action: str
    outcome: Outcome
    retryUntil: float | None = None


MAX_TEXT = 400  # keeps every DSN line far below the 998-character limit


def _ascii(text: str) -> str:
    """One line of printable ASCII, shortened: remote replies can be long."""
    flat = text.encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " ")
    return flat if len(flat) <= MAX_TEXT else flat[: MAX_TEXT - 3] + "..."


def buildDSN(
    hostname: str,
    message: QueuedMessage,
    content: bytes,
    reports: list[RecipientReport],
    now: float,
) -> tuple[Envelope, bytes]:
    """The envelope and content of one DSN about C{reports} (all one action)."""
    action = reports[0].action
    boundary = f"smtpeter-{secrets.token_hex(8)}"
    sender = message.envelope.sender
    human = [
        f"This is the mail system at {hostname}.",
        "",
        f"Your message (queue id {message.qid}) {_EXPLANATION[action]}",
        "",
    ]
    for report in reports:
        human.append(f"<{report.recipient.address}>: {_ascii(report.outcome.describe())}")
    status = [
        f"Reporting-MTA: dns; {hostname}",
        f"X-Smtpeter-Queue-ID: {message.qid}",
    ]
    if message.envelope.envid:
        status.append(f"Original-Envelope-Id: {_ascii(message.envelope.envid)}")
    status.append(f"Arrival-Date: {formatdate(message.received)}")
    for report in reports:
        outcome = report.outcome
        status += ["", f"Final-Recipient: rfc822; {report.recipient.address}"]
        if report.recipient.orcpt:
            status.append(f"Original-Recipient: {_ascii(report.recipient.orcpt)}")
        status += [f"Action: {report.action}", f"Status: {outcome.enhanced}"]
        if outcome.host:
            status.append(f"Remote-MTA: dns; {outcome.host}")
        if outcome.code and outcome.state not in ("DNS MX", "connect", "expiry"):
            status.append(f"Diagnostic-Code: smtp; {_ascii(f'{outcome.code} {outcome.text}')}")
        elif action in (FAILED, DELAYED):
            status.append(f"Diagnostic-Code: X-smtpeter; {_ascii(outcome.text)}")
        status.append(f"Last-Attempt-Date: {formatdate(now)}")
        if report.retryUntil is not None:
            status.append(f"Will-Retry-Until: {formatdate(report.retryUntil)}")
    ret = message.envelope.ret
    if ret is None:
        full = action in (FAILED, DELAYED) and len(content) <= FULL_BY_DEFAULT_UP_TO
    else:
        full = ret == "FULL" and action != DELAYED
    if full:
        original = ("Content-Type: message/rfc822", content)
    else:
        fields, _ = splitHeader(content)
        original = ("Content-Type: text/rfc822-headers", b"".join(fields))
    header = [
        f"From: Mail Delivery System <MAILER-DAEMON@{hostname}>",
        f"To: <{sender}>",
        f"Subject: {_SUBJECT[action]}",
        f"Date: {formatdate(now)}",
        f"Message-ID: <{message.qid}.{secrets.token_hex(6)}.dsn@{hostname}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status;",
        f'\tboundary="{boundary}"',
        "",
        "This is a MIME-encapsulated delivery status notification.",
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        *human,
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        *status,
        "",
        f"--{boundary}",
        original[0],
        "",
        "",
    ]
    body = "\r\n".join(header).encode("ascii")
    tail = f"\r\n--{boundary}--\r\n".encode("ascii")
    originalBytes = original[1] if original[1].endswith(b"\r\n") else original[1] + b"\r\n"
    envelope = Envelope("", (Recipient(sender, ("NEVER",)),))
    return envelope, body + originalBytes.rstrip(b"\r\n") + tail
