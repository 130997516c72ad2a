"""
Persistent state in the data directory: SMTP logins, DKIM keys of sender
domains (L{_domains}), the links each message was sent with (L{_links}) and
hosted images (L{_images}), message records and events (L{_events}),
REST API tokens (L{_apitokens}) and webhooks (L{_webhooks}).

Its tables are made and changed in one place, the numbered steps in
C{schema/}, by L{upgrade} (L{_migrate}); the stores only read and write
rows. What only SQLite says its way is in L{_engine}, what only PostgreSQL
says in L{_postgres}; L{_engines} picks a connection's. Where the database
is (C{--database}: SQLite in the data directory, or PostgreSQL) is read by
L{parseDatabase}.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..runtime import DATABASE_ENVIRONMENT, DATABASE_HELP, PostgreSQL, parseDatabase
from ._admins import ADMIN as ADMIN_ROLE
from ._admins import ROLES, AdminStore
from ._apitokens import ADMIN as ADMIN_SCOPE
from ._apitokens import PREFIX as TOKEN_PREFIX
from ._apitokens import READ as READ_SCOPE
from ._apitokens import SCOPES, TokenRecord, TokenStore
from ._apitokens import SEND as SEND_SCOPE
from ._domains import DomainKeys, DomainStore
from ._engine import memoryConnection
from ._engines import (
    DatabaseError,
    classify,
    connect,
    isShared,
    unavailable,
    unreachable,
)
from ._events import STATUSES as MESSAGE_STATUSES
from ._events import TYPES as EVENT_TYPES
from ._events import (
    EventQuery,
    LinkQuery,
    MessageQuery,
    MessageRecord,
    isoTime,
    recipientStatus,
)
from ._exceptions import (
    Exists,
    Hint,
    Invalid,
    LoginExists,
    Missing,
    NoSuchDomain,
    NoSuchLogin,
    StoreError,
    UnknownFeature,
)
from ._idempotency import KeyState
from ._images import ImageStore
from ._limits import (
    HOLD,
    NONE,
    OVER_QUOTA,
    QUOTA_PERIODS,
    RATE_PERIODS,
    REFUSE,
    Limit,
    inSenderDomains,
)
from ._logins import LoginRecord, LoginStore, knownFeatures
from ._memory import MemoryAuthFailures, MemoryLoginStore, MemoryStore
from ._memorylogins import MemoryLoginUsage
from ._migrate import CURRENT, SchemaTooNew, upgrade, version
from ._queuerequests import DELETE, RELEASE, RETRY, QueueRequestStore
from ._secrets import shareSecret
from ._sharedimages import DatabaseImageStore, openImages
from ._sqlite import SQLiteStore
from ._stats import KINDS as STATS_KINDS
from ._stats import STEPS as STATS_STEPS
from ._stats import StatsQuery
from ._suppressions import (
    COMPLAINT,
    HARD_BOUNCE,
    MANUAL,
    MAX_DAYS,
    UNSUBSCRIBED,
    SuppressionStore,
    suppressionExpiry,
    suppressionReason,
)
from ._usage import UsageStore
from ._webhooks import WebhookStore
from .interfaces import (
    IAuthFailureStore,
    IDashboardSessionStore,
    IEventStore,
    IIdempotencyStore,
    ILoginStore,
    ILoginUsageStore,
    IQueueRequests,
    ISuppressionStore,
)


def openDatabase(path: Path | PostgreSQL):
    """
    The database at C{path} (made if need be), or the PostgreSQL one,
    brought to the current schema version by L{upgrade}: what the
    C{smtpeter} command and the process that owns the data directory open.
    Everyone else just L{connect}s.
    """
    db = connect(path)
    try:
        upgrade(db)
    except BaseException:
        db.close()
        raise
    return db


def copyToPostgreSQL(
    path: Path,
    database: PostgreSQL,
    secret: bytes | None = None,
    images: Path | None = None,
    alongside: Callable[[Any], object] | None = None,
) -> dict[str, int]:
    """
    Copy the SQLite database at C{path} into the empty PostgreSQL
    C{database} (L{smtpeter.store._copy}), and the gateway's C{secret}
    and hosted C{images} (their folder) with it, and what C{alongside}
    copies on the psycopg connection in the same transaction (the queued
    mail); how many rows of each table.
    @raise StoreError: the PostgreSQL database holds data already.
    @raise ValueError: psycopg is not installed.
    """
    from ._copy import copyDatabase

    source = connect(path)
    target = connect(database)
    try:
        return copyDatabase(source, target, secret, images, alongside)
    finally:
        target.close()
        source.close()


def connectMemory():
    """
    A database of one's own in memory at the current schema, gone when
    closed: for the in-memory administration of tests.
    """
    db = memoryConnection()
    upgrade(db)
    return db


__all__ = [
    "ADMIN_ROLE",
    "ADMIN_SCOPE",
    "AdminStore",
    "COMPLAINT",
    "CURRENT",
    "DELETE",
    "DatabaseError",
    "DomainKeys",
    "DomainStore",
    "EVENT_TYPES",
    "EventQuery",
    "Exists",
    "HARD_BOUNCE",
    "HOLD",
    "Hint",
    "IAuthFailureStore",
    "IDashboardSessionStore",
    "IEventStore",
    "IIdempotencyStore",
    "ILoginStore",
    "KeyState",
    "ILoginUsageStore",
    "IQueueRequests",
    "ISuppressionStore",
    "ImageStore",
    "Invalid",
    "Limit",
    "LinkQuery",
    "LoginExists",
    "LoginRecord",
    "LoginStore",
    "MANUAL",
    "UNSUBSCRIBED",
    "MAX_DAYS",
    "MESSAGE_STATUSES",
    "MemoryAuthFailures",
    "MemoryLoginStore",
    "MemoryLoginUsage",
    "MemoryStore",
    "MessageQuery",
    "MessageRecord",
    "Missing",
    "NONE",
    "NoSuchDomain",
    "NoSuchLogin",
    "OVER_QUOTA",
    "QUOTA_PERIODS",
    "QueueRequestStore",
    "RATE_PERIODS",
    "READ_SCOPE",
    "REFUSE",
    "RELEASE",
    "RETRY",
    "ROLES",
    "SCOPES",
    "SEND_SCOPE",
    "SQLiteStore",
    "STATS_KINDS",
    "STATS_STEPS",
    "SchemaTooNew",
    "StatsQuery",
    "StoreError",
    "SuppressionStore",
    "TOKEN_PREFIX",
    "TokenRecord",
    "TokenStore",
    "UnknownFeature",
    "UsageStore",
    "WebhookStore",
    "classify",
    "connect",
    "connectMemory",
    "copyToPostgreSQL",
    "isShared",
    "inSenderDomains",
    "isoTime",
    "knownFeatures",
    "openDatabase",
    "recipientStatus",
    "suppressionExpiry",
    "suppressionReason",
    "upgrade",
    "version",
    "DATABASE_ENVIRONMENT",
    "DATABASE_HELP",
    "PostgreSQL",
    "parseDatabase",
    "shareSecret",
    "openImages",
    "DatabaseImageStore",
    "unavailable",
    "unreachable",
]
