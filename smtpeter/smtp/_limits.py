"""
Per-login rates and quotas of recipients, counted across every worker (and,
with a shared database, every node), exactly: however many sessions and
requests ask at once, on however many workers and nodes, no more
recipients are admitted in a window than its limit.

Every recipient admitted is already counted in the database: a worker
admits from an I{allowance} it took there beforehand by
L{ILoginUsageStore.reserveLoginUsage}, one statement per window that adds
to the count only while it stays within the limit. Far from the limit an
allowance is many recipients (no database round trip per recipient):
each reservation takes up to twice what the worker admitted in the last
second or so, but never more than an eighth (L{SHARE}) of what is left
of the limit; and once a second a worker whose allowance is less than
what it admitted in that second takes more ahead, so that a steady pace
never waits for the database. Near the limit (fewer than 16 left) that is one: each
recipient is its own atomic reservation. A recipient that is not queued
after all goes back to the allowance (L{SendingLimits.release}).

Once a second each worker hands back, through the writer's batched
L{exchange<ILoginUsageStore.exchangeLoginUsage>}, the allowance it did
not use (all of it near the limit or when idle) and reads every window's
total. The cost of exactness is the other way: while another worker holds
allowance it has not used, a recipient may be refused though the count
would have allowed it, for at most about a second (until that worker's
next exchange hands it back), and only the eighth of what was left when
it was taken; a worker that dies holding allowance leaves it counted
until its window ends. Once a window's total (as last read) is at its
limit, recipients are refused without a round trip.

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

#: A reservation takes at most this fraction of what is left of a limit
#: (so several workers never hold much of the end of it between them).
SHARE = 8


@define
class _Window:
    """One login's count in one window, as this worker knows it."""

    end: int
    limit: int
    #: Every process's total at the last exchange or reservation (None: not read yet).
    shared: int | None = None
    #: Counted in the database for this worker, not admitted yet.
    allowance: int = 0
    #: Allowance handed back by the exchange under way.
    returning: int = 0
    #: Admitted here, held by transactions not yet queued.
    reserved: int = 0
    #: Admitted in this interval and the one before (the next reservation's size).
    recent: int = 0
    before: int = 0
    #: Fires when the reservation under way for this window ends.
    reserving: Deferred | None = None
    #: When a recipient last asked (seconds).
    used: float = 0.0

    def want(self) -> int:
        """How many to ask for: twice the recent pace, within a share of what is left."""
        left = self.limit - (self.shared or 0)
        return max(1, min(self.recent + self.before, left // SHARE))

    def keep(self) -> int:
        """How much allowance to keep past an exchange: as L{want}, none when idle."""
        left = self.limit - (self.shared or 0) + self.allowance
        return max(0, min(self.allowance, self.recent, left // SHARE))

    def short(self) -> bool:
        """
        Whether to take more allowance ahead, far from the limit, so that a
        steady pace never waits: less is left than this interval used.
        """
        far = (self.limit - (self.shared or 0)) // SHARE > 0
        return far and self.reserving is None and self.allowance < self.recent

    def idle(self) -> bool:
        return not (self.allowance or self.returning or self.reserved or self.reserving)


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
        now; if so it is counted (in the database already) as reserved in
        the windows of the answer's C{keys}.
        """
        kinds = ((RATE, sender.rate), (QUOTA, sender.quota))  # the rate's refusal first
        while True:
            windows = [
                (kind, limit, *self._window(sender.login, limit, now))
                for kind, limit in kinds
                if limit is not None
            ]
            need = [(kind, limit, key, w) for kind, limit, key, w in windows if not w.allowance]
            if not need:
                break
            busy = [w.reserving for _, _, _, w in need if w.reserving is not None]
            if busy:
                await _after(busy[0])
                continue
            for kind, limit, _, w in need:
                if w.shared is not None and w.shared >= limit.count:
                    return self._refuse(sender, kind, limit, w)
            granted = await self._reserve([(key, w) for _, _, key, w in need])
            for kind, limit, key, w in need:
                if key in granted and not granted[key][0]:
                    return self._refuse(sender, kind, limit, w)
        for _, _, _, window in windows:
            window.allowance -= 1
            window.reserved += 1
            window.recent += 1
        return Admission(keys=tuple(key for _, _, key, _ in windows))

    def _refuse(self, sender, kind: str, limit: Limit, window: _Window) -> Admission:
        if kind == QUOTA and sender.overQuota == HOLD:
            return Admission(held=True)
        return Admission(kind, limit, resets=window.end)

    async def _reserve(self, need: list[tuple[UsageKey, _Window]]) -> dict:
        """Take allowance in the windows of C{need} (all or none); the store's answer."""
        wants = [(key, w.want(), w.limit) for key, w in need]
        done: Deferred = Deferred()
        for _, w in need:
            w.reserving = done
        try:
            granted = await self.store.reserveLoginUsage(wants)
        finally:
            for _, w in need:
                w.reserving = None
            done.callback(None)
        for key, (n, total) in granted.items():
            window = self._windows[key]
            window.allowance += n
            window.shared = total
        return granted

    def _window(self, login: str, limit: Limit, now: float) -> tuple[UsageKey, _Window]:
        start, end = limit.window(now)
        key = (login, limit.period, start)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(end, limit.count)
        window.limit = limit.count  # (changed by the operator, perhaps)
        window.used = now
        return key, window

    def commit(self, keys) -> None:
        """The recipients counted in C{keys} were queued: they count for good."""
        for key in keys:
            self._windows[key].reserved -= 1

    def release(self, keys) -> None:
        """The recipients counted in C{keys} were not queued after all: back to the allowance."""
        for key in keys:
            window = self._windows[key]
            window.reserved -= 1
            window.allowance += 1

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
            back = window.allowance - (window.keep() if self.running else 0)
            if back > 0:
                increments[key] = -back
                window.allowance -= back
                window.returning += back
        waiters, self._waiters = self._waiters, []
        self._running = d = self.store.exchangeLoginUsage(increments, list(self._windows))
        d.addCallbacks(self._exchanged, self._failed, (increments,), None, (increments,))
        d.addBoth(self._done, waiters)

    def _exchanged(self, totals: dict, increments: dict) -> None:
        for key, n in increments.items():
            self._windows[key].returning += n
        for key, total in totals.items():
            window = self._windows.get(key)
            if window is not None:
                window.shared = total

    def _failed(self, failure: Failure, increments: dict) -> Failure:
        for key, n in increments.items():  # still ours in the database
            window = self._windows[key]
            window.returning += n
            window.allowance -= n
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
        for key, window in self._windows.items():
            if window.short():
                d = Deferred.fromCoroutine(self._reserve([(key, window)]))
                d.addErrback(lambda f: log.failure("could not reserve recipients ahead", f))
            window.recent, window.before = 0, window.recent

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
        if any(w.allowance for w in self._windows.values()):
            return self._exchangeSoon().addErrback(lambda f: None)
        return self._running.addErrback(lambda f: None) if self._running else succeed(None)


def _after(d: Deferred) -> Deferred:
    """A Deferred that fires (with C{None}) when C{d} does, leaving C{d}'s result alone."""
    after: Deferred = Deferred()

    def fire(result):
        after.callback(None)
        return result

    d.addBoth(fire)
    return after
