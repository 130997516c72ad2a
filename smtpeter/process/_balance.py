"""
Connections spread by load over the workers that share a listening socket.

The kernel gives a new connection on a shared socket to whichever worker
calls C{accept()} first, and a busy worker, back in C{epoll_wait} between
two of its sessions' reads, wins about as often as an idle one. A worker
keeps the sessions it took: with 20 clients, each making two connections
of 50 messages, one of two workers often held about twice as many
sessions as the other, its CPU flat out while the other's idled half the
time.

So each worker publishes how many connections it has open on a
L{LoadBoard}, a few bytes of memory every worker maps, and a worker ahead
of the least busy other worker (by C{SLACK} connections, or by an
C{1/SHARE} of its count once that is larger) leaves the next connection to
the others (L{Balance.holdBack}). It holds back for at most C{HOLD_LIMIT}
per connection, then accepts anyway: a worker that is stopped or wedged
looks idle but takes nothing, and the others must not wait on it for
longer than that.

Among many connections a difference of two is noise, and holding back for
it cost more than it evened out: with 100 clients making one-message
connections, each worker with about 45 open, a worker held back for 941
of 4,513 connections, and as it sees its timer only once its turn of the
reactor is over (10-30 ms under load), the connections waited in the
listen queue 9-27 ms on average instead of 4-6. Ahead by an eighth
(6 at 48), 455 holds and 5.3 ms. With 20 clients (about 10 connections
each) the threshold is still C{SLACK}.
"""

from __future__ import annotations

import mmap
import os
import struct
import tempfile

from attrs import define, field
from twisted.internet.interfaces import IReactorTime

#: The count of a worker that is not serving (not started yet, or gone): never waited for.
ABSENT = 2**31 - 1
#: Hold back while this many connections or more ahead of the least busy other worker...
SLACK = 2
#: ... or, if more, while ahead by this fraction (1/SHARE) of its connections.
SHARE = 8
#: The longest a worker holds back one connection for the others to take it.
HOLD_LIMIT = 0.005
#: How often a worker holding back looks again.
RECHECK = 0.001

_SLOT = struct.Struct("<i")


@define(eq=False)
class LoadBoard:
    """
    One signed 32-bit count per worker (worker N in slot N - 1), in shared
    memory: a memfd (or an unlinked temporary file elsewhere) that the
    parent creates and hands to each worker as a file descriptor.
    """

    memory: mmap.mmap
    workers: int
    #: The descriptor to pass on (the parent's); None in a worker, which has mapped it.
    fd: int | None = None

    @classmethod
    def create(cls, workers: int) -> LoadBoard:
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("smtpeter-load")
        else:
            fd = os.dup(tempfile.TemporaryFile().fileno())
        os.ftruncate(fd, _SLOT.size * workers)
        board = cls(mmap.mmap(fd, _SLOT.size * workers), workers, fd)
        for index in range(1, workers + 1):
            board.publish(index, ABSENT)
        return board

    @classmethod
    def attach(cls, fd: int, workers: int) -> LoadBoard:
        """In a worker: map the board passed as C{fd} (which is then closed)."""
        try:
            return cls(mmap.mmap(fd, _SLOT.size * workers), workers)
        finally:
            os.close(fd)

    def publish(self, index: int, count: int) -> None:
        _SLOT.pack_into(self.memory, _SLOT.size * (index - 1), count)

    def count(self, index: int) -> int:
        return _SLOT.unpack_from(self.memory, _SLOT.size * (index - 1))[0]

    def leastOfOthers(self, index: int) -> int:
        """The fewest connections any worker but C{index} has (L{ABSENT} if none serves)."""
        counts = struct.unpack_from(f"<{self.workers}i", self.memory)
        return min((c for i, c in enumerate(counts, start=1) if i != index), default=ABSENT)

    def close(self) -> None:
        self.memory.close()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@define(eq=False)
class Balance:
    """One worker's side of the board: its open connections, and when to hold back."""

    board: LoadBoard
    index: int
    clock: IReactorTime
    connections: int = 0
    _serving: bool = field(default=False, init=False)
    _holdingSince: float | None = field(default=None, init=False)

    def serving(self) -> None:
        """The worker's ports listen: the others may now leave connections to it."""
        self._serving = True
        self._publish()

    def absent(self) -> None:
        """
        The worker's ports are closed (it is stopping): no one waits for it
        any more, however many sessions it still has to finish.
        """
        self._serving = False
        self.board.publish(self.index, ABSENT)

    def opened(self) -> None:
        self.connections += 1
        self._publish()

    def closed(self) -> None:
        self.connections -= 1
        self._publish()

    def _publish(self) -> None:
        if self._serving:
            self.board.publish(self.index, self.connections)

    def ahead(self) -> bool:
        """Is this worker far enough ahead of the least busy other to leave them connections?"""
        least = self.board.leastOfOthers(self.index)
        return self.connections >= least + max(SLACK, least // SHARE)

    def holdBack(self) -> bool:
        """Should the next waiting connection be left to a less busy worker?"""
        if not self.ahead():
            self._holdingSince = None
            return False
        now = self.clock.seconds()
        if self._holdingSince is None:
            self._holdingSince = now
            return True
        if now - self._holdingSince < HOLD_LIMIT:
            return True
        self._holdingSince = None  # no one else took it: accept it here
        return False

    def taken(self) -> None:
        """Another worker took the connection held back: the next one gets a hold of its own."""
        self._holdingSince = None
