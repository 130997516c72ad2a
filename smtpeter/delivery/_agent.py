"""
Delivery to next hops, with connection reuse: after a transaction the
connection is parked for C{idleTime}; the next message for the same hop
takes it instead of connecting again. At most C{maxPerHop} connections to
one hop are in use at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, cast

from attrs import define, field
from twisted.internet.defer import (
    Deferred,
    DeferredList,
    DeferredSemaphore,
    ensureDeferred,
    succeed,
)
from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.interfaces import (
    IDelayedCall,
    IReactorTCP,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from zope.interface import implementer

from ..message import Envelope, QueuedMessage, Recipient
from ._client import SMTPClientProtocol
from ._outcome import Outcome
from ._router import Hop, NoAllowedAddress, RouteError, Router, notPublic
from ._session import (
    TLS_OPPORTUNISTIC,
    Abandoned,
    BeforeDot,
    Credentials,
    HopRefused,
    HopSession,
)
from .interfaces import IDeliveryAgent

log = Logger()


class _Once(Factory):
    """
    The factory of one connection, which gives its protocol once and then
    forgets it. Twisted's C{connectProtocol} makes a class for each call
    and keeps the protocol, a reference cycle through the connection: each
    connection's objects stayed until a full garbage collection.
    """

    noisy = False  # no "Starting factory" and "Stopping factory" lines per connection

    def __init__(self, protocol: SMTPClientProtocol) -> None:
        self._protocol: SMTPClientProtocol | None = protocol

    def buildProtocol(self, addr) -> SMTPClientProtocol | None:
        protocol, self._protocol = self._protocol, None
        return protocol


@implementer(IDeliveryAgent)
@define
class DeliveryAgent:
    #: The clock, and TCP connections (L{IReactorTCP}): Twisted's reactor is both.
    reactor: IReactorTime
    router: Router
    helo: str
    relayTLS: str = TLS_OPPORTUNISTIC
    credentials: Credentials | None = None
    maxPerHop: int = 10
    idleTime: timedelta = timedelta(seconds=10)
    connectTimeout: timedelta = timedelta(seconds=30)
    replyTimeout: timedelta = timedelta(minutes=5)
    maxMessagesPerConnection: int = 100
    _slots: dict = field(factory=dict, init=False)
    #: Parked connections per hop, as C{(session, when parked)}, oldest first.
    _idle: dict = field(factory=lambda: defaultdict(list), init=False)
    #: Closes the connections parked for C{idleTime}; one for the agent, not one per park.
    _sweep: IDelayedCall | None = field(default=None, init=False)

    def deliver(
        self,
        message: QueuedMessage,
        content: bytes,
        recipients: Iterable[Recipient],
        beforeDot: BeforeDot | None = None,
    ) -> Deferred[list[Outcome]]:
        return ensureDeferred(self._deliver(message, content, list(recipients), beforeDot))

    async def _deliver(
        self,
        message: QueuedMessage,
        content: bytes,
        recipients: list[Recipient],
        beforeDot: BeforeDot | None = None,
    ) -> list[Outcome]:
        groups: dict[str, list[int]] = defaultdict(list)
        for index, recipient in enumerate(recipients):
            domain = recipient.address.rpartition("@")[2]
            groups[self.router.routeKey(domain)].append(index)
        if len(groups) == 1:
            # One route (one domain, or a smarthost): no fan-out to gather.
            domain = recipients[0].address.rpartition("@")[2]
            return await self._deliverGroup(
                domain, message.envelope, recipients, content, beforeDot
            )
        outcomes: list[Outcome | None] = [None] * len(recipients)
        work = []
        for indexes in groups.values():
            subset = [recipients[i] for i in indexes]
            domain = subset[0].address.rpartition("@")[2]
            d = ensureDeferred(
                self._deliverGroup(domain, message.envelope, subset, content, beforeDot)
            )
            d.addCallback(_placeAt, outcomes, indexes)
            work.append(d)
        await DeferredList(work, fireOnOneErrback=True, consumeErrors=True)
        return cast(list[Outcome], outcomes)  # every group placed its own

    def _slot(self, hop: Hop) -> DeferredSemaphore:
        if hop not in self._slots:
            self._slots[hop] = DeferredSemaphore(self.maxPerHop)
        return self._slots[hop]

    async def _deliverGroup(
        self,
        domain: str,
        envelope: Envelope,
        recipients: list[Recipient],
        content: bytes,
        beforeDot: BeforeDot | None = None,
    ) -> list[Outcome]:
        try:
            hops = await self.router.hops(domain)
        except RouteError as e:
            return [e.outcome] * len(recipients)
        last = Outcome.transient(f"no mail server for {domain} could be reached", "connect")
        refused = 0
        for hop in hops:
            slot = self._slot(hop)
            await slot.acquire()
            try:
                result = await self._deliverVia(hop, envelope, recipients, content, beforeDot)
            except NoAllowedAddress:
                refused += 1
                continue
            except HopRefused as e:
                last = e.outcome
                continue
            except Exception as e:
                last = Outcome.transient(
                    f"cannot connect to {hop.host}:{hop.port}: {e}", "connect", hop.host
                )
                continue
            finally:
                slot.release()
            return result
        if hops and refused == len(hops):
            # Only hosts the policy refuses (MX records pointing inside):
            # retrying would refuse them again. Nothing was connected to,
            # so nothing an internal host answered reaches the sender.
            return [notPublic(domain)] * len(recipients)
        if last.status != "transient":
            last = Outcome.transient(last.text, last.state, last.host, "4.4.1")
        return [last] * len(recipients)

    async def _deliverVia(
        self,
        hop: Hop,
        envelope: Envelope,
        recipients: list[Recipient],
        content: bytes,
        beforeDot: BeforeDot | None = None,
    ) -> list[Outcome]:
        """
        One transaction at C{hop}, on a parked connection if there is one.
        A parked connection that broke while idle (the hop closed it) is
        replaced by a new one at once rather than costing a retry delay.
        Connection failures raise; a transfer that breaks off is an outcome.
        """
        session = self._takeIdle(hop)
        parked = session is not None
        if session is None:
            session = await self._open(hop)
        while True:
            try:
                outcomes = await session.transfer(envelope, recipients, content, beforeDot)
            except Abandoned as e:
                session.protocol.connection.abortConnection()
                log.warn("transfer to {host} abandoned: {why}", host=hop.host, why=str(e))
                return [Outcome.transient(str(e), "end of DATA", hop.host)] * len(recipients)
            except Exception as e:
                session.protocol.connection.abortConnection()
                if parked:
                    log.info(
                        "parked connection to {host} failed ({why}); reconnecting",
                        host=hop.host,
                        why=str(e),
                    )
                    parked = False
                    session = await self._open(hop)
                    continue
                log.warn("transfer to {host} broke off: {why}", host=hop.host, why=str(e))
                return [
                    Outcome.transient(f"connection broke off: {e}", "transfer", hop.host)
                ] * len(recipients)
            self._park(hop, session)
            return outcomes

    async def _open(self, hop: Hop) -> HopSession:
        timeout = self.connectTimeout.total_seconds()
        tcp = cast(IReactorTCP, self.reactor)
        endpoints: list[IStreamClientEndpoint]
        if hop.smarthost:
            endpoints = [HostnameEndpoint(tcp, hop.host, hop.port, timeout=timeout)]
        else:
            endpoints = [
                (TCP6ClientEndpoint if ":" in address else TCP4ClientEndpoint)(
                    tcp, address, hop.port, timeout=timeout
                )
                for address in await self.router.addresses(hop)
            ]
        error: Exception | None = None
        for endpoint in endpoints:
            protocol = SMTPClientProtocol(self.reactor, self.replyTimeout)
            try:
                await endpoint.connect(_Once(protocol))
                break
            except Exception as e:
                error = e
        else:
            assert error is not None  # addresses() gives one at least, or raises
            raise error
        try:
            return await HopSession.open(
                protocol,
                hop.host,
                self.helo,
                self.relayTLS if hop.smarthost else TLS_OPPORTUNISTIC,
                self.credentials if hop.smarthost else None,
            )
        except BaseException:
            protocol.connection.abortConnection()
            raise

    def _takeIdle(self, hop: Hop) -> HopSession | None:
        parked = self._idle[hop]
        while parked:
            session, _ = parked.pop()  # the one used last: the others may expire
            if session.usable:
                return session
        return None

    def _park(self, hop: Hop, session: HopSession) -> None:
        if not session.usable or session.messages >= self.maxMessagesPerConnection:
            ensureDeferred(session.quit())
            return
        self._idle[hop].append((session, self.reactor.seconds()))
        if self._sweep is None:
            self._sweep = self.reactor.callLater(self.idleTime.total_seconds(), self._expire)

    def _expire(self) -> None:
        """Close what has been parked for C{idleTime}; come back when the next one is due."""
        self._sweep = None
        now = self.reactor.seconds()
        limit = self.idleTime.total_seconds()
        due = []
        for parked in self._idle.values():
            fresh = next(
                (i for i, (_, since) in enumerate(parked) if now - since < limit), len(parked)
            )
            for session, _ in parked[:fresh]:
                ensureDeferred(session.quit())
            del parked[:fresh]
            if parked:
                due.append(parked[0][1] + limit)
        if due:
            self._sweep = self.reactor.callLater(min(due) - now, self._expire)

    def stop(self) -> Deferred[Any]:
        """Close the parked connections; fires when they are closed."""
        quits: list[Deferred[None]] = []
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for parked in self._idle.values():
            quits.extend(ensureDeferred(session.quit()) for session, _ in parked)
            parked.clear()
        return DeferredList(quits) if quits else succeed(None)


def _placeAt(results: list[Outcome], outcomes: list[Outcome | None], indexes: list[int]) -> None:
    """Put one route's C{results} at its recipients' C{indexes} in C{outcomes}."""
    for i, o in zip(indexes, results, strict=True):
        outcomes[i] = o
