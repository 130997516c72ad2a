"""
The same error, again and again, logged once a minute with a count.

A damaged database fails every request, every AUTH, every poll: a
traceback for each grew the log by kilobytes a second, burying the first
one (the one that says what broke) and filling the disk that the
gateway needs. L{RepeatedErrors} logs an error the first time, then
counts its repeats (the same message format, exception type and text)
and logs that count when the minute is up, whether or not the error comes
again (a timer per kind of error that has repeats; L{stopAll} cancels
them, logging what they would have). Its memory is bounded whatever the
errors.
"""

from __future__ import annotations

import weakref
from datetime import timedelta

from attrs import define, field
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

#: How often one kind of error is logged, at most.
EVERY = timedelta(minutes=1)
#: Kinds of errors remembered at once; the oldest is forgotten beyond that.
KINDS = 256


#: Every L{RepeatedErrors}, for L{stopAll}.
_instances: weakref.WeakSet = weakref.WeakSet()


def stopAll() -> None:
    """Log the counts still pending in every L{RepeatedErrors} and cancel their timers."""
    for repeated in list(_instances):
        repeated.stop()


@define
class _Seen:
    since: float
    level: LogLevel
    format: str
    fields: dict
    repeats: int = 0
    timer: IDelayedCall | None = None


@define(eq=False)
class RepeatedErrors:
    """
    Logs through C{log}: the first of a kind of error at once, its repeats
    within C{every} only counted, and their count logged when C{every} is
    up (C{... (and N more like it in the last 60 s)}), without a traceback.
    C{clock} is the reactor by default; use it from the reactor's thread.
    """

    log: Logger
    every: timedelta = EVERY
    clock: IReactorTime | None = None
    _seen: dict = field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        _instances.add(self)

    def _clock(self) -> IReactorTime:
        if self.clock is None:
            from twisted.internet import reactor

            self.clock = reactor
        return self.clock

    def stop(self) -> None:
        """Log the counts pending now and cancel their timers."""
        for seen in list(self._seen.values()):
            if seen.timer is not None and seen.timer.active():
                seen.timer.cancel()
                self._flush(seen)

    def failure(
        self,
        format: str,
        failure: Failure | None = None,
        level: LogLevel = LogLevel.critical,
        **fields,
    ) -> None:
        """C{Logger.failure}, for the current exception if C{failure} is not given."""
        if failure is None:
            failure = Failure()
        key = (format, failure.type, str(failure.value)[:500])
        counted = self._counted(key, level, format, fields)
        if counted is not None:
            self.log.failure(counted, failure, level, **fields)

    def emit(self, level: LogLevel, format: str, key: object = None, **fields) -> None:
        """A line without a traceback; repeats are those of C{format} and C{key}."""
        counted = self._counted((format, key), level, format, fields)
        if counted is not None:
            self.log.emit(level, counted, **fields)

    def _counted(self, key, level: LogLevel, format: str, fields: dict) -> str | None:
        """The format to log now (with the count of repeats), or C{None}: only counted."""
        clock = self._clock()
        now = clock.seconds()
        seen = self._seen.get(key)
        if seen is not None and now - seen.since < self.every.total_seconds():
            seen.repeats += 1
            if seen.timer is None or not seen.timer.active():
                seen.timer = clock.callLater(
                    seen.since + self.every.total_seconds() - now, self._flush, seen
                )
            return None
        if seen is None and len(self._seen) >= KINDS:
            oldest = self._seen.pop(next(iter(self._seen)))
            if oldest.timer is not None and oldest.timer.active():
                oldest.timer.cancel()
                self._flush(oldest)
        self._seen.pop(key, None)
        self._seen[key] = _Seen(now, level, format, dict(fields))
        if seen is not None and seen.repeats:
            if seen.timer is not None and seen.timer.active():
                seen.timer.cancel()
            fields.update(self._counts(seen, now))
            return format + _COUNTED
        return format

    def _counts(self, seen: _Seen, now: float) -> dict:
        return {"repeats": seen.repeats, "repeatSeconds": round(now - seen.since)}

    def _flush(self, seen: _Seen) -> None:
        """The minute is up: log how many repeats there were, and count afresh from now."""
        now = self._clock().seconds()
        fields = {**seen.fields, **self._counts(seen, now)}
        seen.since, seen.repeats, seen.timer = now, 0, None
        self.log.emit(seen.level, seen.format + _COUNTED, **fields)


_COUNTED = " (and {repeats} more like it in the last {repeatSeconds} s)"
