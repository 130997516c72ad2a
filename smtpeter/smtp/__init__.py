"""
The submission side: sessions, AUTH, STARTTLS, replies (listeners' TLS:
L{smtpeter.runtime}), and the submission step every way in shares (SMTP's
DATA, the REST API's C{POST /v1/send}): L{checkRecipient},
L{admitRecipient}, L{checkEnvelopeSender}, L{submit}.
"""

from ._address import encodeXtext, isAddressType, parseMailbox
from ._auth import AuthenticatedSender, AuthThrottle, ISender, makePortal, senderFor
from ._exceptions import AddressSyntaxError, SMTPRefusal
from ._inbound import BounceFactory, BounceIntake
from ._limits import QUOTA, RATE, REFUSED, Admission, SendingLimits
from ._options import MAX_TAGS, readOptions
from ._protocol import ServerSettings, SubmissionFactory, SubmissionServer
from ._replies import LOCAL_ERROR, Reply
from ._senders import checkEnvelopeSender
from ._submission import OverLimit, admitRecipient, checkRecipient, submit
from ._wire import noDelay

__all__ = [
    "QUOTA",
    "RATE",
    "REFUSED",
    "AddressSyntaxError",
    "OverLimit",
    "admitRecipient",
    "checkEnvelopeSender",
    "checkRecipient",
    "parseMailbox",
    "MAX_TAGS",
    "readOptions",
    "senderFor",
    "submit",
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
    "isAddressType",
    "makePortal",
    "noDelay",
]
