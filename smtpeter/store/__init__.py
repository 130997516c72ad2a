"""
Persistent state in the data directory: SMTP logins, DKIM keys of sender
domains (L{_domains}), the links each message was sent with (L{_links}) and
hosted images (L{_images}), message records and events (L{_events}),
REST API tokens (L{_apitokens}) and webhooks (L{_webhooks}).
"""

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
from ._logins import LoginRecord, LoginStore, connect, connectMemory
from ._memory import MemoryAuthFailures, MemoryLoginStore, MemoryStore
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

__all__ = [
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
    "StoreError",
    "UnknownFeature",
    "connect",
    "connectMemory",
    "suppressionExpiry",
    "suppressionReason",
]
