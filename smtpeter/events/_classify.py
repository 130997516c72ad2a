"""
Classifying a failure: from what a report says (its diagnostic text, its
status code, the SMTP command the refusal answered) to a reason, and from
the action, status and reason to a class (see L{_bouncereasons}).
"""

from __future__ import annotations

import re

from ._bouncereasons import (
    ADDRESS_GONE,
    FILTERED,
    HARD,
    HAS_MOVED,
    HOST_UNKNOWN,
    PHRASES,
    SENDER_REJECTED,
    SOFT,
    STATUS,
    SUCCESS,
    SUCCESS_ACTIONS,
    UNDEFINED,
    UNKNOWN,
    USER_UNKNOWN,
)

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
ENHANCED = re.compile(r"(?<![\w.])(?<![^\W\d]-)([245])\.(\d{1,3})\.(\d{1,3})(?![\w-]|\.\d)")
CODE = re.compile(r"(?m)^\s*([45]\d\d)[ -]")


def phrase(text: str) -> str | None:
    text = text[:16384].lower()
    for reason, pattern in PHRASES:
        if pattern.search(text):
            return reason
    return None


def _statusReason(status: str | None, generic: bool = True) -> str | None:
    """The reason a status code gives (C{generic}: also from its subject alone)."""
    match = ENHANCED.search(status or "")
    if match is None:
        return None
    subject, detail = int(match.group(2)), int(match.group(3))
    found = STATUS.get((subject, detail))
    return found or (STATUS.get(subject) if generic else None)


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
        phrase(text)
        or _statusReason(status, generic=False)
        or (phrase(notice) if notice else None)
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
    if action in SUCCESS_ACTIONS:
        return SUCCESS
    status = status or ""
    if action == "delayed" or status.startswith("4."):
        return SOFT
    if action == "failed" or status.startswith("5."):
        return HARD if reason in ADDRESS_GONE else SOFT
    return UNKNOWN
