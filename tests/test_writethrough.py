"""Server connections that send a write at once, and queue only what the socket does not take."""

from __future__ import annotations

import socket

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.tcp import Port
from twisted.internet.testing import MemoryReactor

from smtpeter._service import SharedPort


class Accepted:
    """One connection accepted by C{portClass}, with its client end, on a reactor that never turns."""

    def __init__(self, portClass: type[Port]) -> None:
        self.listening = socket.socket()
        self.listening.bind(("127.0.0.1", 0))
        self.listening.listen(1)
        self.listening.setblocking(False)
        self.client = socket.create_connection(self.listening.getsockname())
        self.client.settimeout(5)
        self.reactor = MemoryReactor()
        made: list[Protocol] = []
        factory = Factory.forProtocol(Protocol)
        factory.buildProtocol = lambda address: made.append(Protocol()) or made[-1]
        port = portClass._fromListeningDescriptor(
            self.reactor, self.listening.fileno(), socket.AF_INET, factory
        )
        port.startListening()
        port.doRead()
        self.transport = made[0].transport

    def queued(self) -> bool:
        return self.transport in self.reactor.getWriters()

    def receive(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            data += self.client.recv(size - len(data))
        return data

    def close(self) -> None:
        self.transport.socket.close()
        self.client.close()
        self.listening.close()


def test_a_write_is_sent_before_the_reactor_turns():
    accepted = Accepted(SharedPort)
    try:
        accepted.transport.write(b"220 ready\r\n")
        assert not accepted.queued()
        assert accepted.receive(11) == b"220 ready\r\n"
    finally:
        accepted.close()


def test_twisteds_own_connection_queues_it_for_the_next_turn():
    accepted = Accepted(Port)
    try:
        accepted.transport.write(b"220 ready\r\n")
        assert accepted.queued()
        accepted.client.setblocking(False)
        try:
            assert accepted.client.recv(100) == b""
        except BlockingIOError:
            pass  # nothing there: as expected
    finally:
        accepted.close()


def test_what_the_socket_does_not_take_is_queued_and_sent_in_order():
    accepted = Accepted(SharedPort)
    try:
        big = bytes(range(256)) * 65536  # 16 MB: more than the socket buffers hold
        accepted.transport.write(big)
        assert accepted.queued()
        accepted.transport.write(b"after")  # queued behind the rest, never sent first
        received = []
        size = 0
        while size < len(big) + 5:
            accepted.transport.doWrite()
            received.append(accepted.client.recv(1 << 20))
            size += len(received[-1])
        assert b"".join(received) == big + b"after"
        assert not accepted.queued()
    finally:
        accepted.close()


def test_a_write_after_the_connection_is_lost_is_dropped():
    accepted = Accepted(SharedPort)
    try:
        accepted.transport.connected = False
        accepted.transport.write(b"late")
        assert not accepted.queued()
        accepted.client.setblocking(False)
        try:
            assert accepted.client.recv(100) == b""
        except BlockingIOError:
            pass
    finally:
        accepted.close()
