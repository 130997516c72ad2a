"""
Per-login rates and quotas of recipients, counted across every worker (and,
with a shared database, every node) without a database round trip per
RCPT.

Each worker counts what it accepts in memory and, once a second, hands
the store what it counted since and reads back every process's totals of
the windows it has in use, in one exchange that rides on the store's
group commits (L{ILoginUsageStore}). A recipient is admitted while

    (every process's total at the last exchange)
    + (what this worker accepted since, sent or not yet)
    + (what this worker's open transactions hold) < limit

so within one worker the limit is exact, and across workers it may be
overshot by what the others accepted since the last exchange (about a
second of their traffic). Only the first recipient of a window this
worker has not seen (or not for a minute) waits for a read of the totals.
Logins without limits never come here.
"""

from __future__ import annotations

from datetime import timedelta

from attrs import define, field, frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from ..events import Event, IEventSink
from ..store import HOLD, ILoginUsageStore, Limit
from . import _replies as R

log = Logger()

#: The event of a recipient refused over a limit, and its reasons.
REFUSED = "refused"
RATE, QUOTA = "rate", "quota"

UsageKey = tuple[str, str, int]


@define
class _Window:
    """One login's count in one window, as this worker knows it."""

    end: int
    #: Every process's total at the last exchange (None: not read yet).
    shared: int | None = None
    #: Accepted here since the last exchange.
    pending: int = 0
    #: Accepted here and handed to the exchange under way.
    sending: int = 0
    #: Held by this worker's transactions not yet queued.
    reserved: int = 0
    #: When a recipient last asked (seconds).
    used: float = 0.0

    def total(self) -> int:
        return (self.shared or 0) + self.pending + self.sending + self.reserved

    def idle(self) -> bool:
        return not (self.pending or self.sending or self.reserved)


@frozen
class Admission:
    """What L{SendingLimits.admit} found for one recipient."""

    #: C{None}: admitted; else why not (L{RATE}, L{QUOTA}), with the L{Limit}.
    refused: str | None = None
    limit: Limit | None = None
    #: Over the quota of a login that holds its mail then: accept it, and hold the message.
    held: bool = False
    #: The windows this recipient was counted in (to L{commit} or L{release}).
    keys: tuple[UsageKey, ...] = ()
    #: Refused: when the window over its limit ends (seconds; a REST C{Retry-After}).
    resets: int | None = None

    @property
    def reply(self) -> R.Reply:
        if self.refused == RATE:
            return R.RATE_LIMITED.format(limit=self.limit)
        return R.QUOTA_EXCEEDED.format(limit=self.limit)


