"""
One worker process of a gateway run with C{--workers N}, started by
L{smtpeter.process._supervisor} as::

    python -m smtpeter.process._worker INDEX COUNT PARENT-PID BOARD TEXT SOCKETS [options...]

It parses the same options the parent was given, adopts the listening
sockets the parent passed (SOCKETS is a JSON list of C{[kind, description,
fd, family]}), maps the load board whose descriptor is BOARD
(L{smtpeter.process._balance}), and runs a complete gateway. Its log events go to
standard output as JSON lines (L{smtpeter.process._worklog}), which the parent
publishes in its own log; if TEXT is a descriptor (not C{-}), the parent's
own log output, its informational lines are written there as text instead.
It ends when the parent does: standard input closing means the parent is
gone, and the kernel kills it at once if the parent is killed.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys

from twisted.internet.error import ReactorNotRunning
from twisted.internet.interfaces import IReactorCore
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger, globalLogBeginner
from twisted.python.failure import Failure

from ._worklog import WorkerLogWriter

log = Logger()


def dieWithParent(parent: int) -> None:
    """Ask the kernel for SIGKILL when the parent dies (Linux), as a crash of all."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # elsewhere: standard input closing still stops us
    if os.getppid() != parent:
        os._exit(1)  # the parent died before we asked


class ParentLink(Protocol):
    """Standard input from the parent: nothing is ever sent; its end means the parent is gone."""

    def __init__(self, reactor: IReactorCore) -> None:
        self.reactor = reactor

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        try:
            self.reactor.stop()
        except ReactorNotRunning:
            return  # already stopping (the parent's SIGTERM came first)
        log.warn("the parent process went away; stopping")


def main(argv: list[str]) -> int:
    index, count, parent, board, text, sockets, *arguments = argv
    dieWithParent(int(parent))
    from ..runtime import install

    if install is not None:  # None without epoll (not Linux): Twisted's default reactor
        install()
    from twisted.internet import reactor, stdio

    from .. import tap
    from ..runtime import freezeStartup
    from ._balance import LoadBoard
    from ._service import GatewayService, WorkerRole

    writer = WorkerLogWriter(
        os.fdopen(1, "wb"),
        reactor,
        None if text == "-" else os.fdopen(int(text), "wb", buffering=0),
        f"worker {index}",
    )
    globalLogBeginner.beginLoggingTo([writer], redirectStandardIO=False)
    options = tap.Options()
    options.parseOptions(arguments)
    role = WorkerRole(
        int(index),
        {
            (kind, description): (fd, family)
            for kind, description, fd, family in json.loads(sockets)
        },
        LoadBoard.attach(int(board), int(count)),
    )
    service = GatewayService(options.config, reactor, worker=role)
    # (mypy reads stdio's Windows StandardIO, which has no stdin or stdout)
    stdio.StandardIO(  # type: ignore[call-arg]
        ParentLink(reactor), stdin=0, stdout=os.open(os.devnull, os.O_WRONLY)
    )
    failed = []

    def start() -> None:
        try:
            service.privilegedStartService()
            service.startService()
            freezeStartup(reactor)
        except SystemExit:
            failed.append(True)
            reactor.stop()

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger(
        "before", "shutdown", lambda: service.running and service.stopService()
    )
    reactor.run()
    writer.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
