"""
The HTTP client of webhooks: a Twisted L{Agent} that connects only to
destinations the L{Destinations} policy allows.

Each connection resolves the URL's host once, with the reactor's resolver,
drops the addresses the policy refuses, and connects (happy eyeballs, as
L{HostnameEndpoint} does) to exactly the addresses that are left: a name
that answers with a public address when the webhook is added and with
127.0.0.1 later (DNS rebinding) cannot reach 127.0.0.1. With nothing left,
the connection fails with L{RefusedDestination}, and nothing is sent.

The agent follows no redirects (a plain L{Agent} never does): a 3xx answer
is a failed delivery, never a request to wherever C{Location} points.
"""

from __future__ import annotations

from attrs import frozen
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import (
    IHostnameResolver,
    IHostResolution,
    IReactorPluggableNameResolver,
    IReactorTCP,
    IReactorTime,
    IResolutionReceiver,
    IStreamClientEndpoint,
)
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool
from twisted.web.error import SchemeNotSupported
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

from ._destinations import Destinations, RefusedDestination


@implementer(IHostResolution)
@frozen
class _Resolution:
    name: str

    def cancel(self) -> None:
        pass


@implementer(IHostnameResolver)
@frozen
class _Resolved:
    """A resolver that answers, for any name, the addresses already checked."""

    addresses: tuple

    def resolveHostName(
        self, receiver, hostName, portNumber=0, addressTypes=None, transportSemantics="TCP"
    ):
        receiver.resolutionBegan(_Resolution(hostName))
        for address in self.addresses:
            receiver.addressResolved(address)
        receiver.resolutionComplete()
        return receiver


@implementer(IReactorPluggableNameResolver, IReactorTCP, IReactorTime)
class _Pinned:
    """The reactor, with a resolver that knows only the checked addresses."""

    def __init__(self, reactor, addresses) -> None:
        self._reactor = reactor
        self.nameResolver = _Resolved(tuple(addresses))

    def installNameResolver(self, resolver):
        raise NotImplementedError("a pinned resolver stays")

    def __getattr__(self, name):
        return getattr(self._reactor, name)


def resolve(resolver, host: str, port: int) -> Deferred[list]:
    """Every address C{resolver} (an L{IHostnameResolver}) has for C{host}, once."""
    done: Deferred[list] = Deferred()
    found: list = []

    @implementer(IResolutionReceiver)
    class Receiver:
        def resolutionBegan(self, resolution) -> None:
            pass

        def addressResolved(self, address) -> None:
            found.append(address)

        def resolutionComplete(self) -> None:
            if not done.called:
                done.callback(found)

    resolver.resolveHostName(Receiver(), host, portNumber=port)
    return done


@implementer(IStreamClientEndpoint)
class GuardedEndpoint:
    """Connects to C{host}:C{port} at an address C{destinations} allows, or not at all."""

    def __init__(self, reactor, destinations: Destinations, host: str, port: int, timeout):
        self.reactor = reactor
        self.destinations = destinations
        self.host = host
        self.port = port
        self.timeout = timeout

    def connect(self, protocolFactory) -> Deferred:
        return ensureDeferred(self._connect(protocolFactory))

    async def _connect(self, protocolFactory):
        addresses = await resolve(self.reactor.nameResolver, self.host, self.port)
        allowed, refusals = [], []
        for address in addresses:
            why = self.destinations.refusal(address.host)
            if why is None:
                allowed.append(address)
            else:
                refusals.append(why)
        if not allowed:
            if refusals:
                raise RefusedDestination(refusals[0])
            raise DNSLookupError(f"no address for {self.host}")
        pinned = _Pinned(self.reactor, allowed)
        endpoint = HostnameEndpoint(pinned, self.host, self.port, self.timeout)
        return await endpoint.connect(protocolFactory)


@implementer(IAgentEndpointFactory)
class GuardedEndpoints:
    """L{GuardedEndpoint}s for C{http} URLs, and the same under TLS for C{https}."""

    def __init__(self, reactor, destinations: Destinations, timeout: float) -> None:
        self.reactor = reactor
        self.destinations = destinations
        self.timeout = timeout
        self.tls = BrowserLikePolicyForHTTPS()

    def endpointForURI(self, uri):
        if uri.scheme not in (b"http", b"https"):
            raise SchemeNotSupported(f"unsupported scheme: {uri.scheme!r}")
        endpoint = GuardedEndpoint(
            self.reactor, self.destinations, uri.host.decode("utf-8"), uri.port, self.timeout
        )
        if uri.scheme == b"https":
            return wrapClientTLS(self.tls.creatorForNetloc(uri.host, uri.port), endpoint)
        return endpoint


def webhookAgent(
    reactor, destinations: Destinations, timeout: float, pool: HTTPConnectionPool | None = None
) -> Agent:
    """An L{Agent} for webhook POSTs, to allowed destinations only."""
    return Agent.usingEndpointFactory(
        reactor, GuardedEndpoints(reactor, destinations, timeout), pool
    )
