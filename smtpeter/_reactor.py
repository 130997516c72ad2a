"""
The worker processes' reactor: Twisted's epoll reactor, except that what
threads hand back (C{callFromThread}) runs after each event it handles,
not only once per turn.

Twisted runs thread calls at the start of a turn, before its timers; a
turn then handles every connection that is ready. At full load a worker's
turn handles a dozen connections and lasts 2-3 ms, so a message whose
spool write had just finished waited for the rest of that turn and for
the next one's timers before its C{250}: 4-5 ms at the median, more than
the write itself. Handled after the event at hand, the wait is that
event's (0.6 ms at the median).

And a thread's call wakes the reactor (a write to its waker pipe, then a
read and one more event for the reactor) only when the reactor waits in
C{epoll_wait}. Busy, it finds the call itself, after its current event or
before it next polls. At one message per connection, that took the
C{write} calls of a worker from 5.9 to 1.4 per connection (strace).
"""

from __future__ import annotations

from twisted.internet.epollreactor import EPollReactor
from twisted.logger import Logger

log = Logger()


class PromptEPollReactor(EPollReactor):
    """
    An epoll reactor that runs thread calls between the events of a turn,
    and is woken for them only while it waits.
    """

    #: Waiting in epoll_wait (or about to): only then must a thread wake it.
    _polling = False

    def doPoll(self, timeout):
        # Set before the queue is looked at, as a thread appends to the
        # queue before it looks at this (callFromThread): under the GIL one
        # of the two sees the other's, so no call waits for a timeout.
        self._polling = True
        if self.threadCallQueue:
            timeout = 0
        try:
            super().doPoll(timeout)
        finally:
            self._polling = False

    doIteration = doPoll

    def wakeUp(self) -> None:
        if self._polling:
            super().wakeUp()

    def _doReadOrWrite(self, selectable, fd, event) -> None:
        self._polling = False  # busy with the events poll returned
        super()._doReadOrWrite(selectable, fd, event)
        if self.threadCallQueue:
            self._runThreadCalls()

    def _runThreadCalls(self) -> None:
        """Those queued so far, as the start of a turn would run them; later ones wait."""
        calls = self.threadCallQueue
        count = len(calls)
        for f, args, kwargs in calls[:count]:
            try:
                f(*args, **kwargs)
            except BaseException:
                log.failure("a call from a thread failed")
        del calls[:count]


def install() -> None:
    """Make it the reactor of this process (before anything imports another)."""
    from twisted.internet.main import installReactor

    installReactor(PromptEPollReactor())
