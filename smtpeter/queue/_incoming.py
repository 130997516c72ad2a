"""
A message's content while DATA arrives: held in memory up to a threshold,
then, once its header is complete, its body streams into a file in the
spool's C{incoming/} directory as it comes. Memory stays bounded by the
threshold plus the header, whatever the size of the message or its lines.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from attrs import frozen

#: Bodies larger than this are written to disk as they arrive.
IN_MEMORY = 1024 * 1024


@frozen
class Spilled:
    """
    Content whose body is in a file: C{head} (the header as it is to be
    stored) is followed by the C{length} bytes of the file at C{path}
    (the empty line that ends the header, then the body).
    """

    head: bytes
    path: Path
    length: int

    def __len__(self) -> int:
        return len(self.head) + self.length

    def read(self) -> bytes:
        """The whole content, in memory (for stores that keep it there, such as tests')."""
        return self.head + self.path.read_bytes()


class IncomingContent:
    """
    The decoded content of one DATA phase, written in pieces with
    L{write}. L{header} is its header section (up to the empty line);
    L{finish} gives what is to be stored, with the header replaced. Without
    C{spill} everything stays in memory (the bounce listener, tests).
    """

    def __init__(
        self, spill: Callable[[], tuple[Path, BinaryIO]] | None = None, threshold=IN_MEMORY
    ) -> None:
        self._spill = spill
        self._threshold = threshold
        self._memory = bytearray()
        self._headerEnd: int | None = None
        self._searched = 0
        self._path: Path | None = None
        self._file: BinaryIO | None = None
        self._filed = 0

    def write(self, data: bytes) -> None:
        if self._file is not None:
            self._file.write(data)
            self._filed += len(data)
            return
        self._memory += data
        if self._headerEnd is None:
            end = self._memory.find(b"\r\n\r\n", self._searched)
            if end < 0:
                self._searched = max(0, len(self._memory) - 3)
            else:
                self._headerEnd = end + 2
        if (
            self._spill is not None
            and self._headerEnd is not None
            and len(self._memory) > self._threshold
        ):
            # The header stays in memory (bounded by --max-size); the body
            # from its empty line on goes to disk from now on.
            self._path, self._file = self._spill()
            self._file.write(self._memory[self._headerEnd :])
            self._filed = len(self._memory) - self._headerEnd
            del self._memory[self._headerEnd :]

    @property
    def header(self) -> bytes:
        """The header fields received (all of the content if it has no empty line)."""
        return bytes(self._memory[: self._headerEnd])

    def finish(self, header: bytes) -> bytes | Spilled:
        """The content to store: C{header} in place of the one received, then the body."""
        body = self._memory[self._headerEnd :] if self._headerEnd is not None else b""
        if self._file is None:
            return header + body
        self._file.close()
        self._file = None
        assert self._path is not None  # set with _file, by the same spill
        return Spilled(header, self._path, self._filed)

    def discard(self) -> None:
        """Forget the content (refused, or the client went away): remove its file at once."""
        self._memory = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._path is not None:
            try:
                os.unlink(self._path)
            except FileNotFoundError:
                pass
            self._path = None
