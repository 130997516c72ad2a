"""
The byte level of SMTP sessions, separate from what the commands mean.
Replies and commands go out at once (L{noDelay}). On the server side,
command lines end only at CRLF; DATA ends only at CRLF.CRLF; bare CR and
LF inside DATA become CRLF (Postfix's "normalize" mode), so old scripts
that send LF-only mail keep working and nothing downstream ever sees a
bare CR or LF.
"""

from __future__ import annotations

import re
from typing import Generic, Protocol, TypeVar

from attrs import define, field

MAX_TEXT_LINE = 998  # RFC 5322 2.1.1, without the CRLF
_ANY_ENDING = re.compile(rb"\r\n|\r|\n")
#: A line after the first that is longer than RFC 5322 allows, in CRLF text:
#: one scan (from each LF, as far as the line goes), no object per line.
_LONG_LINE = re.compile(rb"\n[^\r\n]{%d}" % (MAX_TEXT_LINE + 1))


def hasLongLine(lines: bytes) -> bool:
    """Whether CRLF text (no bare CR or LF) holds a line over L{MAX_TEXT_LINE} bytes."""
    first = lines.find(b"\r\n")
    if (first if first >= 0 else len(lines)) > MAX_TEXT_LINE:
        return True
    return first >= 0 and _LONG_LINE.search(lines, first) is not None


class Writable(Protocol):
    """What a L{DataReader} writes the content to."""

    def write(self, data: bytes) -> None: ...


SinkT = TypeVar("SinkT", bound=Writable)


@define
class DataReader(Generic[SinkT]):
    """
    Decodes the content of one DATA phase as it arrives, undoing
    dot-stuffing and normalising line endings, within a size limit, and
    writes it to C{sink} (an L{IncomingContent}).

    It works on whatever complete lines have arrived, with C{bytes} methods
    over the whole chunk: the cost is per byte, never per line, so a
    message of a million one-character lines costs what any other message
    of its size does. A line longer than RFC 5322 allows is kept (in pieces
    as it arrives) and noted in L{longLines}, for the message to be
    re-encoded before it goes on. After L{feed} returns C{True} the content
    is complete; L{problem} then says whether it must be refused
    (C{"size"}), and nothing more was written once it was set.
    """

    maxSize: int
    sink: SinkT
    size: int = 0
    problem: str | None = None
    bareEndings: int = 0
    longLines: bool = False
    #: Inside a line whose start was already taken: no dot to undo here.
    _midLine: bool = field(default=False, init=False)

    def feed(self, buffer: bytearray) -> bool:
        """Consume the complete lines in C{buffer}; return C{True} at the final dot."""
        if buffer[:3] == b".\r\n" and not self._midLine:
            del buffer[:3]
            return True
        end = buffer.find(b"\r\n.\r\n")
        if end >= 0:
            self._take(bytes(buffer[: end + 2]))
            del buffer[: end + 5]
            return True
        # Keep back a line not yet complete; a final "\r\n." may be the
        # start of the end marker, and a lone "." at the start likewise.
        cut = buffer.rfind(b"\r\n") + 2
        if cut == 1:
            cut = 0
        if buffer[cut:] in (b".", b".\r"):
            pass
        elif len(buffer) - cut > MAX_TEXT_LINE + 2:
            # A line already too long: take what has come of it, but the
            # last byte (it may be the CR of a CRLF).
            self._take(bytes(buffer[:cut]))
            self._take(bytes(buffer[cut:-1]), ended=False)
            self.longLines = True
            del buffer[:-1]
            return False
        if cut:
            self._take(bytes(buffer[:cut]))
            del buffer[:cut]
        return False

    def _note(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem

    def _take(self, lines: bytes, ended: bool = True) -> None:
        """
        Decode wire lines: they start where the last piece ended and, if
        C{ended}, end with CRLF; else they end inside a line.
        """
        if not lines:
            return
        if lines[:1] == b"." and not self._midLine:
            lines = lines[1:]
        self._midLine = not ended
        if b"\r\n." in lines:
            lines = lines.replace(b"\r\n.", b"\r\n")
        crlf = lines.count(b"\r\n")
        bare = lines.count(b"\r") + lines.count(b"\n") - 2 * crlf
        if bare:
            self.bareEndings += bare
            lines = _ANY_ENDING.sub(b"\r\n", lines)
        self.size += len(lines)
        if self.size > self.maxSize:
            self._note("size")
        if not self.longLines and len(lines) > MAX_TEXT_LINE + 2 and hasLongLine(lines):
            self.longLines = True
        if self.problem is None:
            self.sink.write(lines)


def noDelay(transport) -> None:
    """
    Send each write at once (TCP_NODELAY). SMTP writes whole replies and
    commands; with Nagle's algorithm a reply written while an earlier
    segment (a TLS session ticket, say) is unacknowledged waits up to 40 ms
    for the peer's delayed ACK.
    """
    setTcpNoDelay = getattr(transport, "setTcpNoDelay", None)
    if setTcpNoDelay is not None:
        try:
            setTcpNoDelay(True)
        except OSError:
            pass  # not a TCP socket (a UNIX one)
