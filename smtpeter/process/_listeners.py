"""
A gateway's listeners, as services: a worker serves the socket its parent
opened for the listener (L{AdoptedPortService}); a gateway of one process
listens itself, on the endpoint its description names. Either way an
C{ssl:} listener's TLS uses the gateway's cipher policy.
"""

from __future__ import annotations

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService
from twisted.internet.endpoints import SSL4ServerEndpoint, serverFromString
from twisted.internet.interfaces import IProtocolFactory, IReactorCore
from twisted.protocols.tls import TLSMemoryBIOFactory

from ..runtime import listeningEndpoint, withCipherPolicy
from ._balance import Balance
from ._sharedport import AdoptedPortService


def adoptedListener(
    reactor: IReactorCore,
    description: str,
    fd: int,
    family: int,
    factory: IProtocolFactory,
    balance: Balance | None,
) -> IService:
    """A worker's listener: it serves the socket C{fd} that its parent opened."""
    endpoint = serverFromString(reactor, description)
    if isinstance(endpoint, SSL4ServerEndpoint):
        # An adopted socket is plain TCP: the TLS an ssl: endpoint
        # adds when it listens is added here (the endpoint keeps its
        # context factory in this attribute; Twisted has no public way),
        # with the gateway's suites rather than Twisted's defaults.
        tls = withCipherPolicy(endpoint._sslContextFactory)
        factory = TLSMemoryBIOFactory(tls, False, factory)
    return AdoptedPortService(reactor, fd, family, factory, balance)


def ownListener(reactor: IReactorCore, description: str, factory: IProtocolFactory) -> IService:
    """The listener of a gateway of one process: it listens itself, at start."""
    endpoint = listeningEndpoint(reactor, description)
    if isinstance(endpoint, SSL4ServerEndpoint):
        endpoint._sslContextFactory = withCipherPolicy(endpoint._sslContextFactory)
    service = StreamServerEndpointService(endpoint, factory)
    # A listener that cannot listen stops the start, with its reason.
    service._raiseSynchronously = True  # type: ignore[attr-defined]
    return service
