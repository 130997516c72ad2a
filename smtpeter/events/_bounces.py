"""
Reading what comes back to a bounce address, and deciding whether the
original sender gets a copy. What the classes and reasons mean is in
L{_bouncereasons}; how a failure gets its reason and class, in L{_classify}.

Reports are read from an RFC 3464 C{message/delivery-status} part; failing
that, from C{Action:}/C{Status:} lines in the text (a report whose MIME is
broken); failing that, from the codes and phrases of a plain notice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from email.utils import collapse_rfc2231_value

from attrs import evolve, frozen

from ._bouncereasons import (
    AUTO_REPLY,
    COMPLAINT,
    DELIVERED,
    EXPIRED,
    FEEDBACK,
    HARD,
    SOFT,
    SUCCESS,
    SUCCESS_ACTIONS,
    SYSTEM,
    UNDEFINED,
    UNKNOWN,
    VACATION,
)
from ._classify import CODE, ENHANCED, classify, phrase, reasonFor

_AUTO_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"vacation|abwesenheit|absence|r[ée]ponse automatique",
    re.I,
)
#: Amazon SES notifications by mail are JSON (bounces among them are read as text).
_SES_NOTIFICATION = re.compile(r'\{"notificationType"\s*:\s*"(\w+)"')
#: Hotmail's old complaint reports (JMRP) are not ARF.
_COMPLAINT_SUBJECT = re.compile(r"^complaint about message from ", re.I)
_FAILURE_SUBJECT = re.compile(
    r"undeliver|delivery (status notification|failure|has failed|problem)|"
    r"mail delivery failed|returned mail|failure notice|could not be delivered|"
    r"non[- ]?delivery|delivery notification",
    re.I,
)
_DELAY = re.compile(
    r"\(delay\)|delayed mail|delivery delay|has not yet been delivered|"
    r"not been delivered yet|will (continue to )?(re)?try|still trying|warning: message",
    re.I,
)
_DAEMON = re.compile(r"mailer-daemon|postmaster|mail delivery (system|subsystem)", re.I)
#: Where a notice starts quoting the original message: nothing after it is read.
_QUOTED = re.compile(
    r"^\s*(-{2,}.*(copy of|original message|headers? of the original)|"
    r"original message follows|below this line is a copy|message headers follow|"
    r"-{2,}\s*returned message)",
    re.I | re.M,
)
_LOCAL_MAILER = re.compile(r"\s*x-unix\s*;", re.I)
_INLINE_FIELD = re.compile(
    r"(?im)^(action|status|diagnostic-code|reporting-mta|final-recipient)\s*:\s*(.+)$"
)


@frozen
class BounceReport:
    kind: str
    action: str | None = None
    status: str | None = None
    diagnostic: str | None = None
    reportingMta: str | None = None
    subject: str = ""
    standard: bool = False
    reason: str = UNDEFINED

    def toJSON(self) -> dict:
        return {
            "class": self.kind,
            "reason": self.reason,
            "action": self.action,
            "status": self.status,
            "diagnostic": self.diagnostic,
            "reporting_mta": self.reportingMta,
            "subject": self.subject,
            "rfc3464": self.standard,
        }


def _field(fields: Message | dict[str, str], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    value = " ".join(str(value).split())
    kind, sep, rest = value.partition(";")
    # "rfc822; x", "dns; mx.example", "smtp; 550 5.1.1 ..." carry a type first.
    return rest.strip() if sep and kind.strip().isalnum() and len(kind) < 10 else value


def _report(
    action: str | None,
    status: str | None,
    diagnostic: str | None,
    reportingMta: str | None,
    subject: str,
    standard: bool,
    notice: str = "",
) -> BounceReport:
    match = ENHANCED.search(status or "") or ENHANCED.search(diagnostic or "")
    if match is not None:
        status = match.group(0)
    elif not status and diagnostic and (code := CODE.match(diagnostic)):
        status = f"{code.group(1)[0]}.0.0"  # a report without Status: its reply code
    action = (action or "").lower() or None
    if action == "expired":  # not RFC 3464's, but some MTAs say so
        action = "failed"
    if action in SUCCESS_ACTIONS:
        reason = DELIVERED
    elif action == "failed" and (status or "").startswith("4."):
        # A temporary failure the reporting MTA gave up retrying: expired,
        # unless the last answer said more than a connection problem.
        said = phrase(diagnostic or notice)
        reason = EXPIRED if said in (None, SYSTEM) else said
    else:
        reason = reasonFor(status, diagnostic or "", notice)
    return BounceReport(
        classify(action, status, reason),
        action,
        status,
        diagnostic,
        reportingMta,
        subject,
        standard,
        reason,
    )


def _unquoted(data: bytes, limit: int = 65536, charset: str = "utf-8") -> str:
    """C{data} as text, up to where a notice starts quoting the original message."""
    try:
        text = data[:limit].decode(charset, "replace")
    except (LookupError, UnicodeError):  # unknown, or no text codec ("undefined", "idna")
        text = data[:limit].decode("utf-8", "replace")
    quoted = _QUOTED.search(text)
    return text[: quoted.start()] if quoted else text


def _notice(message: Message) -> str:
    """The human-readable text of a notice: its first text part."""
    for part in message.walk():
        if part.get_content_maintype() == "text" and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return _unquoted(payload, charset=part.get_content_charset() or "utf-8")
    return ""


def _body(content: bytes) -> str:
    """The body as text, whatever its MIME says."""
    return _unquoted(re.split(rb"\r?\n\r?\n", content, maxsplit=1)[-1])


def _ownParts(message: Message) -> Iterator[Message]:
    """The parts of C{message}, not those of a message it quotes (the original)."""
    yield message
    if message.is_multipart() and message.get_content_maintype() != "message":
        for part in message.get_payload():
            if isinstance(part, Message):
                yield from _ownParts(part)


def _deliveryStatus(
    message: Message, subject: str, notice: str, nested: bool
) -> BounceReport | None:
    for part in message.walk() if nested else _ownParts(message):
        if part.get_content_type() not in (
            "message/delivery-status",
            "message/global-delivery-status",
        ):
            continue
        payload = part.get_payload()
        blocks: list[Message]
        if isinstance(payload, str):
            # Some MTAs' reports do not parse into blocks: read them ourselves.
            blocks = [
                message_from_bytes(b.strip().encode("utf-8", "replace") + b"\n", policy=compat32)
                for b in re.split(r"\r?\n\s*\r?\n", payload)
                if b.strip()
            ]
        else:
            blocks = [b for b in payload if isinstance(b, Message)]
        if not blocks:
            return None
        perMessage = blocks[0]
        # Some MTAs send the recipient's fields alone, without a per-message block.
        perRecipient = [b for b in blocks[1:] if b.get("action")] or [
            b for b in blocks if b.get("action")
        ]
        first = perRecipient[0] if perRecipient else blocks[-1]
        report = _report(
            _field(first, "action"),
            _field(first, "status"),
            _field(first, "diagnostic-code"),
            _field(perMessage, "reporting-mta"),
            subject,
            True,
            notice,
        )
        if report.kind == HARD and _LOCAL_MAILER.match(str(first.get("diagnostic-code", ""))):
            # A local delivery program (procmail, a pipe) failed: its "no such
            # user" is its own trouble, not the address's.
            return evolve(report, kind=SOFT, reason=SYSTEM)
        return report
    return None


def _inlineReport(text: str, subject: str, notice: str) -> BounceReport | None:
    """An RFC 3464 report whose MIME is broken: its Action and Status lines, read as text."""
    fields: dict[str, str] = {}
    for name, value in _INLINE_FIELD.findall(text):
        fields.setdefault(name.lower(), value.strip())
    if "action" not in fields or "status" not in fields:
        return None
    return _report(
        _field(fields, "action"),
        _field(fields, "status"),
        _field(fields, "diagnostic-code"),
        _field(fields, "reporting-mta"),
        subject,
        False,
        notice,
    )


def _header(message: Message, name: str) -> str:
    """A header's value, lower-cased (a header with 8-bit bytes is a Header, not a str)."""
    return str(message.get(name) or "").strip().lower()


