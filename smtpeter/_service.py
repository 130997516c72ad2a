"""
The gateway as a twisted.application service: it opens the data directory,
the database, the spool and the listeners when started, and closes them in
order when stopped.
"""

from __future__ import annotations

import sys

from twisted.application.internet import StreamServerEndpointService, TimerService
from twisted.application.service import MultiService
from twisted.internet.defer import ensureDeferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.threadpool import ThreadPool

from .config import Config
from .delivery import DeliveryAgent, QueueManager, RetryPolicy, Router
from .delivery._router import Hop
from .delivery._session import Credentials
from .events import EventLog, FanOut, LogEventSink
from .events._webhooks import WebhookDispatcher
from .features import Chain, Environment, TokenSigner, discover, loadSecret
from .features._transformer import ThreadedChain
from .queue import ThreadedSpool
from .smtp import AuthThrottle, ServerSettings, SubmissionFactory, makePortal
from .smtp._inbound import BounceFactory, BounceIntake
from .smtp._tls import CertificateError, generateSelfSigned, loadServerOptions
from .store import ThreadedLoginStore, connect
from .store._domains import DomainKeys, DomainStore
from .store._images import ImageStore
from .store._links import LinkStore
from .web import makeSite

log = Logger()


class GatewayService(MultiService):
    """Everything one gateway node runs."""

    def __init__(self, config: Config, reactor, resolver=None) -> None:
        super().__init__()
        self.config = config
        self.reactor = reactor
        self.resolver = resolver
        self.settings: ServerSettings | None = None
        self.queue: QueueManager | None = None
        self.spool: ThreadedSpool | None = None
        self.logins: ThreadedLoginStore | None = None
        self.featurePool = None
        self.events: EventLog | None = None

    def privilegedStartService(self) -> None:
        try:
            self._open()
            super().privilegedStartService()
        except (OSError, CannotListenError, CertificateError) as e:
            # One clear line and a non-zero exit, not a traceback.
            why = f"{e.filename}: {e.strerror}" if getattr(e, "filename", None) else str(e)
            print(f"smtpeter: cannot start: {why}", file=sys.stderr)
            log.critical("cannot start: {why}", why=why)
            self._closeStores()  # their threads would keep the process alive
            raise SystemExit(1)

    def _closeStores(self) -> None:
        for store in (self.spool, self.logins, self.events):
            if store is not None:
                store.stop()
        if self.featurePool is not None:
            self.featurePool.stop()

    def _open(self) -> None:
        config = self.config
        config.data.mkdir(parents=True, exist_ok=True)
        certPath, keyPath = config.certificatePaths
        if config.generatesCertificate and not certPath.exists():
            generateSelfSigned(config.hostname, certPath, keyPath)
            log.warn(
                "generated a self-signed certificate for {hostname} in {path}; mail clients"
                " must be told to trust it, or start with --tls-cert/--tls-key",
                hostname=config.hostname,
                path=str(certPath),
            )
        tlsOptions = loadServerOptions(certPath, keyPath)
        self.logins = ThreadedLoginStore(config.database, self.reactor)
        self.logins.start()
        self.spool = ThreadedSpool(config.spool, self.reactor)
        self.spool.start()
        self.events = EventLog(config.database, self.reactor)
        self.events.start()
        relay = None
        credentials = None
        if config.relay is not None:
            relay = Hop(config.relay.host, config.relay.port, smarthost=True)
            if config.relay.user:
                credentials = Credentials(config.relay.user, config.relay.password or "")
        resolver = self.resolver
        if resolver is None and relay is None:
            from twisted.names import client

            servers = [config.dnsServer] if config.dnsServer else None
            resolver = client.createResolver(servers=servers)
        self.agent = DeliveryAgent(
            self.reactor,
            Router(resolver, relay, config.mxPort),
            config.hostname,
            relayTLS=config.relay.tls if config.relay else "opportunistic",
            credentials=credentials,
        )
        self.transformer = self._features()
        self.queue = QueueManager(
            self.spool,
            self.agent,
            self.reactor,
            config.hostname,
            FanOut(LogEventSink(), self.events),
            RetryPolicy(
                config.retryInitial, config.retryMax, config.maxQueueTime, config.delayWarning
            ),
            transformer=self.transformer,
        )
        self.settings = ServerSettings(
            hostname=config.hostname,
            portal=makePortal(self.logins),
            queue=self.queue,
            throttle=AuthThrottle(self.reactor, config.authFailureDelays),
            clock=self.reactor,
            tlsOptions=tlsOptions,
            maxSize=config.maxSize,
            maxRecipients=config.maxRecipients,
            idleTimeout=config.idleTimeout,
            maxConnectionsPerAddress=config.maxConnectionsPerAddress,
            freeBytes=self.spool.freeBytes,
        )
        for description in config.smtp:
            self._listen(description, SubmissionFactory(self.settings, implicitTLS=False))
        for description in config.smtps:
            factory = SubmissionFactory(self.settings, implicitTLS=True)
            self._listen(description, TLSMemoryBIOFactory(tlsOptions, False, factory))
        intake = BounceIntake(
            self.events, self.queue, self.signer, config.bounceDomain, self.reactor
        )
        for description in config.mx:
            self._listen(description, BounceFactory(self.settings, intake))
        site = makeSite(self.events, self.signer, ImageStore(config.images), self.reactor)
        for description in config.http:
            self._listen(description, site)
        WebhookDispatcher(
            self.events,
            self.reactor,
            retryInitial=config.webhookRetry.total_seconds(),
            giveUp=config.webhookGiveUp.total_seconds(),
        ).setServiceParent(self)
        purge = TimerService(3600, self._purge)
        purge.setName("purge")
        purge.setServiceParent(self)

    def _purge(self):
        before = self.reactor.seconds() - self.config.retention.total_seconds()
        d = self.events.purge(before)
        d.addCallback(
            lambda n: (
                n
                and log.info(
                    "purged {n} event(s) older than {days} days",
                    n=n,
                    days=self.config.retention.days,
                )
            )
        )
        d.addErrback(lambda f: log.failure("purging old events failed", f))
        return d

    def _features(self) -> ThreadedChain:
        config = self.config
        db = connect(config.database)
        links = LinkStore(db)
        self.signer = TokenSigner(loadSecret(config.secret))
        environment = Environment(
            self.signer,
            config.publicUrl,
            config.bounceDomain,
            ImageStore(config.images),
            DomainKeys(DomainStore(db)),
        )
        chain = Chain(discover(), environment)
        log.info(
            "features: {features}",
            features=", ".join(f"{f.name} ({f.order})" for f in chain.features),
        )
        # The work is mostly CPU under the GIL: a few threads keep the
        # reactor free and overlap the image writes and database calls.
        self.featurePool = ThreadPool(1, 4, name="smtpeter-features")
        self.featurePool.start()
        return ThreadedChain(chain, self.reactor, self.featurePool, links.record)

    def _listen(self, description: str, factory) -> None:
        service = StreamServerEndpointService(serverFromString(self.reactor, description), factory)
        service._raiseSynchronously = True
        service.setName(description)
        service.setServiceParent(self)

    def startService(self) -> None:
        if self.settings is None:
            self.privilegedStartService()
        super().startService()
        ensureDeferred(self._announce()).addErrback(lambda f: log.failure("start-up failed", f))

    async def _announce(self) -> None:
        resumed = await self.queue.resume()
        logins = await self.logins.count()
        log.info(
            "smtpeter {hostname} ready: STARTTLS on {smtp}, implicit TLS on {smtps}, data in"
            " {data}, web on {http}, bounces on {mx}, {logins} login(s), {resumed} queued"
            " message(s) resumed, delivering {how}",
            hostname=self.config.hostname,
            smtp=", ".join(self.config.smtp) or "-",
            smtps=", ".join(self.config.smtps) or "-",
            http=", ".join(self.config.http) or "-",
            mx=", ".join(self.config.mx) or "-",
            data=str(self.config.data.resolve()),
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
        if self.queue is not None:
            self.queue.stop()
        d = ensureDeferred(self._stop())
        return d

    async def _stop(self) -> None:
        await super().stopService()
        await self.agent.stop()
        self._closeStores()
