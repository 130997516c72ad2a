"""
Persistent state in the data directory: SMTP logins, DKIM keys of sender
domains (L{_domains}), the links each message was sent with (L{_links}) and
hosted images (L{_images}), message records and events (L{_events}),
REST API tokens (L{_apitokens}) and webhooks (L{_webhooks}).

Its tables are made and changed in one place, the numbered steps in
C{schema/}, by L{upgrade} (L{_migrate}); the stores only read and write
rows. What only SQLite says its way is in L{_engine}.
"""

from pathlib import Path

from ._engine import DatabaseError, classify, connect, memoryConnection
from ._exceptions import (
    Exists,
    Hint,
    Invalid,
    LoginExists,
    Missing,
    NoSuchLogin,
    StoreError,
    UnknownFeature,
)
from ._logins import LoginRecord, LoginStore
from ._memory import MemoryAuthFailures, MemoryLoginStore, MemoryStore
from ._migrate import CURRENT, SchemaTooNew, upgrade, version
from ._sqlite import SQLiteStore
from ._suppressions import MANUAL, MAX_DAYS, suppressionExpiry, suppressionReason
from .interfaces import (
    IAuthFailureStore,
    IDashboardSessionStore,
    IEventStore,
    ILoginStore,
    IQueueRequests,
    ISuppressionStore,
)


def openDatabase(path: Path):
    """
    The database at C{path} (made if need be), brought to the current schema
    version by L{upgrade}: what the C{smtpeter} command and the process that
    owns the data directory open. Everyone else just L{connect}s.
    """
    db = connect(path)
    try:
        upgrade(db)
    except BaseException:
        db.close()
        raise
    return db


def connectMemory():
    """
    A database of one's own in memory at the current schema, gone when
    closed: for the in-memory administration of tests.
    """
    db = memoryConnection()
    upgrade(db)
    return db


__all__ = [
    "CURRENT",
    "DatabaseError",
    "Exists",
    "Hint",
    "IAuthFailureStore",
    "IDashboardSessionStore",
    "IEventStore",
    "ILoginStore",
    "IQueueRequests",
    "ISuppressionStore",
    "Invalid",
    "MemoryAuthFailures",
    "Missing",
    "MemoryStore",
    "SQLiteStore",
    "LoginExists",
    "MANUAL",
    "MAX_DAYS",
    "LoginRecord",
    "LoginStore",
    "MemoryLoginStore",
    "NoSuchLogin",
    "SchemaTooNew",
    "StoreError",
    "UnknownFeature",
    "classify",
    "connect",
    "connectMemory",
    "openDatabase",
    "suppressionExpiry",
    "suppressionReason",
    "upgrade",
    "version",
]
