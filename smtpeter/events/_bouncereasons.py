"""
The vocabulary of bounces: the classes a report falls in, the reasons it
gives, and the phrases and RFC 3463 codes behind each reason (documented for
users in docs/bounces.md). Every report gets a C{reason} (what went wrong)
and a C{class} (what a sender should do about the address):
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
"""

from __future__ import annotations

import re

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
SUCCESS_ACTIONS = ("delivered", "relayed", "expanded", "deliverable")

#: Phrases, most specific first: the first that matches gives the reason.
_PHRASE_PATTERNS: list[tuple[str, str]] = [
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
PHRASES: list[tuple[str, re.Pattern[str]]] = [
    (reason, re.compile(pattern, re.M)) for reason, pattern in _PHRASE_PATTERNS
]

#: RFC 3463 codes, by subject and detail: C{(subject, detail)} or C{subject}.
STATUS: dict[tuple[int, int] | int, str] = {
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
