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
   rate limits, the sender refused, the message filtered, the mailbox
   suspended, a delay...;
 - C{auto-reply}: an RFC 3834 C{Auto-Submitted: auto-replied} message, or
   one with the usual autoresponder headers or subjects (out of office...),
   unless it is a failure notice (Exim marks its bounces auto-replied);
 - C{complaint}: an ARF feedback report (RFC 5965), or one of the few
   other shapes a complaint or an opt-out comes in (Hotmail's old reports,
   Apple Mail's "Unsubscribe", an Amazon SES notification);
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

from attrs import evolve, frozen

HARD = "hard"
SOFT = "soft"
AUTO_REPLY = "auto-reply"
COMPLAINT = "complaint"
SUCCESS = "success"
UNKNOWN = "unknown"

USER_UNKNOWN = "user unknown"
HOST_UNKNOWN = "host unknown"
HAS_MOVED = "has moved"
SENDER_REJECTED = "sender rejected"
FILTERED = "filtered"
SUSPENDED = "suspended"
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

#: Every reason, in the order docs/bounces.md lists them.
REASONS = (
    SENDER_REJECTED,
    MAILBOX_FULL,
    TOO_BIG,
    HAS_MOVED,
    HOST_UNKNOWN,
    SUSPENDED,
    FILTERED,
    USER_UNKNOWN,
    RATE_LIMITED,
    SPAM,
    BLOCKED,
    SECURITY,
    CONTENT,
    POLICY,
    EXPIRED,
    SYSTEM,
    VACATION,
    FEEDBACK,
    DELIVERED,
    UNDEFINED,
)

#: The reasons that say the address itself is gone: only these make a
#: permanent failure C{hard}.
ADDRESS_GONE = frozenset({USER_UNKNOWN, HOST_UNKNOWN, HAS_MOVED})
_SUCCESS_ACTIONS = ("delivered", "relayed", "expanded", "deliverable")

#: Phrases, most specific first: the first that matches gives the reason.
_PHRASES = [
    (
        SENDER_REJECTED,
        r"sender (address |domain )?(rejected|refused|denied|not allowed|verify failed)|"
        r"domain of sender address|sender (address |domain )?has (a )?null mx|"
        r"sender (address |domain )?(is )?(invalid|unknown|"
        r"blacklisted)|invalid sender|unknown sender|rejected sender|"
        r"not a member of (this|the) (mailing )?list|'send mail as'",
    ),
    (
        MAILBOX_FULL,
        r"mailbox (is )?full|over ?quota|quota exceeded|exceeded (the |his |her )?"
        r"(storage )?quota|insufficient (disk )?(space|storage)|mailbox size limit|"
        r"mail ?folder is full|mailbox exceeds|messages in recipient's mailbox exceeded",
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
        r"unknown host|host unknown|host \S+ not found|unrouteable address|"
        r"domain does not exist|domain is not reachable|null mx|no mx record|"
        r"does not accept (e-?)?mail|indicated no smtp service",
    ),
    (
        SUSPENDED,
        r"(account|mailbox|user)( that you tried to reach)? (is|has been) (temporarily )?"
        r"(disabled|inactive|suspended|deactivated|frozen|locked)|disabled or discontinued|"
        r"(account|mailbox) (disabled|suspended|inactive)",
    ),
    (
        FILTERED,
        # KDDI's au (ezweb.ne.jp, au.com) answers DATA "550 : User unknown" when
        # the recipient's own filter refuses the sender.
        r"(?<![#/])\bfiltered\b(?!@)|recipient('s)? preferences|\b5\d\d:? : user unknown",
    ),
    (
        USER_UNKNOWN,
        r"user unknown|unknown user|unknown recipient|recipient name is not "
        r"recognized|no such (user|mailbox|recipient|account|person)|does not exist|"
        r"(user|mailbox|recipient|account) (does ?n[o']t |not )exists?|"
        r"mailbox (unavailable|not found)|invalid (recipient|mailbox|address|user)|"
        r"recipient not found|no mailbox here|address unknown|account (has been )?closed|"
        r"not a valid (mailbox|recipient)|user not found|unknown local part|"
        r"not listed in (the )?(domino directory|public name & address book)|"
        r"invalid final delivery userid|no valid recipients|doesn't have an? \S+ account|"
        r"address (you entered )?(couldn't|could not) be found|\baddress not found|"
        r"check if (the )?address is correct|"
        # Lotus Domino and Notes, in Japanese: "not found in the (Domino) directory".
        r"ディレクトリには見つかりません|ディレクトリのリストにありません|"
        r"\baddress rejected(: access denied)?\.?\s*(\[[^]]*\])?\s*$",
    ),
    (
        RATE_LIMITED,
        r"rate limit|too many (messages|mails|emails|connections|recipients)|"
        r"sending (rate|limit)|exceeded .{0,30}limit|temporarily deferred|throttl|"
        r"try again later|at a rate that|frequency limit",
    ),
    # A message refused for what it is, or for who may send it, whatever else
    # the answer says of spam or blocking.
    (CONTENT, r"rfc ?5322|multiple addresses in from|multiple (subject|from|date) headers"),
    (SECURITY, r"dmarc|\bspf\b|dkim|unauthenticated"),
    (SPAM, r"\bspam\b|junk mail|bulk mail|unsolicited|\bube\b"),
    (
        BLOCKED,
        r"blocked|block ?list|black ?list|listed (at|on|in)|\brbl\b|dnsbl|spamhaus|"
        r"spamcop|barracuda|reputation|client host rejected|access denied|relay(ing)? "
        r"(access )?(denied|not permitted)|not permitted to relay|reverse (dns|lookup)|"
        r"\bptr\b|cannot find your (reverse )?hostname",
    ),
    (SECURITY, r"\btls\b|starttls|encryption|dmarc|dkim|\bspf\b|authenticat|certificate"),
    (
        CONTENT,
        # Not "the attachment contains the original", "a MIME-encapsulated message".
        r"virus|malware|infected|content (rejected|error|not accepted)|"
        r"attachments? ((type|name) |is |are )?(not allowed|blocked|rejected|forbidden|prohibited)|"
        r"(forbidden|prohibited|blocked|dangerous|unsafe|executable) attachment|"
        r"message header|\bmime\b(?![- ](encapsulated|format|version))|8-?bit",
    ),
    (POLICY, r"polic(y|ies)|prohibited|not allowed|administrative"),
    (
        EXPIRED,
        r"expired|retry time(out)? (not reached|exceeded)|too long in the queue|"
        r"delivery time|could not be delivered (for|within) \d+|giving up|"
        r"failing for a long time|was aborted after|failed \d+ attempts|"
        r"did not accept our requests to connect",
    ),
    (
        SYSTEM,
        r"system error|internal error|loop|mail system (problem|error|full)|out of memory|"
        r"resources|temporar(il)?y (failure|unavailable)|connection (refused|timed out)|"
        r"timed out|no answer from host|name server reply|dns (lookup )?(error|failure)|"
        r"service (currently |temporarily )?unavailable",
    ),
]
# Matched against lower-cased text: three times faster than re.I.
_PHRASES = [(reason, re.compile(pattern, re.M)) for reason, pattern in _PHRASES]

#: RFC 3463 codes, by subject and detail: C{(subject, detail)} or C{subject}.
_STATUS = {
    (1, 0): USER_UNKNOWN,
    (1, 1): USER_UNKNOWN,
    (1, 2): HOST_UNKNOWN,
    (1, 3): USER_UNKNOWN,
    (1, 6): HAS_MOVED,
    (1, 7): SENDER_REJECTED,
    (1, 8): SENDER_REJECTED,
    (1, 10): HOST_UNKNOWN,
    (2, 1): USER_UNKNOWN,
    (2, 2): MAILBOX_FULL,
    (2, 3): TOO_BIG,
    (3, 4): TOO_BIG,
    (4, 4): HOST_UNKNOWN,
    (4, 7): EXPIRED,
    (7, 0): SECURITY,
    (7, 1): BLOCKED,
    (7, 25): BLOCKED,
    (7, 26): SECURITY,
    (7, 23): SECURITY,
    (7, 27): SENDER_REJECTED,  # RFC 7505: the sender's domain has a null MX
    (7, 28): RATE_LIMITED,
    1: USER_UNKNOWN,
    2: MAILBOX_FULL,
    3: SYSTEM,
    4: SYSTEM,
    5: SYSTEM,
    6: CONTENT,
    7: SECURITY,
}

#: The SMTP command a remote server's reply answered, as notices say it:
#: Postfix "(in reply to end of DATA command)", Exim "after RCPT TO:<...>",
#: Sendmail's transcript ">>> DATA", m-FILTER's "SMTP command" section.
_COMMAND = re.compile(
    r"(?:in reply to (?:end of )?|after (?:end of |pipelined )?|^\s*>>> ?|"
    r"smtp command\s*\n\s*)(data|mail from|rcpt to)\b",
    re.I | re.M,
)
#: Said after DATA, these few words are what recipients' filters answer too
#: (unlike "this user doesn't have an account", "invalid recipient").
_TERSE_UNKNOWN = re.compile(r"user unknown|unknown user|no such user")
_TRANSCRIPT_REPLY = re.compile(r"(?m)^\s*<<< ?[45]\d\d")

#: An RFC 3463 status, not a version number such as "mta-5.5.0-3" or "8.14.4"
#: (but "550-5.2.1", a line of a multi-line reply, is one).
_ENHANCED = re.compile(r"(?<![\w.])(?<![^\W\d]-)([245])\.(\d{1,3})\.(\d{1,3})(?![\w-]|\.\d)")
_CODE = re.compile(r"(?m)^\s*([45]\d\d)[ -]")
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


def _field(fields, name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    value = " ".join(str(value).split())
    kind, sep, rest = value.partition(";")
    # "rfc822; x", "dns; mx.example", "smtp; 550 5.1.1 ..." carry a type first.
    return rest.strip() if sep and kind.strip().isalnum() and len(kind) < 10 else value


def _phrase(text: str) -> str | None:
    text = text[:16384].lower()
    for reason, pattern in _PHRASES:
        if pattern.search(text):
            return reason
    return None


def _statusReason(status: str | None, generic: bool = True) -> str | None:
    """The reason a status code gives (C{generic}: also from its subject alone)."""
    match = _ENHANCED.search(status or "")
    if match is None:
        return None
    subject, detail = int(match.group(2)), int(match.group(3))
    found = _STATUS.get((subject, detail))
    return found or (_STATUS.get(subject) if generic else None)


def commandAnswered(text: str) -> str | None:
    """
    The SMTP command (C{"MAIL"}, C{"RCPT"} or C{"DATA"}) that a notice says
    the remote server's refusal answered, if it says.
    """
    found = list(_COMMAND.finditer(text))
    if not found:
        return None
    reply = _TRANSCRIPT_REPLY.search(text)
    if reply is not None:
        # A transcript: the last command sent before the refusal.
        found = [m for m in found if m.start() < reply.start()] or found
        command = found[-1].group(1)
    else:
        command = found[0].group(1)
    return command.split()[0].upper()


def reasonFor(status: str | None, text: str, notice: str = "", command: str | None = None) -> str:
    """
    The reason a failure gives: the phrases of its diagnostic C{text}; else a
    specific status code; else the phrases of the surrounding C{notice}; else
    the status code's class. A refusal of the envelope sender (an answer to
    C{MAIL FROM}) is C{sender rejected}. A recipient said unknown only after
    the message was sent (an answer to C{DATA}), with a status that does not
    say so itself (C{5.0.0}, not C{5.1.1}), was accepted at C{RCPT TO}: the
    message was C{filtered}.
    """
    reason = (
        _phrase(text)
        or _statusReason(status, generic=False)
        or (_phrase(notice) if notice else None)
        or _statusReason(status)
        or UNDEFINED
    )
    if reason not in (USER_UNKNOWN, HOST_UNKNOWN, HAS_MOVED, UNDEFINED):
        return reason
    if command is None:
        command = commandAnswered(f"{text}\n{notice}")
    if command == "MAIL":
        return SENDER_REJECTED
    if (
        command == "DATA"
        and reason == USER_UNKNOWN
        and _statusReason(status) != USER_UNKNOWN
        and _TERSE_UNKNOWN.search(text.lower())
    ):
        return FILTERED
    return reason


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


def _report(action, status, diagnostic, reportingMta, subject, standard, notice="") -> BounceReport:
    match = _ENHANCED.search(status or "") or _ENHANCED.search(diagnostic or "")
    if match is not None:
        status = match.group(0)
    elif not status and diagnostic and (code := _CODE.match(diagnostic)):
        status = f"{code.group(1)[0]}.0.0"  # a report without Status: its reply code
    action = (action or "").lower() or None
    if action == "expired":  # not RFC 3464's, but some MTAs say so
        action = "failed"
    if action in _SUCCESS_ACTIONS:
        reason = DELIVERED
    elif action == "failed" and (status or "").startswith("4."):
        # A temporary failure the reporting MTA gave up retrying: expired,
        # unless the last answer said more than a connection problem.
        said = _phrase(diagnostic or notice)
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


def _ownParts(message: Message):
    """The parts of C{message}, not those of a message it quotes (the original)."""
    yield message
    if message.is_multipart() and message.get_content_maintype() != "message":
        for part in message.get_payload():
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
