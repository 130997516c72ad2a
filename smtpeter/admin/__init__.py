"""
Administration: the operations behind the C{smtpeter} command, the REST
API's management endpoints and the dashboard (logins, sender domains, API
tokens, webhooks, dashboard users, the queue), one implementation for all
three (L{IAdministration}: L{ThreadedAdministration} for the gateway,
L{MemoryAdministration} for tests); and the live DNS check of a sender domain's records.
"""

from ._administration import Administration
from ._dnscheck import checkDomain, recordsToPublish
from ._memory import MemoryAdministration
from ._nodes import NODE_STATUSES
from ._operations import ThreadedAdministration
from ._spools import Spooled, UnreadableMessage, UnusableSpool, queueEntries, spooledMail
from .interfaces import IAdministration

__all__ = [
    "Administration",
    "IAdministration",
    "MemoryAdministration",
    "NODE_STATUSES",
    "Spooled",
    "ThreadedAdministration",
    "UnreadableMessage",
    "UnusableSpool",
    "checkDomain",
    "queueEntries",
    "recordsToPublish",
    "spooledMail",
]
