"""
The listening sockets that every worker of a gateway serves: opened once
by the parent (L{smtpeter.process._supervisor}), adopted by each worker,
and accepted from in turn as the workers' L{Balance} says.
"""

from __future__ import annotations

import os
import select
from typing import cast

from twisted.application.service import Service
from twisted.internet.interfaces import (
    IDelayedCall,
    IProtocolFactory,
    IReactorCore,
    IReactorTime,
)

from ..runtime import WriteThroughPort, WriteThroughServer
from ._balance import RECHECK, Balance

#: The most connections a worker's shared port takes in one turn of its reactor.
ACCEPT_LIMIT = 8


class BalancedServer(WriteThroughServer):
    """A connection that its worker's L{Balance} counts while it is open."""

    server: SharedPort

    def __init__(self, sock, protocol, client, server, sessionno, reactor) -> None:
        super().__init__(sock, protocol, client, server, sessionno, reactor)
        if server.balance is not None:
            server.balance.opened()

    def connectionLost(self, reason) -> None:
        if self.server.balance is not None:
            self.server.balance.closed()
        super().connectionLost(reason)


class SharedPort(WriteThroughPort):
    """
    A listening socket that every worker serves. Twisted's port takes all
    that are waiting (up to 100) at once, so one worker would take a burst
    of clients for itself while the others idle. With a L{Balance}, a worker
    takes waiting connections one by one until it is ahead of the others
    (at most L{ACCEPT_LIMIT} per turn of its reactor), and a worker well
    ahead of the others leaves the next connection to them for a few
    milliseconds (L{smtpeter.process._balance}). Without one, it takes one per turn.
    Its connections write at once.

    Taking one per turn whatever the balance, a worker with 50 sessions,
    whose turns under load last 10-30 ms, accepted too slowly for 100
    clients making one-message connections: with the holds, connections
    waited in the listen queue 12.4 ms on average (p90 36 ms); taking them
    while not ahead, 5.3 ms (p90 12 ms).
    """

    transport = BalancedServer
    balance: Balance | None = None
    _recheck: IDelayedCall | None = None

    def doRead(self) -> None:
        if self.balance is not None and self.balance.holdBack():
            # Level-triggered: still reading, the reactor would call again at once.
            self.stopReading()
            # (a Port's reactor is typed as its IReactorFDSet side; it is the whole reactor)
            clock = cast(IReactorTime, self.reactor)
            self._recheck = clock.callLater(RECHECK, self._lookAgain)
            return
        self.numberAccepts = 1
        if self.balance is None:
            super().doRead()
            return
        for _ in range(ACCEPT_LIMIT):
            before = self.sessionno
            super().doRead()
            if self.sessionno == before or self.balance.ahead():
                return  # none was waiting (or it was refused); or far enough ahead
            self.numberAccepts = 1

    def _lookAgain(self) -> None:
        self._recheck = None
        if not self.connected:
            return
        waiting = select.poll()
        waiting.register(self.fileno(), select.POLLIN)
        if not waiting.poll(0):
            assert self.balance is not None  # it looks again only after holding back
            # Another worker took it; the next connection, whenever it
            # comes, is held back for a time of its own.
            self.balance.taken()
        self.startReading()

    def connectionLost(self, reason) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        super().connectionLost(reason)


class AdoptedPortService(Service):
    """Serves a listening socket that the parent process opened, as a L{SharedPort}."""

    def __init__(
        self,
        reactor: IReactorCore,
        fd: int,
        family: int,
        factory: IProtocolFactory,
        balance: Balance | None = None,
    ) -> None:
        self.reactor = reactor
        self.fd = fd
        self.family = family
        self.factory = factory
        self.balance = balance
        self.port: SharedPort | None = None

    def startService(self) -> None:
        super().startService()
        # What reactor.adoptStreamPort does, with a port of our own class.
        self.port = SharedPort._fromListeningDescriptor(
            self.reactor, self.fd, self.family, self.factory
        )
        self.port.balance = self.balance
        self.port.startListening()
        os.close(self.fd)  # the port has its own copy
        if self.balance is not None:
            self.balance.serving()

    def stopService(self):
        super().stopService()
        if self.balance is not None:
            self.balance.absent()
        if self.port is not None:
            return self.port.stopListening()
