"""
SMTP logins and failed AUTH attempts in memory (L{MemoryLoginStore},
L{MemoryAuthFailures}): what L{MemoryStore} answers those interfaces
with, and what tests of AUTH use on their own.
"""

from __future__ import annotations

from collections import deque

from attrs import define, evolve, field
from twisted.internet.defer import succeed
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from ._logins import LoginRecord
from .interfaces import IAuthFailureStore, ILoginStore, ILoginUsageStore


@implementer(ILoginStore)
class MemoryLoginStore:
    """An in-memory L{ILoginStore} for tests; passwords are kept in clear."""

    def __init__(self, clock: IReactorTime | None = None) -> None:
        self.logins: dict[str, tuple[LoginRecord, str]] = {}
        self.clock = clock  # for the last use

    def add(self, name: str, password: str, features=(), enabled: bool = True) -> LoginRecord:
        record = LoginRecord(name, enabled, frozenset(features), 0.0, None, "")
        self.logins[name] = (record, password)
        return record

    def authenticate(self, name: str, password: str):
        entry = self.logins.get(name)
        if entry is None or entry[1] != password or not entry[0].enabled:
            return succeed(None)
        return succeed(entry[0])

    def sendingLogin(self, name: str):
        entry = self.logins.get(name)
        return succeed(entry[0] if entry is not None and entry[0].enabled else None)

    def noteLoginUse(self, name: str):
        entry = self.logins.get(name)
        if entry is not None:
            self.logins[name] = (
                evolve(entry[0], lastUsed=self.clock.seconds() if self.clock else 0.0),
                entry[1],
            )
        return succeed(None)

    def count(self):
        return succeed(len(self.logins))


@implementer(IAuthFailureStore)
@define
class MemoryAuthFailures:
    """L{IAuthFailureStore} in memory, bounded under many-address attacks."""

    maxTracked: int = 10_000
    _failures: dict[str, deque] = field(factory=dict, init=False)
    _bannedUntil: dict[str, float] = field(factory=dict, init=False)

    def authBannedUntil(self, address: str, now: float):
        until = self._bannedUntil.get(address)
        if until is not None and now >= until:
            del self._bannedUntil[address]
            until = None
        return succeed(until)

    def _recent(self, address: str, now: float, window: float) -> deque:
        recent = self._failures.setdefault(address, deque())
        while recent and recent[0] <= now - window:
            recent.popleft()
        return recent

    def settleAuthAttempt(self, address, now, window, limit, banFor, failed):
        if self._bannedUntil.get(address, now) > now:
            return succeed(None)
        if failed:
            return self.recordAuthFailure(address, now, window, limit, banFor)
        return succeed(sum(1 for t in self._failures.get(address, ()) if t > now - window))

    def recordAuthFailure(self, address: str, now: float, window: float, limit: int, banFor):
        if len(self._failures) >= self.maxTracked:
            # Forget addresses whose failures and bans are over.
            self._failures = {a: f for a, f in self._failures.items() if f and f[-1] > now - window}
            self._bannedUntil = {a: t for a, t in self._bannedUntil.items() if t > now}
        recent = self._recent(address, now, window)
        recent.append(now)
        if len(recent) >= limit:
            self._bannedUntil[address] = now + banFor
        return succeed(len(recent))


@implementer(ILoginUsageStore)
@define
class MemoryLoginUsage:
    """L{ILoginUsageStore} in memory: one process's counts (tests, a single worker)."""

    counts: dict[tuple, int] = field(factory=dict)
    #: How many exchanges were asked for (tests count round trips).
    exchanges: int = 0
    #: How many reservations were asked for.
    reservations: int = 0

    def exchangeLoginUsage(self, increments: dict, keys: list):
        self.exchanges += 1
        for key, n in increments.items():
            self.counts[key] = self.counts.get(key, 0) + n
        return succeed({key: self.counts.get(key, 0) for key in {*keys, *increments}})

    def reserveLoginUsage(self, wants: list):
        self.reservations += 1
        for key, _, limit in wants:
            if self.counts.get(key, 0) >= limit:
                return succeed({key: (0, self.counts.get(key, 0))})
        granted = {}
        for key, want, limit in wants:
            n = min(want, limit - self.counts.get(key, 0))
            self.counts[key] = self.counts.get(key, 0) + n
            granted[key] = (n, self.counts[key])
        return succeed(granted)
