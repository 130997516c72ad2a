"""
Reading what comes back to a bounce address, and deciding whether the
original sender gets a copy.

Classes (documented for users in docs/bounces.md):
 - C{hard}: a permanent failure: an RFC 3464 report with Action failed and
   a 5.x.x status (except mailbox full, 5.2.2, which is soft), or a
   non-standard notice with a 5.x.x / 5xx code or words like "user unknown";
 - C{soft}: a temporary failure: Action delayed, a 4.x.x status, mailbox
   full or over quota;
 - C{auto-reply}: an RFC 3834 C{Auto-Submitted: auto-replied} message, or
   one with the usual autoresponder headers or subjects (out of office...);
 - C{complaint}: an ARF feedback report (RFC 5965);
 - C{success}: an RFC 3464 report with Action delivered, relayed or expanded;
 - C{unknown}: anything else.
"""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import Message
from email.policy import compat32

from attrs import frozen

HARD = "hard"
SOFT = "soft"
AUTO_REPLY = "auto-reply"
COMPLAINT = "complaint"
SUCCESS = "success"
UNKNOWN = "unknown"

_REPORT_TYPES = ("message/delivery-status", "message/global-delivery-status")
_SOFT_PERMANENT = {"5.2.2", "5.2.0", "5.4.7"}  # mailbox full, mailbox busy, delivery time expired
_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_CODE = re.compile(r"(?m)^\s*([45]\d\d)[ -]")
_AUTO_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"vacation|abwesenheit|absence|r[ée]ponse automatique",
    re.I,
)
_FAILURE_SUBJECT = re.compile(
    r"undeliver|delivery (status notification|failure|has failed)|mail delivery failed|"
    r"returned mail|failure notice|delivery problem|could not be delivered|non[- ]?delivery",
    re.I,
)
_HARD_WORDS = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient)|does not exist|"
    r"mailbox (unavailable|not found)|recipient (address )?rejected|invalid recipient|"
    r"address rejected|account (has been )?disabled",
    re.I,
)
_SOFT_WORDS = re.compile(r"mailbox (is )?full|over ?quota|quota exceeded|try again later", re.I)


@frozen
class BounceReport:
    kind: str
    action: str | None = None
    status: str | None = None
    diagnostic: str | None = None
    reportingMta: str | None = None
    subject: str = ""
    standard: bool = False

    def toJSON(self) -> dict:
        return {
            "class": self.kind,
            "action": self.action,
            "status": self.status,
            "diagnostic": self.diagnostic,
            "reporting_mta": self.reportingMta,
            "subject": self.subject,
            "rfc3464": self.standard,
        }


def _field(fields: Message, name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    value = " ".join(str(value).split())
    kind, sep, rest = value.partition(";")
    # "rfc822; x", "dns; mx.example", "smtp; 550 5.1.1 ..." carry a type first.
    return rest.strip() if sep and kind.strip().isalnum() and len(kind) < 10 else value


def _classify(action: str | None, status: str | None) -> str:
    action = (action or "").lower()
    if action in ("delivered", "relayed", "expanded"):
        return SUCCESS
    if action == "delayed" or (status or "").startswith("4."):
        return SOFT
    if (status or "").startswith("5."):
        return SOFT if status in _SOFT_PERMANENT else HARD
    return HARD if action == "failed" else UNKNOWN


def _text(message: Message, limit: int = 65536) -> str:
    parts = []
    for part in message.walk():
        if part.get_content_maintype() in ("text", "message") and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload[:limit].decode("utf-8", "replace"))
    return "\n".join(parts)[:limit]


