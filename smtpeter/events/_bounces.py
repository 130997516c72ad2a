"""
Reading what comes back to a bounce address, and deciding whether the
original sender gets a copy.

Every report gets a C{reason} (what went wrong) and a C{class} (what a
sender should do about the address); the rules are documented for users,
with the codes and phrases behind each reason, in docs/bounces.md:
 - C{hard}: the address or its domain does not exist, or has moved, and
   the failure is permanent: stop mailing it;
 - C{soft}: the message failed (for now, or for good) for a reason that
   says nothing against the address: mailbox full, blocked, spam, policy,
   rate limits, a delay...;
 - C{auto-reply}: an RFC 3834 C{Auto-Submitted: auto-replied} message, or
   one with the usual autoresponder headers or subjects (out of office...),
   unless it is a failure notice (Exim marks its bounces auto-replied);
 - C{complaint}: an ARF feedback report (RFC 5965);
 - C{success}: a report with Action delivered, relayed, expanded or
   deliverable;
 - C{unknown}: anything else.

Reports are read from an RFC 3464 C{message/delivery-status} part; failing
that, from C{Action:}/C{Status:} lines in the text (a report whose MIME is
broken); failing that, from the codes and phrases of a plain notice.
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

USER_UNKNOWN = "user unknown"
HOST_UNKNOWN = "host unknown"
HAS_MOVED = "has moved"
MAILBOX_FULL = "mailbox full"
TOO_BIG = "message too big"
BLOCKED = "blocked"
SPAM = "spam detected"
POLICY = "policy"
RATE_LIMITED = "rate limited"
EXPIRED = "expired"
SECURITY = "security error"
CONTENT = "content error"
SYSTEM = "system error"
VACATION = "vacation"
FEEDBACK = "feedback"
DELIVERED = "delivered"
UNDEFINED = "undefined"

#: The reasons that say the address itself is gone: only these make a
#: permanent failure C{hard}.
ADDRESS_GONE = frozenset({USER_UNKNOWN, HOST_UNKNOWN, HAS_MOVED})
_SUCCESS_ACTIONS = ("delivered", "relayed", "expanded", "deliverable")

#: Phrases, most specific first: the first that matches gives the reason.
_PHRASES = [
    (
        MAILBOX_FULL,
        r"mailbox (is )?full|over ?quota|quota exceeded|exceeded (the |his |her )?"
        r"(storage )?quota|insufficient (disk )?(space|storage)|mailbox size limit",
    ),
    (
        TOO_BIG,
        r"message (is )?too (big|large)|exceeds? (the )?(maximum )?(message )?size|"
        r"message size exceeds|size limit",
    ),
    (HAS_MOVED, r"has moved|moved permanently|is no longer (valid|in use|with)"),
    (
        HOST_UNKNOWN,
        r"host (or domain name )?not found|domain (name )?not found|no such domain|"
        r"unknown host|unrouteable address|domain does not exist|name service error|"
        r"null mx|no mx record",
    ),
    (
        USER_UNKNOWN,
        r"user unknown|unknown user|unknown recipient|recipient name is not "
        r"recognized|no such (user|mailbox|recipient|account)|does not exist|"
        r"mailbox (unavailable|not found)|invalid (recipient|mailbox|address)|recipient not found|"
        r"no mailbox here|address unknown|account (has been )?(disabled|closed)|"
        r"not a valid (mailbox|recipient)|user not found|unknown (local part|address)",
    ),
    (
        RATE_LIMITED,
        r"rate limit|too many (messages|mails|emails|connections|recipients)|"
        r"sending (rate|limit)|exceeded .{0,30}limit|temporarily deferred|throttl|"
        r"try again later",
    ),
    (SPAM, r"\bspam\b|junk mail|bulk mail|unsolicited"),
    (
        BLOCKED,
        r"blocked|block ?list|black ?list|listed (at|on|in)|\brbl\b|dnsbl|spamhaus|"
        r"spamcop|barracuda|reputation|client host rejected|access denied|relay(ing)? "
        r"(access )?(denied|not permitted)|not permitted to relay",
    ),
    (SECURITY, r"\btls\b|starttls|encryption|dmarc|dkim|\bspf\b|authenticat|certificate"),
    (
        CONTENT,
        r"virus|malware|infected|content (rejected|error|not accepted)|attachment|"
        r"message header|mime|8-?bit",
    ),
    (POLICY, r"polic(y|ies)|prohibited|not allowed|administrative"),
    (
        EXPIRED,
        r"expired|retry time(out)? (not reached|exceeded)|too long in the queue|"
        r"delivery time|could not be delivered (for|within) \d+|giving up",
    ),
    (
        SYSTEM,
        r"system error|internal error|loop|mail system|out of memory|resources|"
        r"temporar(il)?y (failure|unavailable)|connection (refused|timed out)|timed out|"
        r"no answer from host",
    ),
]
_PHRASES = [(reason, re.compile(pattern, re.I)) for reason, pattern in _PHRASES]

#: RFC 3463 codes, by subject and detail: C{(subject, detail)} or C{subject}.
_STATUS = {
    (1, 0): USER_UNKNOWN,
    (1, 1): USER_UNKNOWN,
    (1, 2): HOST_UNKNOWN,
    (1, 3): USER_UNKNOWN,
    (1, 6): HAS_MOVED,
    (1, 10): HOST_UNKNOWN,
    (2, 1): USER_UNKNOWN,
    (2, 2): MAILBOX_FULL,
    (2, 3): TOO_BIG,
    (3, 4): TOO_BIG,
    (4, 4): HOST_UNKNOWN,
    (4, 7): EXPIRED,
    (7, 0): SECURITY,
    (7, 1): BLOCKED,
    (7, 26): SECURITY,
    (7, 23): SECURITY,
    (7, 27): POLICY,
    (7, 28): RATE_LIMITED,
    1: USER_UNKNOWN,
    2: MAILBOX_FULL,
    3: SYSTEM,
    4: SYSTEM,
    5: SYSTEM,
    6: CONTENT,
    7: SECURITY,
}

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_CODE = re.compile(r"(?m)^\s*([45]\d\d)[ -]")
_AUTO_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"vacation|abwesenheit|absence|r[ée]ponse automatique",
    re.I,
)
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
    r"original message follows|below this line is a copy|message headers follow)",
    re.I | re.M,
)
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


def _field(fields, name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    value = " ".join(str(value).split())
    kind, sep, rest = value.partition(";")
    # "rfc822; x", "dns; mx.example", "smtp; 550 5.1.1 ..." carry a type first.
    return rest.strip() if sep and kind.strip().isalnum() and len(kind) < 10 else value


def reasonFor(status: str | None, text: str) -> str:
    """The reason a failure's phrases say, or else its status code."""
    for reason, pattern in _PHRASES:
        if pattern.search(text):
            return reason
    match = _ENHANCED.search(status or "")
    if match is None:
        return UNDEFINED
    subject, detail = int(match.group(2)), int(match.group(3))
    return _STATUS.get((subject, detail)) or _STATUS.get(subject, UNDEFINED)


