"""
One writer thread that commits in groups (a group commit): it takes
everything given to it since its last commit and commits it in one
transaction, so that with C{synchronous=FULL} one sync makes the lot
durable. Both the shared database (L{smtpeter.store}) and each worker's
spool (L{smtpeter.queue}) write through one of these; what a commit does
is theirs (the C{commit} function), how writes are gathered is this.

Idle, the thread commits a write at once. Busy (it committed less than
C{gather} seconds ago), it waits that long for company before committing
a write someone waits for, and up to C{linger} seconds when nobody waits
for any of what it holds (L{BatchWriter.post}, or C{write(...,
awaited=False)}); a write someone waits for ends the lingering at once.
Everything given while a commit is under way goes into the next, so under
load a commit carries many writes without a sync of their own.

The reactor thread only appends to a queue (and sets an event once per
commit): the thread takes what waits itself, and hands the answers of a
whole commit back in one C{callFromThread}.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._threads import LATER, background

log = Logger()

_STOP = object()


class _Call:
    """Work for the writer's thread that is not a write (L{BatchWriter.run})."""

    __slots__ = ("f", "args", "d")

    def __init__(self, f: Callable[..., Any], args: tuple, d: Deferred) -> None:
        self.f, self.args, self.d = f, args, d


class BatchWriter:
    """
    A thread named C{name} that calls C{setup()} once, when it starts (a
    connection, say), then C{commit(state, items)} for each group of items
    written: C{commit} returns one result per item, in order; a result
    that is a L{Failure} or an exception fails that item's write (so one
    bad item need fail only itself), and if C{commit} raises, every item
    of the group fails with it. C{dropped(item, failure)} is told, in the
    reactor thread, of every L{post}ed item that failed (by default it is
    logged). With C{batch}, the thread is L{background} work.

    Call L{write}, L{post} and L{run} in the reactor thread; L{stop}
    commits what was given before it, then ends the thread.
    """

    def __init__(
        self,
        reactor: Any,
        name: str,
        setup: Callable[[], Any],
        commit: Callable[[Any, list], list],
        gather: float = 0.0,
        linger: float = LATER,
        batch: bool = False,
        dropped: Callable[[Any, Failure], None] | None = None,
    ) -> None:
        self.reactor = reactor
        self.name = name
        self.setup = setup
        self.commit = commit
        #: Seconds between two commits at least, when someone waits for a write.
        self.gather = gather
        #: ... and at most, when nobody waits for any write the thread holds.
        self.linger = linger
        self.batch = batch
        self.dropped = dropped or self._logDropped
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        #: Set when a write that someone waits for is given: the thread stops lingering.
        self._awaited = threading.Event()
        #: Writes given and not answered yet (kept by the reactor thread).
        self.unanswered = 0
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Commit everything given so far, then end the thread (its answers follow)."""
        if self.thread is not None:
            self._queue.put(_STOP)
            self._awaited.set()
            self.thread.join()
            self.thread = None

    def write(self, item: Any, awaited: bool = True) -> Deferred:
        """
        Commit C{item} in the next commit. @return: a Deferred that fires
        with its result once it is committed. Without C{awaited} (nothing is
        held up until it is committed), a busy writer lets it wait up to
        C{linger} for company.
        """
        d: Deferred = Deferred()
        self.unanswered += 1
        self._queue.put((item, d))
        if awaited and not self._awaited.is_set():
            self._awaited.set()
        return d

    def post(self, item: Any) -> None:
        """
        Commit C{item} when convenient (within C{linger}), for writes whose
        outcome nobody waits for: no Deferred; a failure goes to C{dropped}.
        """
        self._queue.put((item, None))

    def run(self, f: Callable[..., Any], *args: Any) -> Deferred:
        """
        C{f(state, *args)} in the writer's thread, outside any transaction,
        once every write given before it is committed (a read that must see
        them, or maintenance that must not overlap a commit).
        @return: a Deferred of its result.
        """
        d: Deferred = Deferred()
        self._queue.put(_Call(f, args, d))
        if not self._awaited.is_set():
            self._awaited.set()
        return d

    # The thread ----------------------------------------------------------------------

    def _loop(self) -> None:
        if self.batch:
            background()
        state = self.setup()
        committed = -max(self.linger, self.gather)
        stopping = False
        while not stopping:
            taken = [self._queue.get()]
            # Busy: wait for company. Only a write someone waits for ends the
            # lingering early; the others are not worth a thread switch each.
            linger = committed + self.linger - time.monotonic()
            if linger > 0 and not self._awaited.is_set():
                self._awaited.wait(linger)
            wait = committed + self.gather - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            # Before taking what is queued: a write someone waits for given
            # after this is either taken now or sets the event for the next round.
            self._awaited.clear()
            while True:
                try:
                    taken.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            group: list = []
            for entry in taken:
                if entry is _STOP:
                    stopping = True
                elif isinstance(entry, _Call):
                    self._commit(state, group)
                    group = []
                    self._call(state, entry)
                else:
                    group.append(entry)
            self._commit(state, group)
            committed = time.monotonic()

    def _commit(self, state: Any, group: list) -> None:
        if not group:
            return
        try:
            results = self.commit(state, [item for item, _ in group])
        except BaseException:
            results = [Failure()] * len(group)
        self.reactor.callFromThread(self._answer, group, results)

    def _call(self, state: Any, call: _Call) -> None:
        try:
            result = call.f(state, *call.args)
        except BaseException:
            self.reactor.callFromThread(call.d.errback, Failure())
        else:
            self.reactor.callFromThread(call.d.callback, result)

    # The reactor ---------------------------------------------------------------------

    def _answer(self, group: list, results: list) -> None:
        for (item, d), result in zip(group, results, strict=True):
            failed = isinstance(result, (Failure, BaseException))
            if failed and not isinstance(result, Failure):
                result = Failure(result)
            if d is None:
                if failed:
                    self.dropped(item, result)
                continue
            self.unanswered -= 1
            try:
                if failed:
                    d.errback(result)
                else:
                    d.callback(result)
            except Exception:
                log.failure("answering a write of {name}", name=self.name)

    def _logDropped(self, item: Any, failure: Failure) -> None:
        log.failure("{name}: a write nobody waited for failed", failure, name=self.name)
