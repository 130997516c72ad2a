"""
How a log file (one day of one kind of event) is written as it streams:
a JSON array, or CSV with the columns of its kind.
"""

from __future__ import annotations

import json

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from ..csvfile import csvBytes
from ..store import isoTime

#: The formats of a log file.
FORMATS = ("json", "csv")
#: The columns of a CSV log file, after the common ones, by kind of event.
_CSV_COLUMNS = {
    "attempt": ["sender", "features", "login", "notify"],
    "delivery": ["attempt", "code", "status", "state", "host", "text"],
    "failure": ["attempt", "permanent", "code", "status", "state", "host", "text"],
    "bounce": ["class", "action", "status", "diagnostic", "reporting_mta", "forwarded"],
    "click": ["url", "destination", "ip", "user_agent", "machine", "machine_reason"],
    "open": ["first", "number", "ip", "user_agent", "machine", "machine_reason"],
    "warning": ["text"],
    "refused": ["reason", "limit", "login", "sender", "code", "status", "text"],
    "unsubscribe": ["login", "one_click", "ip", "user_agent"],
}


class _JSONWriter:
    def __init__(self) -> None:
        self.first = True

    def start(self) -> bytes:
        return b"["

    def rows(self, events) -> bytes:
        parts = []
        for event in events:
            parts.append(("\n" if self.first else ",\n") + json.dumps(event.toJSON()))
            self.first = False
        return "".join(parts).encode()

    def end(self) -> bytes:
        return b"\n]\n"


class _CSVWriter:
    def __init__(self, kind: str) -> None:
        self.columns = _CSV_COLUMNS[kind]

    def start(self) -> bytes:
        return csvBytes([["id", "time", "type", "messageid", "email", "tags", *self.columns]])

    def rows(self, events) -> bytes:
        return csvBytes(
            [e.id, isoTime(e.time), e.type, e.qid, e.recipient, list(e.tags)]
            + [e.details.get(c) for c in self.columns]
            for e in events
        )

    def end(self) -> bytes:
        return b""


@implementer(IPushProducer)
class Paced:
    """
    A log file's rows go out no faster than the client takes them: the
    request's transport pauses this producer when its buffer is full, and
    L{ready} waits until it resumes (a client that stops reading would
    otherwise have the whole day written into the worker's memory).
    """

    def __init__(self) -> None:
        self.paused = False
        self.stopped = False
        self._waiting: Deferred[None] | None = None

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self._wake()

    def stopProducing(self) -> None:
        self.stopped = True
        self._wake()

    def _wake(self) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            waiting.callback(None)

    async def ready(self) -> bool:
        """Once the client may take more: C{True}, or C{False} if it went away."""
        while self.paused and not self.stopped:
            self._waiting = Deferred()
            await self._waiting
        return not self.stopped
