"""
The listening port every worker shares takes waiting connections while it
is not ahead of the other workers (a few per turn at most), and leaves them
to the others while it is well ahead.
"""

from __future__ import annotations

import os
import socket

from twisted.internet.error import ConnectionDone
from twisted.internet.tcp import Port
from twisted.internet.testing import MemoryReactor, MemoryReactorClock
from twisted.python.failure import Failure

from smtpeter.process._balance import HOLD_LIMIT, RECHECK, SLACK, Balance, LoadBoard
from smtpeter.process._sharedport import ACCEPT_LIMIT, SharedPort

from ..conftest import recordingFactory


def listeningWithWaitingClients(count: int) -> tuple[socket.socket, list[socket.socket]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.setblocking(False)  # as the parent's listening sockets are
    clients = [socket.create_connection(server.getsockname()) for _ in range(count)]
    return server, clients


def accepted(portClass: type[Port]) -> int:
    server, clients = listeningWithWaitingClients(3)
    factory, made = recordingFactory()
    try:
        port = portClass._fromListeningDescriptor(
            MemoryReactor(), server.fileno(), socket.AF_INET, factory
        )
        port.startListening()
        port.doRead()
        port.doRead()
        return len(made)
    finally:
        for protocol in made:
            protocol.transport.socket.close()
        for client in clients:
            client.close()
        server.close()


def test_a_shared_port_takes_one_connection_each_time_it_is_readable():
    assert accepted(SharedPort) == 2


def test_twisteds_own_port_takes_every_waiting_connection_at_once():
    assert accepted(Port) == 3


def acceptedInOneTurn(waiting: int, others: int) -> int:
    """How many of C{waiting} connections worker 1, with none open, takes in one turn."""
    server, clients = listeningWithWaitingClients(waiting)
    board = LoadBoard.create(2)
    board.publish(2, others)
    factory, made = recordingFactory()
    port = SharedPort._fromListeningDescriptor(
        MemoryReactorClock(), server.fileno(), socket.AF_INET, factory
    )
    port.balance = Balance(board, 1, port.reactor)
    port.balance.serving()
    port.startListening()
    try:
        port.doRead()
        return len(made)
    finally:
        for protocol in made:
            protocol.transport.socket.close()
        port.connectionLost(None)
        for client in clients:
            client.close()
        server.close()
        board.close()


def test_a_worker_takes_waiting_connections_until_it_is_ahead_of_the_others():
    # The other worker has none: a burst is shared out, SLACK at a time.
    assert acceptedInOneTurn(waiting=6, others=0) == SLACK
    # The other worker has many: this one catches up, a few per turn.
    assert acceptedInOneTurn(waiting=ACCEPT_LIMIT + 4, others=40) == ACCEPT_LIMIT
    # Fewer waiting than it may take: it takes them all, and notices the queue is empty.
    assert acceptedInOneTurn(waiting=3, others=40) == 3


def test_a_worker_far_ahead_leaves_a_waiting_connection_to_a_less_busy_one():
    server, clients = listeningWithWaitingClients(1)
    board = LoadBoard.create(2)
    busy, idle = MemoryReactorClock(), MemoryReactorClock()
    ports, made = [], []
    try:
        for reactor, index in ((busy, 1), (idle, 2)):  # two workers, one socket
            factory, accepted = recordingFactory()
            port = SharedPort._fromListeningDescriptor(
                reactor, os.dup(server.fileno()), socket.AF_INET, factory
            )
            port.balance = Balance(board, index, reactor)
            port.balance.serving()
            port.startListening()
            ports.append(port)
            made.append(accepted)
        for _ in range(SLACK + 1):  # still SLACK ahead once worker 2 has one
            ports[0].balance.opened()

        ports[0].doRead()
        assert made[0] == [] and ports[0] not in busy.getReaders()  # holding back
        ports[1].doRead()
        assert len(made[1]) == 1 and board.count(2) == 1  # counted while open
        busy.advance(RECHECK)
        assert ports[0] in busy.getReaders()  # looking again

        # Later, another client: worker 1 holds it back afresh, not as the
        # end of the hold that worker 2 ended by taking the first.
        busy.advance(2 * HOLD_LIMIT)
        clients.append(socket.create_connection(server.getsockname()))
        ports[0].doRead()
        assert made[0] == [] and ports[0] not in busy.getReaders()

        made[1][0].transport.connectionLost(Failure(ConnectionDone()))
        assert board.count(2) == 0
    finally:
        for port in ports:
            port.connectionLost(None)
        for client in clients:
            client.close()
        server.close()
        board.close()


def test_a_worker_far_ahead_accepts_after_the_hold_limit_if_no_one_else_does():
    server, clients = listeningWithWaitingClients(1)
    board = LoadBoard.create(2)
    board.publish(2, 0)  # looks idle, but never accepts (stopped, say)
    reactor = MemoryReactorClock()
    factory, made = recordingFactory()
    port = SharedPort._fromListeningDescriptor(reactor, server.fileno(), socket.AF_INET, factory)
    port.balance = Balance(board, 1, reactor)
    for _ in range(SLACK):
        port.balance.opened()
    port.startListening()
    try:
        waited = 0.0
        while not made:
            port.doRead()
            reactor.advance(RECHECK)
            waited += RECHECK
            assert waited <= HOLD_LIMIT + 2 * RECHECK
        assert waited >= HOLD_LIMIT
    finally:
        for protocol in made:
            protocol.transport.socket.close()
        port.connectionLost(None)
        for client in clients:
            client.close()
        server.close()
        board.close()
