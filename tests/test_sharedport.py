"""The listening port every worker shares takes one waiting connection per turn."""

from __future__ import annotations

import socket

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.tcp import Port
from twisted.internet.testing import MemoryReactor

from smtpeter._service import SharedPort


def listeningWithWaitingClients(count: int) -> tuple[socket.socket, list[socket.socket]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.setblocking(False)  # as the parent's listening sockets are
    clients = [socket.create_connection(server.getsockname()) for _ in range(count)]
    return server, clients


def recordingFactory() -> tuple[Factory, list[Protocol]]:
    """A factory, and the list of every protocol it makes (one per accepted connection)."""
    made: list[Protocol] = []
    factory = Factory.forProtocol(Protocol)
    factory.buildProtocol = lambda address: made.append(Protocol()) or made[-1]
    return factory, made


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
