"""The submission side: sessions, AUTH, STARTTLS, replies (listeners' TLS: L{smtpeter.runtime})."""

from ._auth import AuthenticatedSender, AuthThrottle, ISender, makePortal
from ._exceptions import SMTPRefusal
from ._protocol import ServerSettings, SubmissionFactory, SubmissionServer
from ._replies import Reply

__all__ = [
    "AuthThrottle",
    "AuthenticatedSender",
    "ISender",
    "Reply",
    "SMTPRefusal",
    "ServerSettings",
    "SubmissionFactory",
    "SubmissionServer",
    "makePortal",
]