def _isOptOut(message: Message) -> bool:
    """Apple Mail's "Unsubscribe" button: a request, by mail, to stop mailing."""
    return _header(message, "x-apple-unsubscribe") == "true"


def _isAutoReply(message: Message, subject: str) -> bool:
    submitted = _header(message, "auto-submitted")
    if submitted.startswith("auto-replied"):
        return True
    if message.get("x-autoreply") or message.get("x-autorespond"):
        return True
    if _header(message, "precedence") == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.search(subject))


def _isFailureNotice(message: Message, subject: str) -> bool:
    """A bounce, whatever else its headers say (Exim's are C{Auto-Submitted: auto-replied})."""
    sender = str(message.get("from", ""))
    return bool(
        _FAILURE_SUBJECT.search(subject) or _DELAY.search(subject) or _DAEMON.search(sender)
    )


def _plainNotice(text: str, subject: str, failure: bool) -> BounceReport:
    """A notice in words (C{failure}: it says it is a failure notice): its codes and phrases."""
    enhanced = ENHANCED.search(text)
    status = enhanced.group(0) if enhanced and enhanced.group(1) != "2" else None
    code = CODE.search(text)
    if status is None and code is not None:
        status = f"{code.group(1)[0]}.0.0"
    delayed = bool(_DELAY.search(subject) or _DELAY.search(text)) and not (status or "")[:1] == "5"
    reason = reasonFor(status, text)
    if delayed:
        action = "delayed"
    elif status is not None or failure or reason != UNDEFINED:
        action = "failed"
    else:
        return BounceReport(UNKNOWN, subject=subject)
    line = next((ln.strip() for ln in text.splitlines() if status and status in ln), None)
    return BounceReport(
        classify(action, status, reason), action, status, line, None, subject, False, reason
    )


