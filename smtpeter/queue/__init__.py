"""
The durable queue: the spool on disk. The message values it holds are
L{smtpeter.message}'s, re-exported here for the plugins and callers that
import them from the queue.
"""

from ..message import Envelope, Options, QueuedMessage, Recipient
from ._claimingmemory import Board, MemoryClaimingSpool
from ._database import SpoolDatabase
from ._incoming import IncomingContent, Spilled
from ._shared import SharedQueueDatabase
from ._sharedconnection import ClaimLost, connectQueue
from ._sharedspool import SharedSpool
from ._spool import (
    DiskSpool,
    MemorySpool,
    SentArchive,
    readQueueFile,
    sentDirectory,
    spoolDirectories,
    spoolDirectory,
)
from ._spoollost import SpoolUnusable
from ._spoolschema import SPOOL_FILE
from ._sqlitespool import SQLiteSpool
from .interfaces import IClaimingSpool, IQueue, ISpool

__all__ = [
    "Board",
    "MemoryClaimingSpool",
    "ClaimLost",
    "IClaimingSpool",
    "SharedQueueDatabase",
    "SharedSpool",
    "connectQueue",
    "SPOOL_FILE",
    "DiskSpool",
    "Envelope",
    "IQueue",
    "ISpool",
    "IncomingContent",
    "MemorySpool",
    "Options",
    "QueuedMessage",
    "Recipient",
    "SQLiteSpool",
    "SentArchive",
    "Spilled",
    "SpoolDatabase",
    "SpoolUnusable",
    "readQueueFile",
    "sentDirectory",
    "spoolDirectories",
    "spoolDirectory",
]
