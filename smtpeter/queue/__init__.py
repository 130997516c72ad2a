"""
The durable queue: the spool on disk. The message values it holds are
L{smtpeter.message}'s, re-exported here for the plugins and callers that
import them from the queue.
"""

from ..message import FEATURES, Envelope, Options, QueuedMessage, Recipient
from ._database import SPOOL_FILE, SpoolDatabase, SpoolUnusable, SQLiteSpool
from ._spool import DiskSpool, MemorySpool
from .interfaces import IQueue, ISpool

__all__ = [
    "SPOOL_FILE",
    "FEATURES",
    "DiskSpool",
    "Envelope",
    "IQueue",
    "ISpool",
    "MemorySpool",
    "Options",
    "QueuedMessage",
    "Recipient",
    "SQLiteSpool",
    "SpoolDatabase",
    "SpoolUnusable",
]
