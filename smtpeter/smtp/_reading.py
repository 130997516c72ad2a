"""
Reading and dispatching the commands of a submission session: the
buffer and its bounds (an overlong line, a flood without CRLF, pipelining
past what a session may hold), one command at a time to its C{smtp_VERB}
handler, an async handler's refusal or unexpected failure answered, and a
session closed after too many errors. Mixed into
L{SubmissionServer<smtpeter.smtp.SubmissionServer>}, whose state it uses.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from ..runtime import RepeatedErrors
from . import _replies as R
from ._exceptions import SMTPRefusal
from ._state import SessionState
from ._wire import DataReader

log = Logger()
#: Errors that come again and again (a damaged database): once a minute, counted.
repeated = RepeatedErrors(log)

MAX_COMMAND_LINE = 12288 + 2
MAX_DISCARD = 1024 * 1024
MAX_PIPELINE_BUFFER = 256 * 1024
#: 5xx replies a session may earn before it is closed with 421 (Postfix's
#: smtpd_hard_error_limit); reset by a message accepted.
HARD_ERROR_LIMIT = 20


class CommandReading(SessionState):
    """The session's reading of commands; mixed into L{SubmissionServer}."""

    #: The client is not reading its replies: answer no more commands for now.
    _writePaused: bool
    #: Bytes of an overlong command line thrown away so far.
    _discarding: int
    #: Replies held while pipelined commands are answered (L{SubmissionServer.send}).
    _held: list[bytes] | None

    if TYPE_CHECKING:

        async def _endOfData(self, reader: DataReader) -> None: ...

    def dataReceived(self, data: bytes) -> None:
        if self.closed:
            return
        if self._idleCall is not None and self._idleCall.active():
            self._idleCall.reset(self.settings.idleTimeout.total_seconds())
        self.buffer += data
        if (self.busy or self._writePaused) and len(self.buffer) > MAX_PIPELINE_BUFFER:
            self.transport.pauseProducing()
        self._process()

    def _process(self) -> None:
        if self._held is not None:  # re-entered: the outer call writes
            self._answer()
            return
        self._held = []
        try:
            self._answer()
        finally:
            if not self.closed:
                self._flush()
            self._held = None

    def _answer(self) -> None:
        """Answer the commands read so far, until one has to wait or input runs out."""
        while not self.busy and not self.closed and not self._writePaused and self.buffer:
            if self._bdatRemaining:
                taken = min(self._bdatRemaining, len(self.buffer))
                del self.buffer[:taken]
                self._bdatRemaining -= taken
                if not self._bdatRemaining:
                    self.reply(R.BDAT_NOT_IMPLEMENTED, command="BDAT")
                continue
            if self._data is not None:
                if not self._data.feed(self.buffer):
                    return
                reader, self._data = self._data, None
                self._run(self._endOfData(reader), "DATA")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                self._overlong()
                return
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 2]
            if self._discarding:
                self._discarding = 0
                self._lineTooLong()
                continue
            if len(line) > MAX_COMMAND_LINE - 2:
                self._lineTooLong()
                continue
            self._line(line)
            if self.errors >= HARD_ERROR_LIMIT and not self.closed:
                self.reply(R.TOO_MANY_ERRORS.format(hostname=self.settings.hostname))
                self.close()
        if not self.busy and not self.closed and not self._writePaused:
            self.transport.resumeProducing()

    def _overlong(self) -> None:
        """A command line with no CRLF yet: bound what we keep of it."""
        if len(self.buffer) <= MAX_COMMAND_LINE:
            return
        self._discarding += len(self.buffer) - 1
        del self.buffer[:-1]
        if self._discarding > MAX_DISCARD:
            self.reply(R.LINE_FLOOD.format(hostname=self.settings.hostname))
            self.close()

    def _lineTooLong(self) -> None:
        if self._authContinuation is not None:
            self._authContinuation = None
            self.reply(R.AUTH_LINE_TOO_LONG, command="AUTH")
        else:
            self.reply(R.LINE_TOO_LONG)

    def _run(self, coroutine: Coroutine[Any, Any, None], command: str) -> None:
        """Run an async command handler; nothing else is read until it is done."""
        self.busy = True
        d = ensureDeferred(coroutine)
        d.addErrback(self._unexpected, command)
        if d.called:
            # Finished at once: let the caller's loop go on rather than
            # recursing into _process once per pipelined command.
            d.addBoth(lambda _: None)
            self.busy = False
        else:
            d.addBoth(self._resume)

    def _unexpected(self, failure: Failure, command: str) -> None:
        if isinstance(failure.value, SMTPRefusal):
            self.reply(failure.value.reply, command=command)
            return
        repeated.failure(
            "unexpected error handling {command} from {peer}",
            failure,
            command=command,
            peer=self.peer,
        )
        self.reply(R.LOCAL_ERROR, command=command)

    def _resume(self, _: object) -> None:
        self.busy = False
        if not self.closed:
            self._process()

    # -- commands --------------------------------------------------------

    def _line(self, line: bytes) -> None:
        if self._authContinuation is not None:
            continuation, self._authContinuation = self._authContinuation, None
            self._run(continuation(line), "AUTH")
            return
        if b"\r" in line or b"\n" in line or b"\x00" in line:
            self.reply(R.BARE_LINE_END)
            return
        rawVerb, _, rawArgument = line.partition(b" ")
        verb = rawVerb.decode("latin-1").upper()
        handler = getattr(self, "smtp_" + verb, None) if verb.isascii() and verb.isalpha() else None
        if handler is None:
            self.reply(R.UNKNOWN_COMMAND, command=verb[:20])
            return
        try:
            argument = rawArgument.decode("ascii")
        except UnicodeDecodeError:
            self.reply(R.SYNTAX_ERROR.format(detail="non-ASCII characters"), command=verb)
            return
        try:
            result = handler(argument)
        except SMTPRefusal as refusal:
            self.reply(refusal.reply, command=verb)
            return
        if result is not None:
            self._run(result, verb)


__all__ = ["HARD_ERROR_LIMIT", "MAX_COMMAND_LINE", "CommandReading"]
