"""
Every reply the submission server can send, as data.

Protocol code never writes a reply number by hand: it sends one of these
constants, or builds one with L{Reply.format}. Keeping them together makes the
server's whole vocabulary reviewable on one screen.
"""

from __future__ import annotations

from attrs import frozen


@frozen
class Reply:
    """
    One SMTP reply: a three-digit code, an RFC 3463 enhanced status code
    (empty for the greeting and EHLO, which carry none) and a human text.
    """

    code: int
    enhanced: str
    text: str

    def format(self, **fields: object) -> Reply:
        """A copy whose text has C{{name}} fields filled in."""
        return Reply(self.code, self.enhanced, self.text.format(**fields))

    @property
    def isPermanent(self) -> bool:
        return 500 <= self.code < 600

    @property
    def isTransient(self) -> bool:
        return 400 <= self.code < 500

    def toBytes(self, continued: tuple[str, ...] = ()) -> bytes:
        """
        The reply on the wire; C{continued} adds lines before the last one
        (the EHLO keyword list).
        """
        lines = [*continued, self.text]
        prefix = f"{self.code} {self.enhanced} " if self.enhanced else f"{self.code} "
        out = [f"{self.code}-{line}\r\n" for line in lines[:-1]]
        out.append(f"{prefix}{lines[-1]}\r\n")
        return "".join(out).encode("utf-8", "replace")


# Session
GREETING = Reply(220, "", "{hostname} ESMTP smtpeter")
CLOSING = Reply(221, "2.0.0", "Bye")
READY_TLS = Reply(220, "2.0.0", "Ready to start TLS")
OK = Reply(250, "2.0.0", "Ok")
SENDER_OK = Reply(250, "2.1.0", "Sender ok")
RECIPIENT_OK = Reply(250, "2.1.5", "Recipient ok")
RESET_OK = Reply(250, "2.0.0", "Reset state")
QUEUED = Reply(250, "2.0.0", "Ok: queued as {qid}")
VRFY_ANSWER = Reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery")
HELP_ANSWER = Reply(
    214, "2.0.0", "See RFC 5321; commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA RSET NOOP QUIT"
)
START_DATA = Reply(354, "", "End data with <CR><LF>.<CR><LF>")
AUTH_OK = Reply(235, "2.7.0", "Authentication successful")

# Transient refusals
SHUTTING_DOWN = Reply(421, "4.3.2", "{hostname} Service shutting down, try again later")
TIMEOUT = Reply(421, "4.4.2", "{hostname} Timeout, closing connection")
SESSION_TOO_LONG = Reply(421, "4.4.2", "{hostname} Session too long, closing connection")
LINE_FLOOD = Reply(421, "4.5.0", "{hostname} Line without CRLF too long, closing connection")
TOO_MANY_ERRORS = Reply(421, "4.7.0", "{hostname} Too many errors, closing connection")
TOO_MANY_CONNECTIONS = Reply(
    421, "4.7.0", "{hostname} Too many connections from your address, try again later"
)
LOCAL_ERROR = Reply(451, "4.3.0", "Local error in processing, try again later")
STORAGE_FULL = Reply(452, "4.3.1", "Insufficient system storage, try again later")
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Too many recipients (at most {limit} per message)")
AUTH_THROTTLED = Reply(
    454, "4.7.0", "Too many failed authentication attempts from your address, try again later"
)
TLS_UNAVAILABLE = Reply(454, "4.7.0", "TLS not available")
RATE_LIMITED = Reply(
    451, "4.7.1", "Rate limit reached: this login may send to {limit} recipients; try again later"
)

# Permanent refusals: syntax
UNKNOWN_COMMAND = Reply(500, "5.5.1", "Command unrecognized")
LINE_TOO_LONG = Reply(500, "5.5.6", "Line too long")
BARE_LINE_END = Reply(500, "5.5.2", "Bare <CR> or <LF> in command line")
SYNTAX_ERROR = Reply(501, "5.5.2", "Syntax error: {detail}")
BAD_HELO = Reply(501, "5.5.2", "Syntax: EHLO hostname or address literal")
BAD_ADDRESS = Reply(501, "5.1.3", "Bad address syntax: {detail}")
BAD_SENDER_ADDRESS = Reply(501, "5.1.7", "Bad sender address syntax: {detail}")
AUTH_CANCELLED = Reply(501, "5.7.0", "Authentication cancelled")
BAD_BASE64 = Reply(501, "5.5.2", "Cannot decode response: not valid base64")
NOT_IMPLEMENTED = Reply(502, "5.5.1", "{command} not implemented")
BDAT_NOT_IMPLEMENTED = Reply(502, "5.5.1", "BDAT not implemented (no CHUNKING); use DATA")
BAD_SEQUENCE = Reply(503, "5.5.1", "Bad sequence of commands: {detail}")
UNKNOWN_MECHANISM = Reply(504, "5.5.4", "Unrecognized authentication mechanism; use PLAIN or LOGIN")
BAD_PARAMETER = Reply(555, "5.5.4", "Unsupported parameter: {detail}")
BAD_PARAMETER_VALUE = Reply(501, "5.5.4", "Bad value for parameter {detail}")

# Permanent refusals: policy
AUTH_REQUIRED = Reply(530, "5.7.0", "Authentication required")
STARTTLS_REQUIRED = Reply(530, "5.7.0", "Must issue a STARTTLS command first")
ENCRYPTION_REQUIRED = Reply(
    538, "5.7.11", "Encryption required for requested authentication mechanism"
)
AUTH_FAILED = Reply(535, "5.7.8", "Authentication credentials invalid")
AUTH_AUTHZID_REFUSED = Reply(
    535, "5.7.8", "Authentication credentials invalid (authorization identity not allowed)"
)
AUTH_LINE_TOO_LONG = Reply(500, "5.5.6", "Authentication exchange line is too long")
MESSAGE_TOO_BIG = Reply(
    552, "5.3.4", "Message size exceeds fixed maximum message size ({limit} bytes)"
)
BAD_MESSAGE = Reply(550, "5.6.0", "Message refused: {detail}")
BAD_OPTION = Reply(550, "5.6.0", "Message refused: {detail}")
NOT_PUBLIC_ADDRESS = Reply(
    550, "5.7.1", "{literal} is not a public address; this gateway delivers only to public hosts"
)
NO_VALID_RECIPIENTS = Reply(554, "5.5.1", "No valid recipients")
QUOTA_EXCEEDED = Reply(550, "5.7.1", "quota exceeded: this login may send to {limit} recipients")
SENDER_NOT_ALLOWED = Reply(
    550, "5.7.1", "Sender address <{address}> is not in this login's sender domains"
)
FROM_NOT_ALLOWED = Reply(
    550, "5.7.1", "From: address <{address}> is not in this login's sender domains"
)
FROM_UNREADABLE = Reply(550, "5.7.1", "From: {value} holds no address this login may send from")
