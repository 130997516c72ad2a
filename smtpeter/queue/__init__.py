"""The durable queue: message values and the spool on disk."""

from ._database import SPOOL_FILE, SpoolDatabase, SpoolUnusable, SQLiteSpool
from ._message import FEATURES, Envelope, Options, QueuedMessage, Recipient
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
