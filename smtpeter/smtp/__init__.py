"""The submission side: sessions, AUTH, STARTTLS, replies (listeners' TLS: L{smtpeter.runtime})."""

from ._address import encodeXtext
from ._auth import AuthenticatedSender, AuthThrottle, ISender, makePortal
from ._exceptions import SMTPRefusal
from ._inbound import BounceFactory, BounceIntake
from ._limits import REFUSED, Admission, SendingLimits
from ._protocol import ServerSettings, SubmissionFactory, SubmissionServer
from ._replies import LOCAL_ERROR, Reply
from ._wire import noDelay

__all__ = [
    "REFUSED",
    "Admission",
    "SendingLimits",
    "LOCAL_ERROR",
    "AuthThrottle",
    "AuthenticatedSender",
    "BounceFactory",
    "BounceIntake",
    "ISender",
    "Reply",
    "SMTPRefusal",
    "ServerSettings",
    "SubmissionFactory",
    "SubmissionServer",
    "encodeXtext",
    "makePortal",
    "noDelay",
]
