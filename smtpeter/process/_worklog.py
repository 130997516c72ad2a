"""
How a worker's log events reach the log: one JSON object per line on the
worker's standard output (L{WorkerLogWriter}), read back by the parent
(L{decodeLine}) and published in its own log; or, when the parent's log is
plain text on its standard output (C{twistd -n}, without C{--logfile},
C{--syslog} or C{--logger}), informational lines written by the worker
itself, as text, to that same output (L{textLine}).

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

Written directly, a line costs the worker what its JSON cost and the
parent nothing: read, decoded, formatted again and written by the parent,
each of the two lines of a message cost some 40 microseconds (3% of a
one-message connection). Lines go to the output in writes of at most
L{ATOMIC_WRITE} bytes, which a pipe (journald's) takes whole, so lines of
several workers and of the parent never mix. Warnings and worse, failures,
the ready event and anything longer still go through the parent, which
acts on some of them; if the output fails, every line goes through the
parent from then on.
"""

from __future__ import annotations

import functools
import json
import select
import threading
from collections.abc import Callable
from typing import BinaryIO, cast

from twisted.internet.interfaces import IReactorCore, IReactorTime
from twisted.logger import (
    ILogObserver,
    InvalidLogLevelError,
    Logger,
    LogLevel,
    eventAsJSON,
    eventFromJSON,
    formatEvent,
    formatEventAsClassicLogText,
    formatTime,
    timeFormatRFC3339,
)
from twisted.python.failure import Failure
from twisted.python.reflect import safe_str
from zope.interface import implementer

#: The longest an informational line waits to be written.
FLUSH_INTERVAL = 0.05

#: The longest write to a shared output: a pipe takes up to this many bytes whole.
ATOMIC_WRITE = getattr(select, "PIPE_BUF", 512)

_encoder = json.JSONEncoder(separators=(",", ":"), default=str)


def encodeEvent(event: dict) -> bytes:
    """One event as a line for the parent (see the module's docstring)."""
    if "log_failure" in event:
        event = dict(event, log_failure=_persistable(event["log_failure"]))
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


def _persistable(failure):
    """
    C{failure} with its exception as text: C{eventAsJSON} keeps a failure's
    traceback and type, but its exception becomes C{{'unpersistable': True}},
    and the parent's log line would not say what went wrong.
    """
    if not isinstance(failure, Failure) or isinstance(failure.value, str):
        return failure
    _ = failure.parents  # what __getstate__ needs, made before the copy
    copy = Failure.__new__(Failure)
    copy.__dict__ = dict(failure.__dict__, value=safe_str(failure.value))
    return copy


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


@functools.lru_cache(maxsize=1)
def _stamp(second: int | None) -> str:
    """Twisted's C{formatTime} of a second, made once: it costs more than the rest of a line."""
    return formatTime(second, timeFormatRFC3339)


def workerSystem(worker: str, event: dict) -> str:
    """
    What a worker's event is logged under: C{"worker N namespace#level"};
    without C{worker} (a gateway in one process), as twistd logs it.
    """
    if not worker and event.get("log_system") is not None:
        return str(event["log_system"])  # a legacy event's, as twistd writes it
    level = event.get("log_level")
    system = f"{event.get('log_namespace', '-')}#{level.name if level is not None else '-'}"
    return f"{worker} {system}" if worker else system


def classicLine(event: dict) -> bytes:
    """
    The event as twistd's text log writes it (a failure with its
    traceback), for a gateway in one process that writes its own log
    (L{WorkerLogWriter} with C{encode}).
    """
    text = formatEventAsClassicLogText(event)
    return text.encode("utf-8", "backslashreplace") if text else b""


def textLine(event: dict, system: str) -> bytes:
    """
    The event as twistd's text log writes it when the parent publishes it
    (L{smtpeter.process._supervisor}): C{"TIME [SYSTEM NAMESPACE#LEVEL] TEXT"}, its
    line ends indented; C{b""} if it has no text.
    """
    text = _text(event) if event.get("log_format") is not None else ""
    if not text:
        return b""
    when = event.get("log_time")
    line = f"{_stamp(None if when is None else int(when))} [{workerSystem(system, event)}] {text}"
    line = line.replace("\n", "\n\t")
    return line.encode("utf-8", "backslashreplace") + b"\n"


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


