"""The durable queue: the spool on disk and the manager that works through it."""

from ._manager import QueueManager, RetryPolicy
from ._message import FEATURES, Envelope, Options, QueuedMessage, Recipient
from ._spool import DiskSpool, MemorySpool, ThreadedSpool
from .interfaces import IQueue, ISpool

__all__ = [
    "FEATURES",
    "DiskSpool",
    "Envelope",
    "IQueue",
    "ISpool",
    "MemorySpool",
    "Options",
    "QueueManager",
    "QueuedMessage",
    "Recipient",
    "RetryPolicy",
    "ThreadedSpool",
]
