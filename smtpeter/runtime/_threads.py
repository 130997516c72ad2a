"""
Blocking work off the reactor, for the calls a message makes several times
(a spool's content, database reads, AUTH's throttle): threads that take
work from a plain queue and answer with C{callFromThread}. A hop through Twisted's C{ThreadPool}
(its team, workers and context tracking) costs the reactor several times
as much, and AUTH alone used to make two.

Each C{callFromThread} writes to the reactor's waker pipe (in a worker,
only while its reactor waits: L{smtpeter.runtime._reactor}): a system call, and in
the answering thread one more hand-over of the GIL, which a busy reactor
makes slow. Results that finish while earlier ones still wait for
the reactor join them instead, and one call delivers them all.

Work that nothing waits for and that may wait a little (removing a
delivered message's files) need not wake a thread at all: it can ride
along with the next work the threads are given (L{Workers.postLater}).

Writes that are committed in groups go to a L{BatchWriter
<smtpeter.runtime._batchwriter.BatchWriter>} instead.

The database's threads run as batch work for the kernel's scheduler
(L{background}).
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

_STOP = object()
log = Logger()

#: Work posted with L{Workers.postLater} waits at most this long for a thread.
LATER = 0.1


def background() -> None:
    """
    Mark the calling thread as batch work (Linux's C{SCHED_BATCH}): when
    its system call returns, it does not preempt the reactor thread of its
    process (whose GIL it would only wait for) nor another process's; it
    runs on an idle CPU or when the running thread's time slice ends. That
    saves CPU, and costs latency when every CPU is busy: for threads that
    nothing answers a client on (the database's), not for the spool's,
    which every C{250} waits for. Marking the spool threads too cut the
    gateway's CPU per one-message connection by 5-14%, and raised the
    median from the final dot to the C{250} by 2-4 ms under full load.
    Any user may do this; where the system has no such policy, nothing
    changes.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):
        pass


class Workers:
    """
    C{count} threads named C{name}. Each calls C{setup()} once, when it
    starts, and passes what it returns (a database connection, say) as the
    first argument of every function it runs. With C{batch}, they are
    L{background} threads.
    """

    def __init__(
        self,
        reactor,
        count: int,
        name: str,
        setup: Callable[[], object] | None = None,
        batch: bool = False,
    ):
        self.reactor = reactor
        self.batch = batch
        self.count = count
        self.name = name
        self.setup = setup or (lambda: None)
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        #: Results waiting for the reactor: (Deferred, succeeded, result or Failure).
        self._done: deque = deque()
        self._doneLock = threading.Lock()
        #: Work posted for later, and the call that hands it to the threads if none came.
        self._later: deque = deque()
        self._sweep = None

    def start(self) -> None:
        for n in range(self.count):
            thread = threading.Thread(target=self._loop, name=f"{self.name}-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Finish what is queued (and posted for later), then end the threads."""
        if self._sweep is not None and self._sweep.active():
            self._sweep.cancel()
        self._sweep = None
        for _ in self._threads:
            self._work.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._threads = []

    def run(self, f: Callable, *args) -> Deferred:
        """C{f(state, *args)} in one of the threads. @return: a Deferred of its result."""
        d: Deferred[object] = Deferred()
        self._work.put((f, args, d))
        return d

    def post(self, f: Callable, *args) -> None:
        """
        C{f(state, *args)} in one of the threads, for work nothing waits
        on: no hand-over back to the reactor unless it fails, which is
        logged there. L{stop} still waits for it.
        """
        self._work.put((f, args, None))

    def postLater(self, f: Callable, *args) -> None:
        """
        L{post}, without waking a thread for it: the thread that finishes
        the next work runs it, or, if none comes, one is given it after
        L{LATER} seconds. Under load it costs no thread switch. Call it in
        the reactor thread.
        """
        self._later.append((f, args, None))
        if self._sweep is None:
            self._sweep = self.reactor.callLater(LATER, self._sweepLater)

    def _sweepLater(self) -> None:
        """In the reactor: hand the threads what was posted for later and is still waiting."""
        self._sweep = None
        while True:
            try:
                self._work.put(self._later.popleft())
            except IndexError:
                return

    def _loop(self) -> None:
        if self.batch:
            background()
        state = self.setup()
        while True:
            item = self._work.get()
            if item is not _STOP:
                self._do(state, item)
            while True:  # what was posted for later rides along
                try:
                    later = self._later.popleft()
                except IndexError:
                    break
                self._do(state, later)
            if item is _STOP:
                return

    def _do(self, state, item) -> None:
        f, args, d = item
        try:
            result = f(state, *args)
        except BaseException:
            failure = Failure()
            if d is None:
                self.reactor.callFromThread(
                    log.failure,
                    "{name}: {what} failed",
                    failure,
                    name=self.name,
                    what=getattr(f, "__qualname__", f),
                )
            else:
                self._finish(d, False, failure)
        else:
            if d is not None:
                self._finish(d, True, result)

    def _finish(self, d: Deferred, succeeded: bool, result) -> None:
        with self._doneLock:
            self._done.append((d, succeeded, result))
            first = len(self._done) == 1
        if first:  # else a delivery is already on its way to the reactor
            self.reactor.callFromThread(self._deliver)

    def _deliver(self) -> None:
        """In the reactor: fire the Deferreds of every result that has finished."""
        with self._doneLock:
            done, self._done = self._done, deque()
        for d, succeeded, result in done:
            try:
                if succeeded:
                    d.callback(result)
                else:
                    d.errback(result)
            except Exception:
                # A Deferred fired twice, say: the others still get theirs.
                log.failure("delivering a result from {name}", name=self.name)
