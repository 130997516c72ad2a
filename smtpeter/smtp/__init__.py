"""The submission side: sessions, AUTH, TLS, replies."""

from ._auth import AuthenticatedSender, AuthThrottle, ISender, makePortal
from ._exceptions import SMTPRefusal
from ._protocol import ServerSettings, SubmissionFactory, SubmissionServer
from ._replies import Reply
from ._tls import TLS12_CIPHERS, withCipherPolicy

__all__ = [
    "AuthThrottle",
    "AuthenticatedSender",
    "ISender",
    "Reply",
    "SMTPRefusal",
    "ServerSettings",
    "SubmissionFactory",
    "SubmissionServer",
    "TLS12_CIPHERS",
    "makePortal",
    "withCipherPolicy",
]
