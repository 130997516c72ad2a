"""
Persistent state in the data directory: SMTP logins, DKIM keys of sender
domains (L{_domains}), the links each message was sent with (L{_links}) and
hosted images (L{_images}), message records and events (L{_events}),
REST API tokens (L{_apitokens}) and webhooks (L{_webhooks}).
"""

from ._exceptions import LoginExists, NoSuchLogin, StoreError, UnknownFeature
from ._logins import LoginRecord, LoginStore, connect
from ._memory import MemoryAuthFailures, MemoryLoginStore, MemoryStore
from ._sqlite import SQLiteStore
from .interfaces import (
    IAuthFailureStore,
    IDashboardSessionStore,
    IEventStore,
    ILoginStore,
    IQueueRequests,
    ISuppressionStore,
)

__all__ = [
    "IAuthFailureStore",
    "IDashboardSessionStore",
    "IEventStore",
    "ILoginStore",
    "IQueueRequests",
    "ISuppressionStore",
    "MemoryAuthFailures",
    "MemoryStore",
    "SQLiteStore",
    "LoginExists",
    "LoginRecord",
    "LoginStore",
    "MemoryLoginStore",
    "NoSuchLogin",
    "StoreError",
    "UnknownFeature",
    "connect",
]