def classify(action: str | None, status: str | None, reason: str) -> str:
    """hard, soft, success or unknown: see the module's docstring."""
    action = (action or "").lower()
    if action in _SUCCESS_ACTIONS:
        return SUCCESS
    status = status or ""
    if action == "delayed" or status.startswith("4."):
        return SOFT
    if action == "failed" or status.startswith("5."):
        return HARD if reason in ADDRESS_GONE else SOFT
    return UNKNOWN


def _report(action, status, diagnostic, reportingMta, subject, standard) -> BounceReport:
    match = _ENHANCED.search(status or "")
    status = match.group(0) if match else status
    action = (action or "").lower() or None
    if action in _SUCCESS_ACTIONS:
        reason = DELIVERED
    elif action == "failed" and (status or "").startswith("4."):
        reason = EXPIRED  # a temporary failure the reporting MTA gave up retrying
    else:
        reason = reasonFor(status, diagnostic or "")
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


def _unquoted(data: bytes, limit: int = 65536) -> str:
    """C{data} as text, up to where a notice starts quoting the original message."""
    text = data[:limit].decode("utf-8", "replace")
    quoted = _QUOTED.search(text)
    return text[: quoted.start()] if quoted else text


def _notice(message: Message) -> str:
    """The human-readable text of a notice: its first text part."""
    for part in message.walk():
        if part.get_content_maintype() == "text" and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return _unquoted(payload)
    return ""


def _body(content: bytes) -> str:
    """The body as text, whatever its MIME says."""
    return _unquoted(re.split(rb"\r?\n\r?\n", content, maxsplit=1)[-1])


def _deliveryStatus(message: Message, subject: str) -> BounceReport | None:
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
        return _report(
            _field(first, "action"),
            _field(first, "status"),
            _field(first, "diagnostic-code"),
            _field(perMessage, "reporting-mta"),
            subject,
            True,
        )
    return None


def _inlineReport(text: str, subject: str) -> BounceReport | None:
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
    )


def _isAutoReply(message: Message, subject: str) -> bool:
    submitted = (message.get("auto-submitted") or "").strip().lower()
    if submitted.startswith("auto-replied"):
        return True
    if message.get("x-autoreply") or message.get("x-autorespond"):
        return True
    if (message.get("precedence") or "").strip().lower() == "auto_reply":
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
    enhanced = _ENHANCED.search(text)
    status = enhanced.group(0) if enhanced and enhanced.group(1) != "2" else None
    code = _CODE.search(text)
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
        reportType = (message.get_param("report-type") or "").lower()
        if reportType == "feedback-report":
            return BounceReport(COMPLAINT, subject=subject, reason=FEEDBACK)
        found = _deliveryStatus(message, subject)
        if found is not None:
            return found
    text = _notice(message)
    found = _inlineReport(_body(content), subject)
    if found is not None:
        return found
    failure = _isFailureNotice(message, subject)
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
