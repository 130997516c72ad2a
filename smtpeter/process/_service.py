"""
The gateway as a twisted.application service: it opens the data directory,
the database, the spool and the listeners when started, and closes them in
order when stopped. How a listener listens is in L{_listeners}; the hourly
housekeeping, in L{_maintenance}.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from attrs import frozen
from twisted.application.internet import TimerService
from twisted.application.service import IService, MultiService
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IProtocolFactory
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from ..admin import ThreadedAdministration, checkDomain
from ..config import Config
from ..dashboard import Pages, Sessions, makeDashboard
from ..delivery import Credentials, DeliveryAgent, Hop, Router, deliveryPolicy
from ..events import (
    TEST_TIMEOUT,
    Destinations,
    FanOut,
    LogEventSink,
    WebhookDispatcher,
    webhookAgent,
)
from ..features import (
    Chain,
    Environment,
    ThreadedChain,
    TokenSigner,
    discover,
    loadSecret,
)
from ..queue import SharedSpool, SQLiteSpool
from ..queue.manager import QueueManager, QueueRequests, RetryPolicy
from ..runtime import CertificateError, behindProxies, loadServerOptions, stopRepeatedErrors
from ..smtp import (
    AuthThrottle,
    BounceFactory,
    BounceIntake,
    SendingLimits,
    ServerSettings,
    SubmissionFactory,
    makePortal,
)
from ..store import DomainKeys, ImageStore, SQLiteStore, knownFeatures
from ..web import makeSite
from ._balance import Balance, LoadBoard
from ._datadir import (
    DataDirectoryLock,
    StartError,
    prepareDataDirectory,
    whyNotStarted,
)
from ._health import HealthCheck, diskSpace
from ._listeners import adoptedListener, ownListener
from ._maintenance import purgeOld, purgeSpool
from ._nodename import NodeName
from ._queueing import oncePerCluster, openSpool, queueServices
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


class GatewayService(MultiService):
    """Everything one gateway node runs: the whole gateway, or one worker of it."""

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
        #: The data directory's lock, held by a gateway of one process.
        self.dataLock: DataDirectoryLock | None = None
        #: This node's name on PostgreSQL, held by a gateway of one process.
        self.nodeName: NodeName | None = None
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
        try:
            self._open()
            super().privilegedStartService()
        except (OSError, CannotListenError, CertificateError, StartError) as e:
            # One clear line and a non-zero exit, not a traceback.
            why = whyNotStarted(e)
            print(f"smtpeter: cannot start: {why}", file=sys.__stderr__, flush=True)
            log.critical("cannot start: {why}", why=why)
            self._closeStores()  # their threads would keep the process alive
            self._releaseDirectory()
            self.twistd.refused(why)
            raise SystemExit(1)

    def _checkDomain(self, domain: dict):
        """The live DNS check of a domain's records (C{GET /v1/domains/{domain}/check})."""
        config = self.config
        return ensureDeferred(
            checkDomain(
                self.checkResolver, domain, config.hostname, config.bounceDomain, config.publicUrl
            )
        )

    def _releaseDirectory(self) -> None:
        if self.nodeName is not None:
            self.nodeName.release()
            self.nodeName = None
        if self.dataLock is not None:
            self.dataLock.release()
            self.dataLock = None

    def _closeStores(self) -> None:
        for owner in (self.featurePool, self.spool, self.admin, self.store):
            if owner is not None:
                owner.stop()

    def _open(self) -> None:
        config = self.config
        if self.worker is None:
            self.dataLock = DataDirectoryLock.acquire(config.data)
            tlsOptions = prepareDataDirectory(config)
            self.nodeName = NodeName.hold(config)
        else:
            # The parent made the directory's shared contents before starting us.
            tlsOptions = loadServerOptions(*config.certificatePaths)
        self.store = SQLiteStore(config.sharedDatabase, self.reactor)
        self.store.start()
        self.destinations = Destinations(config.webhookAllowNetworks)
        self.admin = ThreadedAdministration(
            self.reactor, config.sharedDatabase, config.data, self.destinations
        )
        self.admin.start()
        index = self.worker.index if self.worker is not None else 1
        self.spool = openSpool(config, index, self.reactor)
        relay = None
        credentials = None
        #: Where direct delivery may connect (public addresses, --delivery-allow-network).
        self.deliveryDestinations = deliveryPolicy(config.deliveryAllowNetworks)
        if config.relay is not None:
            relay = Hop(config.relay.host, config.relay.port, smarthost=True)
            if config.relay.user:
                credentials = Credentials(config.relay.user, config.relay.password or "")
        resolver = self.resolver
        if resolver is None:
            from twisted.names import client

            servers = [config.dnsServer] if config.dnsServer else None
            resolver = client.createResolver(servers=servers)
        self.checkResolver = resolver
        self.agent = DeliveryAgent(
            self.reactor,
            Router(resolver, relay, config.mxPort, self.deliveryDestinations),
            config.hostname,
            relayTLS=config.relay.tls if config.relay else "opportunistic",
            credentials=credentials,
        )
        self.transformer = self._features(self.store)
        self.queue = QueueManager(
            self.spool,
            self.agent,
            self.reactor,
            config.hostname,
            FanOut(LogEventSink(), self.store),
            RetryPolicy(
                config.retryInitial, config.retryMax, config.maxQueueTime, config.delayWarning
            ),
            transformer=self.transformer,
            suppressions=self.store,
            suppressFor=config.suppressFor,
            holdFor=timedelta(days=config.holdDays),
        )
        sending = SendingLimits(self.store, self.reactor, FanOut(LogEventSink(), self.store))
        sending.setServiceParent(self)
        self.settings = ServerSettings(
            hostname=config.hostname,
            portal=makePortal(self.store),
            queue=self.queue,
            throttle=AuthThrottle(self.reactor, config.authFailureDelays, store=self.store),
            clock=self.reactor,
            tlsOptions=tlsOptions,
            maxSize=config.maxSize,
            maxRecipients=config.maxRecipients,
            idleTimeout=config.idleTimeout,
            handshakeTimeout=config.handshakeTimeout,
            maxConnectionsPerAddress=config.maxConnectionsPerAddress,
            freeBytes=self.spool.freeBytes,
            # With a smarthost, literals go to it like any recipient: no check here.
            recipientLiterals=None if config.relay is not None else self.deliveryDestinations,
            logins=self.store,
            limits=sending,
        )
        for description in config.smtp:
            factory = SubmissionFactory(self.settings, implicitTLS=False)
            self._listen(
                "smtp", description, behindProxies(factory, config.proxyNetworks, self.reactor)
            )
        for description in config.smtps:
            factory = SubmissionFactory(self.settings, implicitTLS=True)
            self._listen(
                "smtps", description, behindProxies(factory, config.proxyNetworks, self.reactor)
            )
        intake = BounceIntake(
            self.store,
            self.queue,
            self.signer,
            config.bounceDomain,
            self.reactor,
            config.suppressFor,
        )
        for description in config.mx:
            self._listen("mx", description, BounceFactory(self.settings, intake))
        self.health = HealthCheck(
            self.reactor,
            [
                self.store.problems,
                self.spool.problems,
                diskSpace(sorted({config.data, self.spool.root}), self.settings.minFreeBytes),
            ],
        )
        site = makeSite(
            self.store,
            self.signer,
            ImageStore(config.images),
            self.reactor,
            self.admin,
            self._checkDomain,
            self.health,
        )
        limits = (
            config.httpMaxConnectionsPerAddress,
            config.httpRequestTimeout.total_seconds(),
        )
        site.limit(*limits)
        for description in config.http:
            self._listen("http", description, site)
        if config.dashboard:
            dashboard = self._dashboard()
            dashboard.limit(*limits)
            for description in config.dashboard:
                self._listen("dashboard", description, dashboard)
        sharedTasks = self.worker is None or self.worker.runsSharedTasks
        QueueRequests(self.store, self.queue, self.reactor, sharedTasks).setServiceParent(self)
        for service in queueServices(config, self.queue, self.reactor):
            service.setServiceParent(self)
        # Each node keeps its own spool, and purges it.
        spoolPurge = TimerService(3600, self._purgeSpool)
        spoolPurge.setName("spool-purge")
        spoolPurge.setServiceParent(self)
        if not sharedTasks:
            return
        WebhookDispatcher(
            self.store,
            self.reactor,
            retryInitial=config.webhookRetry.total_seconds(),
            giveUp=config.webhookGiveUp.total_seconds(),
            destinations=self.destinations,
        ).setServiceParent(self)
        purge = TimerService(3600, self._purge)
        purge.setName("purge")
        owner = f"{config.node}/{index}"
        for service in oncePerCluster(config, self.queue, self.reactor, owner, [purge]):
            service.setServiceParent(self)

    def _purgeSpool(self) -> Deferred[object]:
        assert self.spool is not None  # opened before the timer starts
        return purgeSpool(self.spool)

    def _purge(self) -> Deferred[object]:
        assert self.store is not None  # opened before the timer starts
        return purgeOld(self.config, self.reactor, self.store)

    def _dashboard(self):
        pages = Pages(
            self.store,
            self.admin,
            self.reactor,
            self.config,
            knownFeatures(),
            self._checkDomain,
            webhookAgent(self.reactor, self.destinations, TEST_TIMEOUT),
        )
        sessions = Sessions(self.secret, self.reactor)
        return makeDashboard(pages, sessions, self.settings.throttle)

    def _features(self, store: SQLiteStore) -> ThreadedChain:
        config = self.config
        self.secret = loadSecret(config.secret)
        self.signer = TokenSigner(self.secret)
        environment = Environment(
            self.signer,
            config.publicUrl,
            config.bounceDomain,
            ImageStore(config.images),
            DomainKeys(store.domains()),
        )
        chain = Chain(discover(), environment)
        log.info(
            "features: {features}",
            features=", ".join(f"{f.name} ({f.order})" for f in chain.features),
        )
        # The work is mostly CPU under the GIL: a few threads keep the
        # reactor free and overlap the image writes and database calls.
        pool = self.featurePool = ThreadPool(1, 4, name="smtpeter-features")
        pool.start()
        return ThreadedChain(chain, self.reactor, pool, store)

    def _listen(self, kind: str, description: str, factory: IProtocolFactory) -> None:
        service: IService
        if self.worker is not None:
            fd, family = self.worker.sockets[kind, description]
            service = adoptedListener(self.reactor, description, fd, family, factory, self.balance)
        else:
            service = ownListener(self.reactor, description, factory)
        service.setName(description)
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
        self._releaseDirectory()
        stopRepeatedErrors()
