"""
The gateway's health, as C{GET /healthz} reports it to load balancers and
monitors: whether the database can be read and written, whether the
spool can take mail, and whether the disk has room. Each worker answers
for itself (its own spool), from checks run at most once per
L{CACHE_FOR} however often it is asked, so that a health check costs
little and cannot be turned into a load on the database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import cast

from attrs import define, field
from twisted.internet import defer
from twisted.internet.defer import Deferred, ensureDeferred, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

log = Logger()

#: How long one run of the checks answers every request for the health.
CACHE_FOR = timedelta(seconds=1)
#: A check that has not answered in this long is a problem in itself (a disk hung).
TIMEOUT = timedelta(seconds=5)


def diskSpace(directories: Iterable[Path], minimum: int) -> Callable[[], list[str]]:
    """A check that each of C{directories} is on a disk with C{minimum} bytes free."""

    def check() -> list[str]:
        found, devices = [], set()
        for directory in directories:
            try:
                device = os.stat(directory).st_dev
                stat = os.statvfs(directory)
            except OSError as e:
                found.append(f"{directory}: {e.strerror}")
                continue
            if device in devices:
                continue  # one line per disk
            devices.add(device)
            free = stat.f_bavail * stat.f_frsize
            if free < minimum:
                found.append(
                    f"the disk holding {directory} is full ({free // (1 << 20)} MiB free;"
                    f" mail is refused below {minimum // (1 << 20)} MiB)"
                )
        return found

    return check


@define
class HealthCheck:
    """
    C{checks} are callables giving a list of problems (or a Deferred of
    one); L{problems} runs them all, at most once per C{cacheFor}, and
    every caller meanwhile shares that run.
    """

    clock: IReactorTime
    checks: list[Callable[[], list[str] | Deferred[list[str]]]]
    cacheFor: timedelta = CACHE_FOR
    timeout: timedelta = TIMEOUT
    _last: list[str] = field(factory=list, init=False)
    _at: float | None = field(default=None, init=False)
    _waiting: list[Deferred[list[str]]] = field(factory=list, init=False)

    def problems(self) -> Deferred[list[str]]:
        """@return: C{Deferred[list[str]]}: what is wrong, empty when all is well."""
        now = self.clock.seconds()
        if self._at is not None and now - self._at < self.cacheFor.total_seconds():
            return succeed(list(self._last))
        d: Deferred[list[str]] = Deferred()
        self._waiting.append(d)
        if len(self._waiting) == 1:
            ensureDeferred(self._run()).addCallback(self._done)
        return d

    async def _run(self) -> list[str]:
        found: list[str] = []
        for check in self.checks:
            # (the Deferred a check may return is chained: it fires with the list)
            d = cast("Deferred[list[str]]", maybeDeferred(check))
            d.addTimeout(self.timeout.total_seconds(), self.clock)
            try:
                found += await d
            except defer.TimeoutError:
                found.append(
                    f"a health check ({getattr(check, '__qualname__', check)}) did not answer"
                    f" within {self.timeout.total_seconds():g} s"
                )
            except Exception as e:
                found.append(f"a health check failed: {e}")
        return found

    def _done(self, found: list[str]) -> None:
        self._last, self._at = found, self.clock.seconds()
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(list(found))
