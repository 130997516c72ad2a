"""
The gateway as a twisted.application service (L{GatewayService}): what it
is made of and how the parts are put together when it starts (the data
directory, the database, the spool, delivery, the features, the listeners
and the periodic work). Its start, announcement and stop in order are
L{_lifecycle}'s; how a listener listens, L{_listeners}'s; the hourly
housekeeping, in L{_maintenance}.
"""

from __future__ import annotations

from datetime import timedelta

from twisted.application.internet import TimerService
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from ..admin import ThreadedAdministration, checkDomain
from ..dashboard import Pages, Sessions, makeDashboard
from ..delivery import Credentials, DeliveryAgent, Hop, Router, deliveryPolicy
from ..events import (
    TEST_TIMEOUT,
    CountingSink,
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
from ..queue.manager import QueueManager, QueueRequests, RetryPolicy
from ..runtime import behindProxies, loadServerOptions, nameConnections
from ..smtp import (
    AuthThrottle,
    BounceFactory,
    BounceIntake,
    SendingLimits,
    ServerSettings,
    SubmissionFactory,
    makePortal,
)
from ..store import DomainKeys, SQLiteStore, knownFeatures, openImages
from ..web import TrustedProxies, makeSite
from ._health import HealthCheck, diskSpace
from ._lifecycle import GatewayLifecycle, WorkerRole
from ._maintenance import purgeOld, purgeSpool
from ._queueing import oncePerCluster, openSpool, queueServices

log = Logger()


class GatewayService(GatewayLifecycle):
    """Everything one gateway node runs: the whole gateway, or one worker of it."""

    def _checkDomain(self, domain: dict):
        """The live DNS check of a domain's records (C{GET /v1/domains/{domain}/check})."""
        config = self.config
        return ensureDeferred(
            checkDomain(
                self.checkResolver, domain, config.hostname, config.bounceDomain, config.publicUrl
            )
        )

    def _open(self) -> None:
        config = self.config
        index = self.worker.index if self.worker is not None else 1
        if self.worker is None:
            tlsOptions = self.holdNode(config)
        else:
            # The parent made the directory's shared contents before starting us.
            tlsOptions = loadServerOptions(*config.certificatePaths)
        nameConnections(f"smtpeter {config.node}/{index}")
        self.store = SQLiteStore(config.sharedDatabase, self.reactor)
        self.store.start()
        self.destinations = Destinations(config.webhookAllowNetworks)
        self.admin = ThreadedAdministration(
            self.reactor, config.sharedDatabase, config.data, self.destinations, config.node
        )
        self.admin.start()
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
            FanOut(LogEventSink(), self.store, CountingSink(self.reactor.seconds())),
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
            openImages(config.sharedDatabase, config.images),
            self.reactor,
            self.admin,
            self._checkDomain,
            self.health,
            self.settings,
            config.trackLimit,
        )
        limits = (
            config.httpMaxConnectionsPerAddress,
            config.httpRequestTimeout.total_seconds(),
            TrustedProxies(config.httpTrustedProxies),
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
        for service in queueServices(config, self.queue, self.reactor, sharedTasks):
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
            openImages(config.sharedDatabase, config.images),
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


__all__ = ["GatewayService", "WorkerRole"]
