"""
The logins as the gateway's store offers them (L{ILoginStore},
L{ILoginUsageStore}): each login's row kept in memory until the logins
change (in any process) and its password checked in the caller's thread,
its last use written later by the writer, and the per-login counters
(exchanged by the writer, reserved near a limit in the throttle's thread).
"""

from __future__ import annotations

from attrs import evolve
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger, LogLevel

from ..runtime import RepeatedErrors
from . import _commands as do
from ._changes import MISSING, Remembered
from ._logins import LAST_USED_RESOLUTION, LoginRecord, LoginStore, judge
from ._passwords import needsUpgrade
from ._storecalls import ThreadedCalls, kept, only
from ._usage import UsageFull, UsageStore

log = Logger()
#: Errors that come again and again (a full disk): once a minute, counted.
repeated = RepeatedErrors(log)


class StoreLogins(ThreadedCalls):
    """L{ILoginStore} and L{ILoginUsageStore}, a mixin of the store."""

    #: The logins' rows, by name, while the logins stay unchanged.
    _logins: Remembered[LoginRecord | None]

    # ILoginStore ------------------------------------------------------------------------

    def authenticate(self, name: str, password: str) -> Deferred:
        """
        The login's row is kept in memory until the logins change (in any
        process), and checked here: a fast hash costs microseconds. An
        scrypt hash from an earlier version is checked (and replaced) in a
        reading thread; the new hash is written afterwards by the writer,
        and the answer does not wait for it. The last use is not written
        here: see L{noteLoginUse}.
        """
        return self._login(name).addCallback(self._check, name, password)

    def sendingLogin(self, name: str) -> Deferred:
        """Kept in memory as for L{authenticate}, until the logins change anywhere."""
        return self._login(name).addCallback(lambda r: r if r is not None and r.enabled else None)

    def _login(self, name: str) -> Deferred:
        """A login's record (or None), from memory, or read and then kept there."""
        mark, record = self._logins.lookup(name)
        if record is MISSING:
            d = self._read(do.view(LoginStore, LoginStore.get), name)
            return d.addCallback(kept, self._logins, mark, name)
        return succeed(record)

    def _check(self, record: LoginRecord | None, name: str, password: str):
        now = self.clock.seconds()
        if record is not None and needsUpgrade(record.passwordHash):
            d = self._read(do.view(LoginStore, LoginStore.check), name, password, now)
            return d.addCallback(self._upgrade)
        return judge(record, password, now)[0]

    def _upgrade(self, checked) -> LoginRecord | None:
        record, update = checked
        if update is not None and update[2] is not None:
            self._noteLogin(record.name, (record.name, None, update[2]))
        return record

    def noteLoginUse(self, name: str) -> Deferred:
        """
        Written by the writer at most once a minute per login, and nobody
        waits for it; a failure (a full disk) is logged, not raised.
        """
        now = self.clock.seconds()
        record = self._logins.get(name)
        if isinstance(record, LoginRecord):
            if record.lastUsed is not None and now - record.lastUsed < LAST_USED_RESOLUTION:
                return succeed(None)
            self._logins.replace(name, evolve(record, lastUsed=now))
        self._noteLogin(name, (name, now, None))
        return succeed(None)

    def _noteLogin(self, name: str, update: tuple) -> None:
        self._write(do.LoginUpdate(update), awaited=False).addErrback(
            lambda f: repeated.emit(
                LogLevel.warn,
                "could not note the use of login {name}: {error}",
                key=f.getErrorMessage(),
                name=name,
                error=f.getErrorMessage(),
            )
        )

    def count(self) -> Deferred:
        return self._read(do.view(LoginStore, LoginStore.count))

    # ILoginUsageStore -------------------------------------------------------------------

    def exchangeLoginUsage(self, increments: dict, keys: list) -> Deferred:
        """
        Increments ride on the writer's next commit (nobody waits on it: up
        to L{LINGER<smtpeter.store._writer.LINGER>} for company); a read
        alone goes to a reading thread.
        """
        if increments:
            work = do.Call(UsageStore, UsageStore.exchange, increments, keys)
            return self._write(work, awaited=False).addCallback(only)
        return self._read(do.view(UsageStore, UsageStore.totals), keys)

    def reserveLoginUsage(self, wants: list) -> Deferred:
        """
        In a short transaction of its own, in the thread the AUTH throttle
        uses (the writer's commits wait for company; an admission near its
        limit waits for this), ordered with every process's and node's by
        the database's write lock, and guarded by the statement itself.
        """
        return self._throttle.run(_reserve, wants)


def _reserve(store, wants: list) -> dict:
    """L{UsageStore.reserve} on the connection of C{store}, in a transaction of its own."""
    try:
        return do.inTransaction(_reserveIn)(store, wants)
    except UsageFull as full:
        key, total = full.args
        return {key: (0, total)}


def _reserveIn(store, wants: list) -> dict:
    return UsageStore(store.db).reserve(wants)