@define(eq=False, slots=False)
class SendingLimits(Service):
    """
    The limits of one worker: L{admit} a recipient, then L{commit} it once
    its message is queued, or L{release} it. Running as a service, it
    exchanges counts with C{store} every C{interval}; stopping, it hands
    over what it still holds.
    """

    store: ILoginUsageStore
    clock: IReactorTime
    events: IEventSink | None = None
    interval: timedelta = timedelta(seconds=1)
    #: A window nobody asked about for this long is forgotten (read again when asked).
    idle: timedelta = timedelta(minutes=1)
    _windows: dict[UsageKey, _Window] = field(factory=dict, init=False)
    _running: Deferred | None = field(default=None, init=False)
    _waiters: list[Deferred] = field(factory=list, init=False)
    _loop: LoopingCall | None = field(default=None, init=False)

    # -- admitting -------------------------------------------------------

    async def admit(self, sender, now: float) -> Admission:
        """
        Whether one more recipient of C{sender} (an L{AuthenticatedSender
        <smtpeter.smtp.AuthenticatedSender>} with limits) may be accepted
        now; if so it is counted as reserved in the windows of the answer's
        C{keys}.
        """
        limits = [limit for limit in (sender.rate, sender.quota) if limit is not None]
        while True:
            windows = [self._window(sender.login, limit, now) for limit in limits]
            if all(w.shared is not None for _, w in windows):
                break
            await self._exchangeSoon()
        rate = sender.rate and windows[0][1]
        quota = sender.quota and windows[-1][1]
        if rate and rate.total() >= sender.rate.count:
            return Admission(RATE, sender.rate, resets=rate.end)
        if quota and quota.total() >= sender.quota.count:
            if sender.overQuota == HOLD:
                return Admission(held=True)
            return Admission(QUOTA, sender.quota, resets=quota.end)
        for _, window in windows:
            window.reserved += 1
        return Admission(keys=tuple(key for key, _ in windows))

    def _window(self, login: str, limit: Limit, now: float) -> tuple[UsageKey, _Window]:
        start, end = limit.window(now)
        key = (login, limit.period, start)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(end)
        window.used = now
        return key, window

    def commit(self, keys) -> None:
        """The recipients counted in C{keys} were queued: they count for good."""
        for key in keys:
            window = self._windows[key]
            window.reserved -= 1
            window.pending += 1

    def release(self, keys) -> None:
        """The recipients counted in C{keys} were not queued after all."""
        for key in keys:
            self._windows[key].reserved -= 1

    def refused(self, login: str, sender: str, recipient: str, admission: Admission, now: float):
        """Record a C{refused} event for a recipient refused over a limit."""
        reply = admission.reply
        log.info(
            "{login}: refused RCPT <{recipient}> over its {reason} ({limit})",
            login=login,
            recipient=recipient,
            reason=admission.refused,
            limit=str(admission.limit),
        )
        if self.events is None:
            return succeed(None)
        details = {
            "reason": admission.refused,
            "limit": str(admission.limit),
            "login": login,
            "sender": sender,
            "code": reply.code,
            "status": reply.enhanced,
            "text": reply.text,
        }
        d = self.events.record(Event(REFUSED, "", recipient, now, (), details))
        return d.addErrback(lambda f: log.failure("could not record a refused event", f))

    # -- exchanging ------------------------------------------------------

    def _exchangeSoon(self) -> Deferred:
        """A Deferred that fires after an exchange that began after this call."""
        d: Deferred = Deferred()
        self._waiters.append(d)
        if self._running is None:
            self._exchange()
        return d

    def _exchange(self) -> None:
        increments = {}
        for key, window in self._windows.items():
            if window.pending:
                increments[key] = window.pending
                window.sending += window.pending
                window.pending = 0
        waiters, self._waiters = self._waiters, []
        self._running = d = self.store.exchangeLoginUsage(increments, list(self._windows))
        d.addCallbacks(self._exchanged, self._failed, (increments,), None, (increments,))
        d.addBoth(self._done, waiters)

    def _exchanged(self, totals: dict, increments: dict) -> None:
        for key, n in increments.items():
            self._windows[key].sending -= n
        for key, total in totals.items():
            window = self._windows.get(key)
            if window is not None:
                window.shared = total

    def _failed(self, failure: Failure, increments: dict) -> Failure:
        for key, n in increments.items():  # counted again at the next exchange
            window = self._windows[key]
            window.sending -= n
            window.pending += n
        log.failure("could not exchange the logins' usage with the database", failure)
        return failure

    def _done(self, result, waiters: list[Deferred]) -> None:
        self._running = None
        for waiter in waiters:
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(None)
        if self._waiters:
            self._exchange()

    def tick(self) -> None:
        """Forget windows that are over or idle, then exchange, if anything is in use."""
        now = self.clock.seconds()
        idle = self.idle.total_seconds()
        for key, window in list(self._windows.items()):
            if window.idle() and (window.end <= now or now - window.used > idle):
                del self._windows[key]
        if self._windows and self._running is None:
            self._exchange()

    # -- the service -----------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._loop = LoopingCall(self.tick)
        self._loop.clock = self.clock
        self._loop.start(self.interval.total_seconds(), now=False).addErrback(
            lambda f: log.failure("the limits' exchange stopped", f)
        )

    def stopService(self) -> Deferred:
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if any(w.pending for w in self._windows.values()):
            return self._exchangeSoon().addErrback(lambda f: None)
        return self._running.addErrback(lambda f: None) if self._running else succeed(None)
