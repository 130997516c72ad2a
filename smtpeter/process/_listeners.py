"""
A gateway's listeners, as services: a worker serves the socket its parent
opened for the listener (L{AdoptedPortService}); a gateway of one process
listens itself, on the endpoint its description names. Either way an
C{ssl:} listener's TLS uses the gateway's cipher policy.
"""

from __future__ import annotations

import errno

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService
from twisted.internet.endpoints import SSL4ServerEndpoint, serverFromString
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IProtocolFactory, IReactorCore
from twisted.protocols.tls import TLSMemoryBIOFactory

from ..runtime import listeningEndpoint, withCipherPolicy
from ._balance import Balance
from ._datadir import StartError
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


class _OwnListener(StreamServerEndpointService):
    """A listener that says which option could not listen, and what to do."""

    def __init__(self, option: str, description: str, endpoint, factory) -> None:
        super().__init__(endpoint, factory)
        self.option, self.description = option, description

    def privilegedStartService(self) -> None:
        try:
            super().privilegedStartService()
        except (OSError, CannotListenError) as e:
            raise cannotListen(self.option, self.description, e) from None


def ownListener(
    reactor: IReactorCore, description: str, factory: IProtocolFactory, option: str
) -> IService:
    """The listener of a gateway of one process (C{option}'s): it listens itself, at start."""
    endpoint = listeningEndpoint(reactor, description)
    if isinstance(endpoint, SSL4ServerEndpoint):
        endpoint._sslContextFactory = withCipherPolicy(endpoint._sslContextFactory)
    service = _OwnListener(option, description, endpoint, factory)
    # A listener that cannot listen stops the start, with its reason.
    service._raiseSynchronously = True  # type: ignore[attr-defined]
    return service


def cannotListen(option: str, endpoint: str, error: Exception) -> StartError:
    """Why C{option endpoint} cannot be listened on, in one line that says what to do."""
    cause = error.socketError if isinstance(error, CannotListenError) else error
    if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
        why = f"its port is in use by another process; stop that, or give {option} another port"
    else:
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else cause
        why = f"cannot listen ({reason}); give {option} an endpoint this gateway can listen on"
    return StartError(f"{option} {endpoint}: {why}")
