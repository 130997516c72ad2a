"""Persistent state: SMTP logins (and, later, domains, tokens and events)."""

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
