"""Connections that send a write at once, and queue only what the socket does not take."""

from __future__ import annotations

import gc
import select
import socket
import ssl
import threading
import time
import weakref

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.main import CONNECTION_DONE
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import CertificateOptions
from twisted.internet.task import Clock
from twisted.internet.tcp import Port
from twisted.internet.testing import MemoryReactor
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

from smtpeter.delivery._client import SMTPClientProtocol
from smtpeter.process import SharedPort
from smtpeter.runtime._tls import generateSelfSigned, loadServerOptions
from smtpeter.runtime._writethrough import (
    LISTEN_BACKLOG,
    WriteThroughEndpoint,
    listeningEndpoint,
    withBacklog,
)

from ..conftest import recordingFactory


class Accepted:
    """One connection accepted by C{portClass}, with its client end, on a reactor that never turns."""

    def __init__(self, portClass: type[Port], protocolClass: type[Protocol] = Protocol) -> None:
        self.listening = socket.socket()
        self.listening.bind(("127.0.0.1", 0))
        self.listening.listen(1)
        self.listening.setblocking(False)
        self.client = socket.create_connection(self.listening.getsockname())
        self.client.settimeout(5)
        self.reactor = MemoryReactor()
        self.made: list[Protocol] = []
        factory = Factory()
        factory.buildProtocol = lambda address: self.made.append(protocolClass()) or self.made[-1]
        port = portClass._fromListeningDescriptor(
            self.reactor, self.listening.fileno(), socket.AF_INET, factory
        )
        port.startListening()
        port.doRead()
        self.transport = self.made[0].transport

    def queued(self) -> bool:
        return self.transport in self.reactor.getWriters()

    def receive(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            data += self.client.recv(size - len(data))
        return data

    def close(self) -> None:
        """Close all three sockets (a connection already lost has given up its own)."""
        connection = getattr(self.transport, "socket", None)
        if connection is not None:
            connection.close()
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


def test_writes_of_up_to_one_send_fill_the_socket_then_queue_in_order():
    accepted = Accepted(SharedPort)
    try:
        chunk = bytes(range(256)) * 400  # 100 KB: one send's worth, sent at once if it fits
        sent = []
        while not accepted.queued():  # until the socket's buffers are full
            sent.append(bytes([len(sent) % 256]) + chunk)
            accepted.transport.write(sent[-1])
        sent.append(b"after")
        accepted.transport.write(sent[-1])
        expected = b"".join(sent)
        received = []
        size = 0
        while size < len(expected):
            accepted.transport.doWrite()
            received.append(accepted.client.recv(1 << 20))
            size += len(received[-1])
        assert b"".join(received) == expected
    finally:
        accepted.close()


def test_the_delivery_client_writes_at_once_on_plain_tcp():
    # Twisted's own connection (an outbound one is a tcp.Client, the same
    # tcp.Connection): the client protocol sends through it at once too.
    accepted = Accepted(Port)
    try:
        protocol = SMTPClientProtocol(Clock())
        protocol.makeConnection(accepted.transport)
        protocol.send("MAIL FROM:<a@example.com>")
        protocol.sendData(b"Subject: x\r\n\r\n.hi\r\n")
        assert not accepted.queued()
        expected = b"MAIL FROM:<a@example.com>\r\nSubject: x\r\n\r\n..hi\r\n.\r\n"
        assert accepted.receive(len(expected)) == expected
    finally:
        accepted.close()


def test_a_single_process_gateways_tcp_endpoints_listen_with_write_through_ports():
    # With --workers 1 there is no parent to open the sockets: the tcp:
    # endpoint listens itself, with the same connections as a worker's.
    reactor = MemoryReactor()
    endpoint = WriteThroughEndpoint(TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"))
    factory, made = recordingFactory()
    port = endpoint.listen(factory).result
    client = socket.create_connection(("127.0.0.1", port.getHost().port), timeout=5)
    try:
        port.doRead()
        made[0].transport.write(b"220 ready\r\n")
        assert made[0].transport not in reactor.getWriters()
        assert client.recv(100) == b"220 ready\r\n"
    finally:
        client.close()
        made[0].transport.socket.close()
        port.socket.close()


def test_only_tcp_descriptions_get_write_through_endpoints(tmp_path):
    reactor = MemoryReactor()
    for description in ("tcp:2525", "tcp6:2525:interface=\\:\\:1"):
        assert isinstance(listeningEndpoint(reactor, description), WriteThroughEndpoint)
    # Anything else listens as Twisted makes it.
    unix = listeningEndpoint(reactor, f"unix:{tmp_path}/s")
    assert type(unix).__name__ == "UNIXServerEndpoint"


def clientContext() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


@implementer(IHandshakeListener)
class TLSRecorder(Protocol):
    """Records what the connection gives it."""

    handshakes = 0
    lost: Failure | None = None

    def connectionMade(self) -> None:
        self.received = b""

    def handshakeCompleted(self) -> None:
        self.handshakes += 1

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure) -> None:
        self.lost = reason


def turn(accepted: Accepted, until, timeout: float = 5) -> None:
    """Turn the accepted connection's reactor by hand, as the reactor would, until C{until()}."""
    connection = accepted.transport
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out"
        why = None
        if accepted.queued():
            why = connection.doWrite()
        elif connection in accepted.reactor.getReaders():
            if select.select([connection.socket], [], [], 0.02)[0]:
                why = connection.doRead()
        else:
            time.sleep(0.01)
        if why:
            connection.connectionLost(Failure(why))


def inThread(f) -> tuple[threading.Thread, dict]:
    """Run C{f()} in a thread; the dict gets its result or its exception."""
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = f()
        except BaseException as e:
            outcome["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def startedTLS(tmp_path, protocolClass: type[Protocol]):
    """A connection accepted by a shared port, with STARTTLS begun on the gateway's options."""
    generateSelfSigned("gw.test", tmp_path / "cert.pem", tmp_path / "key.pem")
    accepted = Accepted(SharedPort, protocolClass)
    accepted.transport.startTLS(loadServerOptions(tmp_path / "cert.pem", tmp_path / "key.pem"))
    return accepted, accepted.transport, accepted.made[0]


def test_starttls_with_the_gateways_options_is_tls_in_the_connection_itself(tmp_path):
    accepted, connection, protocol = startedTLS(tmp_path, TLSRecorder)
    assert connection.protocol is protocol  # no TLS protocol in between

    def client():
        tls = clientContext().wrap_socket(accepted.client)
        tls.sendall(b"EHLO c.test\r\n")
        reply = tls.recv(100)
        end = tls.recv(100)  # the server's close_notify
        tls.unwrap()  # answered
        return reply, end

    thread, outcome = inThread(client)
    try:
        turn(accepted, lambda: protocol.received == b"EHLO c.test\r\n")
        assert protocol.handshakes == 1
        assert connection.getHandle().version() == "TLSv1.3"
        connection.write(b"250 c.test\r\n")
        assert not accepted.queued()  # encrypted and sent at once
        connection.loseConnection()
        # Open until the client answers the close_notify, then closed.
        turn(accepted, lambda: protocol.lost is not None)
        thread.join(5)
        assert outcome == {"result": (b"250 c.test\r\n", b"")}
        assert protocol.lost.check(ConnectionDone)
    finally:
        accepted.close()


def test_a_client_ending_tls_first_has_its_data_read_and_its_close_notify_answered(tmp_path):
    accepted, connection, protocol = startedTLS(tmp_path, TLSRecorder)

    def client():
        tls = clientContext().wrap_socket(accepted.client)
        tls.sendall(b"QUIT\r\n")
        tls.unwrap()  # returns once the server has answered
        return "unwrapped"

    thread, outcome = inThread(client)
    try:
        turn(accepted, lambda: protocol.lost is not None)
        thread.join(5)
        assert outcome == {"result": "unwrapped"}
        assert protocol.received == b"QUIT\r\n"
        assert protocol.lost.check(ConnectionDone)
    finally:
        accepted.close()


def test_a_failed_handshake_closes_the_connection_and_tells_the_protocol_why(tmp_path):
    accepted, connection, protocol = startedTLS(tmp_path, TLSRecorder)
    accepted.client.sendall(b"EHLO not.tls.test\r\n" * 10)
    try:
        turn(accepted, lambda: protocol.lost is not None)
        assert protocol.lost.check(ssl.SSLError)
        assert protocol.received == b"" and protocol.handshakes == 0
        data = b""
        while chunk := accepted.client.recv(100):  # at most OpenSSL's alert, then the end
            data += chunk
        assert len(data) < 100
    finally:
        accepted.close()


def test_other_tls_options_get_twisteds_tls_and_are_freed_without_the_garbage_collector(
    tmp_path,
):
    generateSelfSigned("gw.test", tmp_path / "cert.pem", tmp_path / "key.pem")
    options = CertificateOptions(
        privateKey=load_pem_private_key((tmp_path / "key.pem").read_bytes(), None),
        certificate=x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes()),
    )
    accepted = Accepted(SharedPort)
    connection = accepted.transport
    connection.startTLS(options)
    assert isinstance(connection.protocol, TLSMemoryBIOProtocol)
    tls = weakref.ref(connection.protocol)
    thread, outcome = inThread(lambda: clientContext().wrap_socket(accepted.client).unwrap())
    while thread.is_alive():  # the server's side of the handshake and the close
        if select.select([connection.socket], [], [], 0.05)[0] and connection.doRead():
            break
    thread.join()
    gc.disable()
    try:
        connection.connectionLost(Failure(ConnectionDone()))
        accepted.made.clear()
        accepted.transport = connection = None
        assert tls() is None  # freed by reference counting: no cycle through the connection
    finally:
        gc.enable()
        accepted.close()


class CountingSocket:
    """A socket that counts its sends."""

    def __init__(self, socket: socket.socket) -> None:
        self._socket = socket
        self.sends: list[int] = []

    def send(self, data) -> int:
        sent = self._socket.send(data)
        self.sends.append(sent)
        return sent

    def __getattr__(self, name: str):
        return getattr(self._socket, name)


class Quitting(TLSRecorder):
    """Answers a command with two replies, then closes."""

    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data)
        self.transport.write(b"250 one\r\n")
        self.transport.write(b"221 two\r\n")
        self.transport.loseConnection()


