"""
Persistent state in the data directory: SMTP logins, DKIM keys of sender
domains (L{_domains}), the links each message was sent with (L{_links}) and
hosted images (L{_images}); tokens and events come later.
"""

from ._exceptions import LoginExists, NoSuchLogin, StoreError, UnknownFeature
from ._logins import LoginRecord, LoginStore, connect
from ._threaded import MemoryLoginStore, ThreadedLoginStore
from .interfaces import ILoginStore

__all__ = [
    "ILoginStore",
    "LoginExists",
    "LoginRecord",
    "LoginStore",
    "MemoryLoginStore",
    "NoSuchLogin",
    "StoreError",
    "ThreadedLoginStore",
    "UnknownFeature",
    "connect",
]
