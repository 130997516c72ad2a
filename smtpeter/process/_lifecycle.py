"""
The life of a gateway service, whole or one worker of it
(L{GatewayLifecycle}): its parts open when it is started, and a start
they refuse is one clear line and exit status 1; once running it
announces itself; stopped, it closes its parts in order. What the parts
are, and how they are put together, is L{smtpeter.process._service}'s.
"""

from __future__ import annotations

from typing import NoReturn

from attrs import frozen
from twisted.application.service import IService, MultiService
from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IProtocolFactory
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from ..admin import ThreadedAdministration
from ..config import Config
from ..delivery import DeliveryAgent
from ..queue import SharedSpool, SQLiteSpool
from ..queue.manager import QueueManager
from ..runtime import stopRepeatedErrors
from ..smtp import ServerSettings
from ..store import SQLiteStore
from ._balance import Balance, LoadBoard
from ._holding import NodeHolder
from ._listeners import adoptedListener, ownListener
from ._twistd import TwistdRun

log = Logger()


@frozen
class WorkerRole:
    """What makes a gateway one worker of several (L{smtpeter.process._supervisor})."""

    index: int
    #: The listening sockets the parent opened: (kind, description) -> (fd, family).
    sockets: dict[tuple[str, str], tuple[int, int]]
    #: Where the workers publish how many connections each has open.
    board: LoadBoard | None = None

    @property
    def runsSharedTasks(self) -> bool:
        """Webhook deliveries and the hourly purge run in one worker, the first."""
        return self.index == 1


class GatewayLifecycle(NodeHolder, MultiService):
    """
    A gateway node's service, the whole gateway or one worker of it: its
    start, announcement and stop. L{_open} (a subclass's) opens its parts.
    """

    #: What delivers the queue's mail, made by L{_open}.
    agent: DeliveryAgent

    def __init__(
        self,
        config: Config,
        reactor,
        resolver=None,
        worker: WorkerRole | None = None,
        twistd: TwistdRun | None = None,
    ):
        super().__init__()
        self.config = config
        #: The twistd run, told if the gateway refuses to start.
        self.twistd = twistd if twistd is not None else TwistdRun(None)
        self.reactor = reactor
        self.resolver = resolver
        self.worker = worker
        self.settings: ServerSettings | None = None
        self.queue: QueueManager | None = None
        self.spool: SQLiteSpool | SharedSpool | None = None
        #: The database, and the owner of every connection to it and thread using it.
        self.store: SQLiteStore | None = None
        self.featurePool: ThreadPool | None = None
        #: The resolver of the domain check (and of delivery without --relay).
        self.checkResolver = None
        #: The management API's operations, in a thread of their own.
        self.admin: ThreadedAdministration | None = None
        #: A worker's count of its connections, shared by all its listeners.
        self.balance = (
            Balance(worker.board, worker.index, reactor)
            if worker is not None and worker.board is not None
            else None
        )

    def privilegedStartService(self) -> None:
        self.startOrRefuse(self._startParts)

    def _startParts(self) -> None:
        self._open()
        super().privilegedStartService()

    def refuseToStart(self, error: Exception) -> NoReturn:
        self._closeStores()  # their threads would keep the process alive
        super().refuseToStart(error)

    def _closeStores(self) -> None:
        for owner in (self.featurePool, self.spool, self.admin, self.store):
            if owner is not None:
                owner.stop()

    def _open(self) -> None:
        """Open the parts (the stores, the queue, the listeners): a subclass's."""
        raise NotImplementedError

    def _listen(self, kind: str, description: str, factory: IProtocolFactory) -> None:
        service: IService
        if self.worker is not None:
            fd, family = self.worker.sockets[kind, description]
            service = adoptedListener(self.reactor, description, fd, family, factory, self.balance)
        else:
            service = ownListener(self.reactor, description, factory, f"--{kind}")
        service.setName(f"--{kind} {description}")  # tcp:0 may be given to several
        service.setServiceParent(self)

    def startService(self) -> None:
        if self.settings is None:
            self.privilegedStartService()
        super().startService()
        ensureDeferred(self._announce()).addErrback(lambda f: log.failure("start-up failed", f))

    async def _announce(self) -> None:
        assert self.queue is not None and self.store is not None  # opened by now
        resumed = await self.queue.resume()
        logins = await self.store.count()
        log.info(
            "smtpeter {hostname} {who}ready: STARTTLS on {smtp}, implicit TLS on {smtps}, data in"
            " {data}, web on {http}, dashboard on {dashboard}, bounces on {mx}, {logins} login(s),"
            " {resumed} queued"
            " message(s) resumed, delivering {how}",
            smtpeter_ready=True,
            who=f"worker {self.worker.index} " if self.worker is not None else "",
            hostname=self.config.hostname,
            smtp=", ".join(self.config.smtp) or "-",
            smtps=", ".join(self.config.smtps) or "-",
            http=", ".join(self.config.http) or "-",
            dashboard=", ".join(self.config.dashboard) or "-",
            mx=", ".join(self.config.mx) or "-",
            data=str(self.config.data.resolve())
            + (f", shared state in {self.config.postgresql}" if self.config.postgresql else ""),
            logins=logins,
            resumed=resumed,
            how=(
                f"via {self.config.relay.host}:{self.config.relay.port}"
                if self.config.relay
                else "directly to MX hosts"
            ),
        )

    def stopService(self):
        if self.settings is not None:
            self.settings.shuttingDown = True
        return ensureDeferred(self._stop())

    async def _stop(self) -> None:
        """
        In order: stop listening (and webhooks, the purge); let deliveries in
        flight finish and record their outcomes; close the connections kept
        for reuse; then the stores, which commit what is waiting.
        """
        await super().stopService()
        if self.queue is not None:
            await self.queue.stop()
            await self.agent.stop()
        self._closeStores()
        self.releaseNode()
        stopRepeatedErrors()


__all__ = ["GatewayLifecycle", "WorkerRole"]
