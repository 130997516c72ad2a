"""
How a worker's log events reach the parent: one JSON object per line on
the worker's standard output (L{WorkerLogWriter}), read back by the parent
(L{decodeLine}) and published in its own log.

An event is formatted once, in the worker. Its line carries the text as
an escaped C{log_format}, its level by name, and the event's own fields as
JSON (anything else as its C{str}), so the parent neither flattens nor
formats the event again, and a JSON log of the parent still has the
fields. An event with a failure goes through C{eventAsJSON}, which keeps
its traceback.

Lines are gathered for up to L{FLUSH_INTERVAL} and written together, in
one write (a write per line, and the parent woken for each, cost the pair
about a tenth of a message's CPU); a warning or worse, the ready event, and
anything logged outside the reactor thread or while it is not running are
written at once. A worker killed with SIGKILL loses the informational lines
of its last moment; its messages are on disk.
"""

from __future__ import annotations

import json
import threading

from twisted.logger import InvalidLogLevelError, LogLevel, eventAsJSON, eventFromJSON, formatEvent

#: The longest an informational line waits to be written.
FLUSH_INTERVAL = 0.05

_encoder = json.JSONEncoder(separators=(",", ":"), default=str)


def encodeEvent(event: dict) -> bytes:
    """One event as a line for the parent (see the module's docstring)."""
    if "log_failure" in event:
        return eventAsJSON(event).encode("utf-8") + b"\n"
    level = event.get("log_level")
    line = {key: value for key, value in event.items() if not key.startswith("log_")}
    line["log_time"] = event.get("log_time")
    line["log_namespace"] = event.get("log_namespace")
    line["log_level"] = level.name if level is not None else None
    if event.get("log_format") is not None:
        line["log_format"] = _text(event).replace("{", "{{").replace("}", "}}")
    try:
        text = _encoder.encode(line)
    except (TypeError, ValueError):  # a field that even str() cannot help, or a cycle
        text = _encoder.encode({k: v for k, v in line.items() if k.startswith("log_")})
    return text.encode("ascii") + b"\n"


def _text(event: dict) -> str:
    """
    The event's text: C{str.format_map} does what twisted's C{formatEvent}
    does, some twenty times faster, for every format but those that call a
    field (C{"{f()}"}), which it leaves to C{formatEvent}.
    """
    try:
        return event["log_format"].format_map(event)
    except Exception:
        return formatEvent(event)


def decodeLine(text: str) -> dict:
    """A line from L{encodeEvent} as an event; C{ValueError} if it is not one."""
    event = json.loads(text)
    if not isinstance(event, dict):
        raise ValueError("not a log event")
    level = event.get("log_level")
    if isinstance(level, str):
        try:
            event["log_level"] = LogLevel.levelWithName(level)
        except InvalidLogLevelError:
            raise ValueError(f"no log level {level!r}")
    elif level is not None:
        event = eventFromJSON(text)  # the long form, with its failure
    return event


class WorkerLogWriter:
    """A log observer writing L{encodeEvent} lines to C{output}, a binary file."""

    def __init__(self, output, reactor) -> None:
        self.output = output
        self.reactor = reactor
        self._thread = threading.get_ident()
        # Reentrant: a signal handler (SIGTERM's "shutting down") runs in
        # the reactor thread between any two bytecodes, and logs.
        self._lock = threading.RLock()
        self._pending: list[bytes] = []
        self._writing = False

    def __call__(self, event: dict) -> None:
        line = encodeEvent(event)
        level = event.get("log_level")
        urgent = (
            (level is not None and level >= LogLevel.warn)
            or event.get("smtpeter_ready")
            or threading.get_ident() != self._thread
            or not self.reactor.running
        )
        with self._lock:
            self._pending.append(line)
            if not urgent:
                if len(self._pending) == 1:
                    self.reactor.callLater(FLUSH_INTERVAL, self.flush)
                return
        self.flush()

    def flush(self) -> None:
        """
        Write what is pending, in one write. The write is made outside the
        lock, and lines logged while it is made (by a signal handler that
        interrupted it, or another thread) are written after it, by the same
        call: a second write into the file while one is in progress would
        fail, and waiting for the lock inside a signal handler would never end.
        """
        with self._lock:
            if self._writing:
                return  # the call that is writing writes these lines next
            self._writing = True
        try:
            while True:
                with self._lock:
                    lines, self._pending = self._pending, []
                    if not lines:
                        self._writing = False
                        return
                self.output.write(b"".join(lines))
                self.output.flush()
        except BaseException:
            with self._lock:
                self._writing = False
            raise
