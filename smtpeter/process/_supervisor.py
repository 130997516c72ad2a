"""
The parent of a gateway with several worker processes (C{--workers N}).

It opens every listening socket once (in C{privilegedStartService}, so a
port below 1024 is bound before twistd drops privileges), prepares what the
workers share in the data directory, then starts N workers, each a complete
gateway that adopts the sockets: the kernel spreads connections over them.
The parent accepts nothing itself. It relays each worker's log events into
its own log (when that log is text on standard output, the workers write
their informational lines there themselves: L{smtpeter.process._worklog}),
restarts a worker that dies (the new one resumes that worker's spool),
stops them all on SIGTERM/SIGINT, and exits with status 1 and one line
when workers cannot start.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from attrs import define, field
from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorCore, IReactorProcess, IReactorTime
from twisted.internet.protocol import Factory, ProcessProtocol
from twisted.logger import Logger, globalLogPublisher

from ..config import LISTENERS, Config
from ..runtime import withBacklog
from ._balance import ABSENT, LoadBoard
from ._datadir import sayNotStarted
from ._holding import NodeHolder
from ._listeners import cannotListen
from ._twistd import TwistdRun
from ._worklog import decodeLine, workerSystem

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall
    from twisted.internet.tcp import Port
    from twisted.python.failure import Failure

log = Logger()

#: The longest line kept from a worker while waiting for its end.
MAX_LINE = 1024 * 1024
#: A worker that dies sooner than this after its start is restarted only after a delay.
QUICK_DEATH = timedelta(seconds=10)
RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
#: The load board's descriptor in a worker (L{smtpeter.process._balance}).
BOARD_FD = 3
#: A worker's descriptor of the parent's standard output, if it writes its lines there;
#: the listeners follow it.
TEXT_FD = 4


@define
class Listener:
    """A listening socket the parent opened, to be handed to every worker."""

    kind: str  # one of LISTENERS
    description: str
    #: Listening, but not reading (a UNIX socket's Port is a TCP Port too).
    port: Port
    family: int

    @property
    def fd(self) -> int:
        return self.port.fileno()

    def argument(self, childFD: int) -> list[str | int]:
        """How a worker is told about this socket (see L{smtpeter.process._worker})."""
        return [self.kind, self.description, childFD, int(self.family)]


def _family(port: Port) -> int:
    try:
        return port.socket.family
    except AttributeError:
        return socket.AF_UNIX


@define(eq=False)
class WorkerProcess(ProcessProtocol):
    """One worker: its process, its log stream, and what happened to it."""

    supervisor: Supervisor
    index: int
    started: float = 0.0
    ready: bool = False
    lastError: str = ""
    _partial: dict[int, bytes] = field(factory=dict)

    def connectionMade(self) -> None:
        assert self.transport is not None  # made before it is called
        log.info("worker {worker} started (pid {pid})", worker=self.index, pid=self.transport.pid)

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        lines = (self._partial.get(childFD, b"") + data).split(b"\n")
        partial = lines.pop()
        if len(partial) > MAX_LINE:
            lines.append(partial)  # no line end in sight: take it as it is
            partial = b""
        self._partial[childFD] = partial
        for line in lines:
            if childFD == 1:
                self._relay(line)
            elif line.strip():
                self.lastError = line.decode("utf-8", "replace")[:500]
                log.error("worker {worker}: {line}", worker=self.index, line=self.lastError)

    def _relay(self, line: bytes) -> None:
        text = line.strip(b"\x1e \r").decode("utf-8", "replace")
        if not text:
            return
        try:
            event = decodeLine(text)
        except ValueError:
            log.info("worker {worker}: {line}", worker=self.index, line=text[:500])
            return
        event["worker"] = self.index
        event["log_system"] = workerSystem(f"worker {self.index}", event)
        if event.get("smtpeter_ready"):
            self.ready = True
            self.supervisor.workerReady(self)
        if event.get("log_level") is not None and event["log_level"].name == "critical":
            self.lastError = str(event.get("why") or event.get("log_format") or "")[:500]
        globalLogPublisher(event)

    def processEnded(self, reason: Failure) -> None:
        self.supervisor.workerEnded(self, reason.value)


@define(eq=False)
class Supervisor(NodeHolder, Service):
    config: Config
    arguments: list[str]
    #: Twisted's reactor: its clock, processes and core (L{reactor}); as one
    #: interface it is only make-believe, so the others are views of it.
    reactor: IReactorTime
    listeners: list[Listener] = field(factory=list)
    #: Whether the workers write their informational log lines to the parent's
    #: standard output themselves: only where twistd writes its log there as text.
    textOutput: bool = False
    #: How many connections each worker has open (L{smtpeter.process._balance}).
    board: LoadBoard | None = None
    workers: dict[int, WorkerProcess] = field(factory=dict)
    _restarts: dict[int, int] = field(factory=dict)
    _stopping: Deferred[None] | None = None
    _killing: IDelayedCall | None = None  # the call that kills workers slow to stop
    _failed: bool = False
    _announced: bool = False
    #: The twistd run, told if the gateway refuses to start.
    twistd: TwistdRun = field(factory=lambda: TwistdRun(None))
    # The data directory's lock and the node's name (L{NodeHolder}) are held
    # while the gateway runs, the lock by its workers too: they inherit it.

    @property
    def _core(self) -> IReactorCore:
        return cast(IReactorCore, self.reactor)

    @property
    def _processes(self) -> IReactorProcess:
        return cast(IReactorProcess, self.reactor)

    # Starting ---------------------------------------------------------------

    def privilegedStartService(self) -> None:
        self.startOrRefuse(self._holdAndListen)
        super().privilegedStartService()

    def _holdAndListen(self) -> None:
        self.holdNode(self.config)
        for kind in LISTENERS:
            for description in getattr(self.config, kind):
                self.listeners.append(self._open(kind, description))

    def _open(self, kind: str, description: str) -> Listener:
        found: list[Any] = []  # the port, or the Failure of listening
        # A throwaway factory: the parent stops reading at once and never
        # accepts; the workers do.
        factory = Factory()
        factory.noisy = False
        endpoint = serverFromString(self.reactor, withBacklog(description))
        endpoint.listen(factory).addBoth(found.append)
        [port] = found
        if not hasattr(port, "fileno"):
            try:
                port.raiseException()
            except (OSError, CannotListenError) as e:
                raise cannotListen(f"--{kind}", description, e) from None
        port.stopReading()
        # The workers serve this socket: when the parent closes its copy (at
        # stop, before it signals them), no shutdown(): that would end it for
        # every process, and a worker's next accept() would fail with EINVAL.
        # Twisted's own adoptStreamPort leaves a shared socket open the same way.
        port._shouldShutdown = False
        return Listener(kind, description, port, _family(port))

    def startService(self) -> None:
        if not self.listeners:
            self.privilegedStartService()
        super().startService()
        self.board = LoadBoard.create(self.config.workers)
        self._core.addSystemEventTrigger("after", "shutdown", self._exitIfFailed)
        for index in range(1, self.config.workers + 1):
            self._spawn(index)

    def _spawn(self, index: int) -> None:
        process = WorkerProcess(self, index, started=self.reactor.seconds())
        self.workers[index] = process
        # The parent's board (with its descriptor), made in startService before any worker.
        assert self.board is not None and self.board.fd is not None
        childFDs: dict[int, int | str] = {0: "w", 1: "r", 2: "r", BOARD_FD: self.board.fd}
        if self.textOutput:
            assert sys.__stdout__ is not None  # twistd's; None only without a console
            childFDs[TEXT_FD] = sys.__stdout__.fileno()
        sockets = []
        for number, listener in enumerate(self.listeners, start=TEXT_FD + 1):
            childFDs[number] = listener.fd
            sockets.append(listener.argument(number))
        if self.dataLock is not None:
            # The same lock, held by the worker too (it only keeps the
            # descriptor open): until the last worker of this gateway is
            # gone, however the parent ended, no other gateway starts here.
            childFDs[TEXT_FD + 1 + len(self.listeners)] = self.dataLock.fileno()
        arguments = [
            sys.executable,
            "-m",
            "smtpeter.process._worker",
            str(index),
            str(self.config.workers),
            str(os.getpid()),
            str(BOARD_FD),
            str(TEXT_FD) if self.textOutput else "-",
            json.dumps(sockets),
            *self.arguments,
        ]
        self._processes.spawnProcess(
            process, sys.executable, arguments, env=os.environ, childFDs=childFDs
        )

    # Watching ----------------------------------------------------------------

    def workerReady(self, process: WorkerProcess) -> None:
        self._restarts[process.index] = 0
        if not self._announced and all(w.ready for w in self.workers.values()):
            self._announced = True
            log.info(
                "smtpeter {hostname} ready: {n} worker processes on STARTTLS {smtp},"
                " implicit TLS {smtps}, web {http}, dashboard {dashboard}, bounces {mx}",
                hostname=self.config.hostname,
                n=len(self.workers),
                smtp=", ".join(self.config.smtp) or "-",
                smtps=", ".join(self.config.smtps) or "-",
                http=", ".join(self.config.http) or "-",
                dashboard=", ".join(self.config.dashboard) or "-",
                mx=", ".join(self.config.mx) or "-",
            )

    def workerEnded(self, process: WorkerProcess, status: BaseException | None) -> None:
        if self.workers.get(process.index) is process:
            assert self.board is not None  # made before the worker was
            del self.workers[process.index]
            # Its count stays where it was: the others must not wait for it.
            self.board.publish(process.index, ABSENT)
        code = getattr(status, "exitCode", None)
        signal = getattr(status, "signal", None)
        how = f"was killed by signal {signal}" if signal else f"exited with status {code}"
        if self._stopping is not None:
            log.info("worker {worker} {how}", worker=process.index, how=how)
            if not self.workers:
                if self._killing is not None and self._killing.active():
                    self._killing.cancel()
                self.releaseNode()
                self._stopping.callback(None)
            return
        if not process.ready and not self._announced:
            # It never got as far as serving: the next one would fail the same way.
            self._fail(process, how)
            return
        lived = self.reactor.seconds() - process.started
        quick = lived < QUICK_DEATH.total_seconds()
        restarts = self._restarts.get(process.index, 0) + 1 if quick else 0
        self._restarts[process.index] = restarts
        delay = RESTART_DELAYS[min(restarts, len(RESTART_DELAYS) - 1)] if quick else 0.0
        log.warn(
            "worker {worker} {how} after {lived:.1f} s; restarting it in {delay} s",
            worker=process.index,
            how=how,
            lived=lived,
            delay=delay,
        )
        self.reactor.callLater(delay, self._respawn, process.index)

    def _respawn(self, index: int) -> None:
        if self._stopping is None and index not in self.workers:
            self._spawn(index)

    def _fail(self, process: WorkerProcess, how: str) -> None:
        sayNotStarted(process.lastError or f"worker {process.index} {how} before it was ready")
        self._failed = True
        self._core.stop()

    def _exitIfFailed(self) -> None:
        if self._failed:
            # twistd has no way to exit non-zero once the reactor ran (nor
            # to remove its pid file then).
            self.twistd.forgetPidfile()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)

    # Stopping ------------------------------------------------------------------

    def stopService(self) -> Deferred[None]:
        super().stopService()
        for listener in self.listeners:
            listener.port.stopListening()
        if not self.workers:
            self.releaseNode()
            return succeed(None)
        self._stopping = Deferred()
        self._signal("TERM")
        self._killing = self.reactor.callLater(
            self.config.stopTimeout.total_seconds(), self._killStragglers
        )
        return self._stopping

    def _killStragglers(self) -> None:
        """Workers hung, or still delivering after C{--stop-timeout}: their queues are on disk."""
        for process in self.workers.values():
            log.warn(
                "worker {worker} did not stop within {timeout:g} s; killing it"
                " (its queue is kept for the next start)",
                worker=process.index,
                timeout=self.config.stopTimeout.total_seconds(),
            )
        self._signal("KILL")

    def _signal(self, name: str) -> None:
        for process in list(self.workers.values()):
            try:
                if process.transport is not None:
                    process.transport.signalProcess(name)
            except Exception:
                pass  # it has just ended
