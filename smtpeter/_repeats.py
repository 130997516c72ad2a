"""
The same error, again and again, logged once a minute with a count.

A damaged database fails every request, every AUTH, every poll: a
traceback for each grew the log by kilobytes a second, burying the first
one (the one that says what broke) and filling the disk that the
gateway needs. L{RepeatedErrors} logs an error the first time, then
counts its repeats (the same message format, exception type and text)
and logs it once more, with that count, when it comes again a minute or
more later. Its memory is bounded whatever the errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from attrs import define, field
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

#: How often one kind of error is logged, at most.
EVERY = timedelta(minutes=1)
#: Kinds of errors remembered at once; the oldest is forgotten beyond that.
KINDS = 256


@define
class _Seen:
    since: float
    repeats: int = 0


@define
class RepeatedErrors:
    """
    Logs through C{log}: the first of a kind of error at once, its repeats
    within C{every} only counted; the next one after that says how many
    there were (C{... (and N more like it in the last 60 s)}).
    """

    log: Logger
    every: timedelta = EVERY
    clock: Callable[[], float] = time.monotonic
    _seen: dict = field(factory=dict, init=False)

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
        format = self._counted(key, format, fields)
        if format is not None:
            self.log.failure(format, failure, level, **fields)

    def emit(self, level: LogLevel, format: str, key: object = None, **fields) -> None:
        """A line without a traceback; repeats are those of C{format} and C{key}."""
        format = self._counted((format, key), format, fields)
        if format is not None:
            self.log.emit(level, format, **fields)

    def _counted(self, key, format: str, fields: dict) -> str | None:
        """The format to log now (with the count of repeats), or C{None}: only counted."""
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen.since < self.every.total_seconds():
            seen.repeats += 1
            return None
        if seen is None and len(self._seen) >= KINDS:
            del self._seen[next(iter(self._seen))]
        self._seen.pop(key, None)
        self._seen[key] = _Seen(now)
        if seen is not None and seen.repeats:
            fields["repeats"] = seen.repeats
            fields["repeatSeconds"] = round(now - seen.since)
            return format + " (and {repeats} more like it in the last {repeatSeconds} s)"
        return format
