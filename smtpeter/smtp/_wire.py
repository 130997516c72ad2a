"""
The byte-level reading of an SMTP server session, separate from what the
commands mean: command lines end only at CRLF; DATA ends only at
CRLF.CRLF; bare CR and LF inside DATA become CRLF (Postfix's "normalize"
mode), so old scripts that send LF-only mail keep working and nothing
downstream ever sees a bare CR or LF.
"""

from __future__ import annotations

import re

from attrs import define, field

MAX_TEXT_LINE = 998  # RFC 5322 2.1.1, without the CRLF
_BARE = re.compile(rb"\r|\n")


@define
class DataReader:
    """
    Collects the content of one DATA phase from wire lines, undoing
    dot-stuffing and normalising line endings, within a size limit.

    After L{feed} returns C{True} the content is complete; L{problem} then
    says whether it must be refused (C{"size"} or C{"line"}).
    """

    maxSize: int
    chunks: list[bytes] = field(factory=list)
    size: int = 0
    problem: str | None = None
    bareEndings: int = 0
    _skippingLongLine: bool = False

    def feed(self, buffer: bytearray) -> bool:
        """Consume complete lines from C{buffer}; return C{True} at the final dot."""
        while True:
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > MAX_TEXT_LINE + 2:
                    # A line already too long: count it, drop it, keep at
                    # most the last byte in case it is the CR of a CRLF.
                    self._note("line")
                    self.size += len(buffer) - 1
                    del buffer[:-1]
                    self._skippingLongLine = True
                return False
            line = bytes(buffer[:end])
            del buffer[: end + 2]
            if self._skippingLongLine:
                self._skippingLongLine = False
                self.size += len(line) + 2
                continue
            if line == b".":
                return True
            if line.startswith(b"."):
                line = line[1:]
            self._append(line)

    def _note(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem

    def _append(self, line: bytes) -> None:
        pieces = _BARE.split(line) if b"\r" in line or b"\n" in line else [line]
        self.bareEndings += len(pieces) - 1
        for piece in pieces:
            if len(piece) > MAX_TEXT_LINE:
                self._note("line")
            self.size += len(piece) + 2
            if self.size > self.maxSize:
                self._note("size")
            if self.problem is None:
                self.chunks.append(piece)

    def content(self) -> bytes:
        if not self.chunks:
            return b""
        return b"\r\n".join(self.chunks) + b"\r\n"