def test_replies_of_one_read_and_the_close_notify_go_in_one_send_and_no_empty_one_closes(
    tmp_path,
):
    accepted, connection, protocol = startedTLS(tmp_path, Quitting)

    def client():
        tls = clientContext().wrap_socket(accepted.client)
        tls.sendall(b"QUIT\r\n")
        received = b""
        while chunk := tls.recv(100):  # until the close_notify
            received += chunk
        tls.unwrap()
        return received

    thread, outcome = inThread(client)
    try:
        turn(accepted, lambda: protocol.handshakes)
        connection.socket = counting = CountingSocket(connection.socket)
        turn(accepted, lambda: protocol.lost is not None)
        thread.join(5)
        assert outcome == {"result": b"250 one\r\n221 two\r\n"}
        assert len(counting.sends) == 1
    finally:
        accepted.close()


def test_a_connection_closed_in_a_read_with_nothing_left_to_send_ends_in_that_read():
    accepted = Accepted(SharedPort, Quitting)
    connection, protocol = accepted.transport, accepted.made[0]
    try:
        accepted.client.sendall(b"QUIT\r\n")
        select.select([connection.socket], [], [], 5)
        assert connection.doRead() is CONNECTION_DONE  # the reactor ends it now
        assert accepted.receive(18) == b"250 one\r\n221 two\r\n"
        connection.connectionLost(Failure(ConnectionDone()))
        assert accepted.client.recv(100) == b""
        assert protocol.lost.check(ConnectionDone)
    finally:
        accepted.close()


def test_a_listener_holds_LISTEN_BACKLOG_connections_unless_its_description_says():
    assert withBacklog("tcp:25:interface=127.0.0.1") == (
        f"tcp:25:interface=127.0.0.1:backlog={LISTEN_BACKLOG}"
    )
    assert withBacklog("ssl:465:privateKey=a\\:b.pem") == (
        f"ssl:465:privateKey=a\\:b.pem:backlog={LISTEN_BACKLOG}"
    )
    assert withBacklog("unix:/run/smtpeter.sock").endswith(f":backlog={LISTEN_BACKLOG}")
    assert withBacklog("tcp:25:backlog=5") == "tcp:25:backlog=5"
    # An endpoint type that takes no backlog is left as it is.
    assert withBacklog("systemd:domain=INET:index=0") == "systemd:domain=INET:index=0"


def test_a_listening_endpoint_listens_with_LISTEN_BACKLOG():
    endpoint = listeningEndpoint(MemoryReactor(), "tcp:0:interface=127.0.0.1")
    assert endpoint.endpoint._backlog == LISTEN_BACKLOG
    assert listeningEndpoint(MemoryReactor(), "tcp:0:backlog=7").endpoint._backlog == 7