def _deliveryStatus(message: Message) -> BounceReport | None:
    for part in message.walk():
        if part.get_content_type() not in (
            "message/delivery-status",
            "message/global-delivery-status",
        ):
            continue
        blocks = part.get_payload()
        if isinstance(blocks, str):
            # Some MTAs' reports do not parse into blocks: read them ourselves.
            blocks = [
                message_from_bytes(b.strip().encode("utf-8", "replace") + b"\n", policy=compat32)
                for b in re.split(r"\r?\n\s*\r?\n", blocks)
                if b.strip()
            ]
        if not blocks:
            return None
        perMessage, perRecipient = blocks[0], [b for b in blocks[1:] if b.get("action")]
        first = perRecipient[0] if perRecipient else blocks[-1]
        action = (_field(first, "action") or "").lower() or None
        status = _field(first, "status")
        match = _ENHANCED.search(status or "")
        status = match.group(0) if match else status
        return BounceReport(
            _classify(action, status),
            action,
            status,
            _field(first, "diagnostic-code"),
            _field(perMessage, "reporting-mta"),
            standard=True,
        )
    return None


def _isAutoReply(message: Message, subject: str) -> bool:
    submitted = (message.get("auto-submitted") or "").strip().lower()
    if submitted.startswith("auto-replied"):
        return True
    if message.get("x-autoreply") or message.get("x-autorespond"):
        return True
    if (message.get("precedence") or "").strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.search(subject)) and not _FAILURE_SUBJECT.search(subject)


def readBounce(content: bytes) -> BounceReport:
    """What kind of message came back, and what it says."""
    message = message_from_bytes(content, policy=compat32)
    subject = " ".join(str(message.get("subject", "")).split())[:300]
    if message.get_content_type() == "multipart/report":
        reportType = (message.get_param("report-type") or "").lower()
        if reportType == "feedback-report":
            return BounceReport(COMPLAINT, subject=subject)
        found = _deliveryStatus(message)
        if found is not None:
            return BounceReport(
                found.kind,
                found.action,
                found.status,
                found.diagnostic,
                found.reportingMta,
                subject,
                True,
            )
    if _isAutoReply(message, subject):
        return BounceReport(AUTO_REPLY, subject=subject)
    text = _text(message)
    enhanced = _ENHANCED.search(text)
    status = enhanced.group(0) if enhanced and enhanced.group(1) != "2" else None
    code = _CODE.search(text)
    if status is None and code is not None:
        status = f"{code.group(1)[0]}.0.0"
    if status is not None and status[0] in "45":
        kind = _classify("failed", status)
    elif _SOFT_WORDS.search(text):
        kind, status = SOFT, None
    elif _HARD_WORDS.search(text) or _FAILURE_SUBJECT.search(subject):
        kind = HARD if _HARD_WORDS.search(text) else UNKNOWN
    else:
        kind = UNKNOWN
    line = next((ln.strip() for ln in text.splitlines() if status and status in ln), None)
    return BounceReport(
        kind, "failed" if kind in (HARD, SOFT) else None, status, line, subject=subject
    )


#: The DSN kind (RFC 3461 NOTIFY value) each report action asks for.
_NOTIFY_FOR = {
    "failed": "FAILURE",
    "delayed": "DELAY",
    "delivered": "SUCCESS",
    "relayed": "SUCCESS",
    "expanded": "SUCCESS",
}


def forwarding(record, index: int, report: BounceReport) -> tuple[bool, str]:
    """
    Does the original sender get this bounce, and why (or why not)?
    C{record} is the message's L{MessageRecord<smtpeter.store._events.
    MessageRecord>} (C{None} when it is no longer known).
    """
    if record is None:
        return False, "the message is no longer known (older than the retention period?)"
    if not record.sender or record.isDSN:
        return False, "the message was sent with MAIL FROM:<>"
    recipient = record.recipient(index)
    if recipient is None:
        return False, "no such recipient in the message"
    if report.kind in (AUTO_REPLY, COMPLAINT):
        return True, f"{report.kind}s are always forwarded"
    wanted = _NOTIFY_FOR.get(report.action or "", "FAILURE")
    if recipient.wants(wanted):
        return True, f"the sender's DSN request includes {wanted}"
    asked = ",".join(recipient.notify) or "the default (FAILURE,DELAY)"
    return False, f"the sender asked NOTIFY={asked}, not {wanted}"