@implementer(ILogObserver)
class WorkerLogWriter:
    """
    A log observer writing L{encodeEvent} lines to C{output}, a binary
    file read by the parent; with C{direct} (a binary file, unbuffered),
    informational lines go there as L{textLine}s, their system C{system}.
    A gateway in one process writes its own text log with it: C{output}
    and C{direct} its standard output, C{encode} L{classicLine}.
    """

    def __init__(
        self,
        output: BinaryIO,
        reactor: IReactorTime,
        direct: BinaryIO | None = None,
        system: str = "",
        encode: Callable[[dict], bytes] = encodeEvent,
    ) -> None:
        self.encode = encode
        self.output = output
        self.reactor = reactor
        self.direct = direct
        self.system = system
        self._thread = threading.get_ident()
        # Reentrant: a signal handler (SIGTERM's "shutting down") runs in
        # the reactor thread between any two bytecodes, and logs.
        self._lock = threading.RLock()
        self._pending: list[bytes] = []
        self._text: list[bytes] = []
        self._writing = False

    def __call__(self, event: dict) -> None:
        level = event.get("log_level")
        urgent = (
            (level is not None and level >= LogLevel.warn)
            or event.get("smtpeter_ready")
            or threading.get_ident() != self._thread
            or not cast(IReactorCore, self.reactor).running
        )
        if self.direct is not None and not urgent and "log_failure" not in event:
            line = textLine(event, self.system)
            if len(line) <= ATOMIC_WRITE:
                with self._lock:
                    self._text.append(line)
                    self._later()
                return
        line = self.encode(event)
        with self._lock:
            self._pending.append(line)
            if not urgent:
                self._later()
                return
        self.flush()

    def _later(self) -> None:
        """With the lock held, after a line was added: flush soon, if nothing else will."""
        if len(self._pending) + len(self._text) == 1:
            self.reactor.callLater(FLUSH_INTERVAL, self.flush)

    def flush(self) -> None:
        """
        Write what is pending, text lines first, each output in one write
        (text in writes of up to L{ATOMIC_WRITE} bytes). The writes are made
        outside the lock, and lines logged while they are made (by a signal
        handler that interrupted them, or another thread) are written after
        them, by the same call: a second write into the file while one is in
        progress would fail, and waiting for the lock inside a signal handler
        would never end.
        """
        with self._lock:
            if self._writing:
                return  # the call that is writing writes these lines next
            self._writing = True
        try:
            while True:
                with self._lock:
                    text, self._text = self._text, []
                    lines, self._pending = self._pending, []
                    if not (lines or text):
                        self._writing = False
                        return
                if text:
                    lines = self._writeText(text) + lines
                if lines:
                    self.output.write(b"".join(lines))
                    self.output.flush()
        except BaseException:
            with self._lock:
                self._writing = False
            raise

    def _writeText(self, lines: list[bytes]) -> list[bytes]:
        """C{lines} to C{direct}; if that fails, what is left of them, for the parent."""
        direct = self.direct
        if direct is None:
            # It failed while these were logged (by a signal handler that
            # interrupted the write): the parent writes them too.
            return lines
        start = size = 0
        try:
            for end, line in enumerate(lines):
                if size + len(line) > ATOMIC_WRITE:
                    _writeAll(direct, b"".join(lines[start:end]))
                    start, size = end, 0
                size += len(line)
            _writeAll(direct, b"".join(lines[start:]))
        except OSError as e:
            # Standard output closed, say: the parent writes these lines (as
            # lines it does not understand, with the worker's name) and all
            # that follow.
            self.direct = None
            Logger(__name__, observer=self).warn(
                "cannot write log lines to standard output ({why}); the parent will", why=e
            )
            return lines[start:]
        return []


def _writeAll(output: BinaryIO, data: bytes) -> None:
    """All of C{data}, in one write unless the output takes less."""
    while data:
        data = data[output.write(data) :]