def readBounce(content: bytes) -> BounceReport:
    """What kind of message came back, and what it says."""
    message = message_from_bytes(content, policy=compat32)
    subject = " ".join(str(message.get("subject", "")).split())[:300]
    if message.get_content_type() == "multipart/report":
        param = message.get_param("report-type")
        # An RFC 2231 parameter comes as (charset, language, value).
        reportType = str(collapse_rfc2231_value(param) if param else "").lower()
        if reportType == "feedback-report":
            return BounceReport(COMPLAINT, subject=subject, reason=FEEDBACK)
    if _COMPLAINT_SUBJECT.match(subject) or _isOptOut(message):
        return BounceReport(COMPLAINT, subject=subject, reason=FEEDBACK)
    text = _notice(message) or _body(content)
    notification = _SES_NOTIFICATION.match(text.lstrip())
    if notification is not None and notification.group(1) == "Complaint":
        return BounceReport(COMPLAINT, subject=subject, reason=FEEDBACK)
    if notification is not None and notification.group(1) == "Delivery":
        return BounceReport(SUCCESS, "delivered", subject=subject, reason=DELIVERED)
    # A delivery-status part counts wherever it is in a failure notice (some
    # MTAs send multipart/mixed, some wrap another's report in theirs); in
    # anything else, a report in an attached message is someone forwarding
    # a bounce: only the message's own parts are read.
    failure = _isFailureNotice(message, subject)
    found = _deliveryStatus(message, subject, text, nested=failure)
    if found is not None and (found.action or found.status):
        return found  # else a report that says nothing: read its words
    whole = failure or not message.is_multipart()
    found = _inlineReport(_body(content) if whole else text, subject, text)
    if found is not None:
        return found
    if not failure and _isAutoReply(message, subject):
        return BounceReport(AUTO_REPLY, subject=subject, reason=VACATION)
    return _plainNotice(text, subject, failure)


#: The DSN kind (RFC 3461 NOTIFY value) each report action asks for.
_NOTIFY_FOR = {
    "failed": "FAILURE",
    "delayed": "DELAY",
    "delivered": "SUCCESS",
    "relayed": "SUCCESS",
    "expanded": "SUCCESS",
    "deliverable": "SUCCESS",
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
