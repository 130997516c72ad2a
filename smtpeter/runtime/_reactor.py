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

Each event is handled without Twisted's per-event log context (the
C{system} that legacy C{log.msg} calls would take from it), which cost a
copy of the context and four calls for each of a connection's dozen
events. Nothing here logs through the legacy API; a failure that reaches
the reactor is logged with the connection's prefix all the same.
"""

from __future__ import annotations

import sys

from twisted.internet.epollreactor import EPollReactor
from twisted.internet.error import ReactorNotRunning
from twisted.internet.main import CONNECTION_DONE, CONNECTION_LOST
from twisted.internet.posixbase import _NO_FILEDESC
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
            # Python retries a poll that a signal interrupted (PEP 475).
            events = self._poller.poll(-1 if timeout is None else timeout, len(self._selectables))
        finally:
            self._polling = False
        selectables = self._selectables
        for fd, event in events:
            selectable = selectables.get(fd)
            if selectable is not None:
                self._doReadOrWrite(selectable, fd, event)

    doIteration = doPoll

    def wakeUp(self) -> None:
        if self._polling:
            super().wakeUp()

    def _doReadOrWrite(self, selectable, fd, event) -> None:
        """Twisted's, with failures logged here (see the module's text), then thread calls."""
        why: BaseException | None = None
        inRead = False
        if event & self._POLL_DISCONNECTED and not event & self._POLL_IN:
            # Only once all input is read; a clean close if we were reading.
            inRead = fd in self._reads
            why = CONNECTION_DONE if inRead else CONNECTION_LOST
        else:
            try:
                if selectable.fileno() == -1:
                    why = _NO_FILEDESC
                else:
                    if event & self._POLL_IN:
                        why = selectable.doRead()
                        inRead = True
                    if not why and event & self._POLL_OUT:
                        why = selectable.doWrite()
                        inRead = False
            except BaseException:
                why = sys.exc_info()[1]
                self._failed(selectable, "handling an event")
        if why:
            try:
                self._disconnectSelectable(selectable, why, inRead)
            except BaseException:
                self._failed(selectable, "disconnecting")
        if self.threadCallQueue:
            self._runThreadCalls()

    def _failed(self, selectable, doing: str) -> None:
        """Log the failure being handled, naming the connection as Twisted's log context did."""
        try:
            prefix = selectable.logPrefix()
        except BaseException:
            prefix = "(buggy logPrefix method)"
        log.failure("{prefix}: unexpected error {doing}", prefix=prefix, doing=doing)

    def _runThreadCalls(self) -> None:
        """Those queued so far, as the start of a turn would run them; later ones wait."""
        calls = self.threadCallQueue
        count = len(calls)
        for f, args, kwargs in calls[:count]:
            try:
                f(*args, **kwargs)
            except ReactorNotRunning:
                # A second SIGTERM or SIGINT while stopping (a terminal's ^C
                # reaches the workers and their supervisor, which passes it
                # on): the first already stops the reactor.
                if f != self.stop:
                    log.failure("a call from a thread failed")
            except BaseException:
                log.failure("a call from a thread failed")
        del calls[:count]


def install() -> None:
    """Make it the reactor of this process (before anything imports another)."""
    from twisted.internet.main import installReactor

    installReactor(PromptEPollReactor())


def installUnlessChosen() -> None:
    """
    L{install}, unless a reactor is installed already (C{twistd -r ...}):
    a node's own process runs on the reactor its workers run on, and a
    gateway in one process (C{--workers 1}) handles its connections as a
    worker does. Called before twistd's options are read: reading them
    imports the reactor (to check the endpoints).
    """
    import sys

    if "twisted.internet.reactor" not in sys.modules:
        install()
