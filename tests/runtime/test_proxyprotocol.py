"""The PROXY protocol: its headers, and listeners that read them over real TCP connections."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import struct
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.selectreactor import SelectReactor
from twisted.internet.ssl import CertificateOptions
from twisted.internet.task import Clock
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from zope.interface import implementer

from smtpeter.runtime import (
    ProxyHeaderError,
    ProxyProtocolFactory,
    behindProxies,
    generateSelfSigned,
    listeningEndpoint,
    loadServerOptions,
    readHeader,
)
from smtpeter.runtime._proxyprotocol import V1_MAX, V2_MAX_LENGTH, V2_SIGNATURE, isTrusted

# -- headers ------------------------------------------------------------------


def v2(command: int, family: int, body: bytes) -> bytes:
    return V2_SIGNATURE + struct.pack("!BBH", 0x20 | command, family, len(body)) + body


def v2tcp4(source: str, sport: int, destination: str = "192.0.2.1", dport: int = 25) -> bytes:
    body = (
        ipaddress.IPv4Address(source).packed
        + ipaddress.IPv4Address(destination).packed
        + struct.pack("!HH", sport, dport)
    )
    return v2(1, 0x11, body)


def test_a_v1_header_gives_the_client_and_where_it_connected():
    header = readHeader(b"PROXY TCP4 198.51.100.7 192.0.2.1 40000 587\r\nEHLO x\r\n")
    assert header.length == len(b"PROXY TCP4 198.51.100.7 192.0.2.1 40000 587\r\n")
    assert header.source == IPv4Address("TCP", "198.51.100.7", 40000)
    assert header.destination == IPv4Address("TCP", "192.0.2.1", 587)


def test_a_v1_ipv6_header_gives_the_address_in_its_short_form():
    header = readHeader(b"PROXY TCP6 2001:db8:0:0::7 2001:db8::1 1 465\r\n")
    assert header.source == IPv6Address("TCP", "2001:db8::7", 1)


def test_a_v1_unknown_header_names_no_client():
    header = readHeader(b"PROXY UNKNOWN whatever\r\n")
    assert header.length == 24 and header.source is None and header.destination is None


def test_an_incomplete_header_waits_for_more():
    whole = b"PROXY TCP4 198.51.100.7 192.0.2.1 40000 587\r\n"
    for end in range(1, len(whole)):
        assert readHeader(whole[:end]) is None
    body = v2tcp4("198.51.100.7", 40000)
    for end in range(1, len(body)):
        assert readHeader(body[:end]) is None


@pytest.mark.parametrize(
    "data",
    [
        b"EHLO client.test\r\n",
        b"PROXY\r\n",
        b"PROXY TCP4 198.51.100.7 192.0.2.1 40000\r\n",
        b"PROXY TCP4 host.example 192.0.2.1 40000 25\r\n",
        b"PROXY TCP4 198.51.100.07 192.0.2.1 40000 25\r\n",
        b"PROXY TCP4 2001:db8::7 192.0.2.1 40000 25\r\n",
        b"PROXY TCP6 198.51.100.7 2001:db8::1 40000 25\r\n",
        b"PROXY TCP4 198.51.100.7 192.0.2.1 65536 25\r\n",
        b"PROXY TCP4 198.51.100.7 192.0.2.1 040 25\r\n",
        b"PROXY TCP4 198.51.100.7 192.0.2.1 -1 25\r\n",
        b"PROXY UDP4 198.51.100.7 192.0.2.1 40000 25\r\n",
        b"PROXY TCP4  198.51.100.7 192.0.2.1 40000 25\r\n",
    ],
)
def test_what_is_not_a_v1_header_is_refused(data):
    with pytest.raises(ProxyHeaderError):
        readHeader(data)


def test_a_v1_header_is_at_most_107_bytes():
    longest = b"PROXY UNKNOWN " + b"x" * (V1_MAX - 16) + b"\r\n"
    assert len(longest) == V1_MAX and readHeader(longest).length == V1_MAX
    with pytest.raises(ProxyHeaderError, match="longer than 107"):
        readHeader(b"PROXY UNKNOWN " + b"x" * (V1_MAX - 15) + b"\r\n")
    # Without its end: refused as soon as it is too long, not read on.
    with pytest.raises(ProxyHeaderError):
        readHeader(b"PROXY TCP4 " + b"1" * (V1_MAX - 11))


def test_a_v2_header_gives_the_client_and_skips_its_tlvs():
    tlv = b"\x04\x00\x03abc"  # PP2_TYPE_NOOP
    data = v2tcp4("198.51.100.7", 40000)
    data = data[:14] + struct.pack("!H", 12 + len(tlv)) + data[16:] + tlv
    header = readHeader(data + b"\x16\x03\x01")
    assert header.length == len(data)
    assert header.source == IPv4Address("TCP", "198.51.100.7", 40000)
    assert header.destination == IPv4Address("TCP", "192.0.2.1", 25)


def test_a_v2_ipv6_header():
    body = (
        ipaddress.IPv6Address("2001:db8::7").packed
        + ipaddress.IPv6Address("2001:db8::1").packed
        + struct.pack("!HH", 5, 465)
    )
    header = readHeader(v2(1, 0x21, body))
    assert header.source == IPv6Address("TCP", "2001:db8::7", 5)
    assert header.destination == IPv6Address("TCP", "2001:db8::1", 465)


@pytest.mark.parametrize(
    "data",
    [
        v2(0, 0x00, b""),  # LOCAL: HAProxy's health check
        v2(0, 0x11, bytes(12)),  # LOCAL, whatever the family
        v2(1, 0x00, b""),  # PROXY, unspecified family
        v2(1, 0x31, bytes(216)),  # PROXY from a UNIX socket
    ],
)
def test_v2_headers_without_a_client_address_mean_the_balancers_own_connection(data):
    header = readHeader(data)
    assert header.length == len(data) and header.source is None


@pytest.mark.parametrize(
    "data",
    [
        v2(1, 0x12, bytes(12)),  # UDP
        v2(1, 0x22, bytes(36)),  # UDP over IPv6
        v2(1, 0x41, bytes(12)),  # no such family
        v2(1, 0x11, bytes(11)),  # too short for two addresses and ports
        v2(2, 0x11, bytes(12)),  # no such command
        V2_SIGNATURE + b"\x11\x11\x00\x0c" + bytes(12),  # version 1 in a v2 header
    ],
)
def test_what_is_not_a_v2_header_is_refused(data):
    with pytest.raises(ProxyHeaderError):
        readHeader(data)


def test_a_v2_header_longer_than_the_cap_is_refused_before_it_is_read():
    assert readHeader(v2(1, 0x11, bytes(V2_MAX_LENGTH))).length == 16 + V2_MAX_LENGTH
    with pytest.raises(ProxyHeaderError, match="at most"):
        readHeader(V2_SIGNATURE + struct.pack("!BBH", 0x21, 0x11, V2_MAX_LENGTH + 1))


def test_trusted_peers():
    networks = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))
    assert isTrusted(IPv4Address("TCP", "10.1.2.3", 1), networks)
    assert isTrusted(IPv6Address("TCP", "::ffff:10.1.2.3", 1), networks)  # a dual-stack socket
    assert isTrusted(IPv6Address("TCP", "2001:db8::1%eth0", 1), networks)
    assert not isTrusted(IPv4Address("TCP", "11.0.0.1", 1), networks)
    assert not isTrusted(IPv6Address("TCP", "2001:db9::1", 1), networks)
    assert not isTrusted(IPv4Address("TCP", "10.1.2.3", 1), ())


def test_without_networks_the_listener_is_left_as_it_is():
    factory = Factory()
    assert behindProxies(factory, (), Clock()) is factory
    wrapped = behindProxies(factory, (ipaddress.ip_network("10.0.0.0/8"),), Clock())
    assert isinstance(wrapped, ProxyProtocolFactory) and wrapped.wrappedFactory is factory


# -- listeners, over real connections ---------------------------------------


@implementer(IHandshakeListener)
class Greeter(Protocol):
    """Greets on connection (after starting TLS, given C{tls}); records what it sees."""

    def __init__(self, tls=None) -> None:
        self.tls = tls
        self.received = b""
        self.peer = None
        self.handshakes = 0
        self.lost = False

    def connectionMade(self) -> None:
        self.peer = self.transport.getPeer()
        if self.tls is not None:
            self.transport.startTLS(self.tls)
        self.transport.write(b"220 hello\r\n")

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if b"QUIT\r\n" in self.received:
            self.transport.write(b"221 bye\r\n")
            self.transport.loseConnection()

    def handshakeCompleted(self) -> None:
        self.handshakes += 1

    def connectionLost(self, reason=None) -> None:
        self.lost = True


class Listener:
    """A listening gateway-style port (write-through) on 127.0.0.1, its reactor turned by hand."""

    def __init__(self, trusted: str, tls=None) -> None:
        self.reactor = SelectReactor()
        self.clock = Clock()
        self.built: list[tuple[object, Greeter]] = []
        inner = Factory()

        def build(addr):
            self.built.append((addr, Greeter(tls)))
            return self.built[-1][1]

        inner.buildProtocol = build
        factory = ProxyProtocolFactory(inner, (ipaddress.ip_network(trusted),), self.clock)
        endpoint = listeningEndpoint(self.reactor, "tcp:0:interface=127.0.0.1")
        self.port = endpoint.listen(factory).result
        self.clients: list[socket.socket] = []

    def connect(self, source: str) -> socket.socket:
        client = socket.create_connection(
            ("127.0.0.1", self.port.getHost().port), timeout=5, source_address=(source, 0)
        )
        client.setblocking(False)
        self.clients.append(client)
        return client

    def turn(self, until, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while not (found := until()):
            assert time.monotonic() < deadline, "timed out"
            self.reactor.iterate(0.01)
        return found

    def read(self, client: socket.socket) -> bytes | None:
        """What the client has received; b"" once closed; None while nothing came."""
        try:
            return client.recv(65536)
        except BlockingIOError:
            return None
        except ConnectionResetError:
            return b""

    def receive(self, client: socket.socket) -> bytes:
        got = []

        def arrived():
            data = self.read(client)
            if data is not None:
                got.append(data)
                return True
            return False

        self.turn(arrived)
        return got[0]

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.port.stopListening()
        for reader in self.reactor.removeAll():
            reader.connectionLost(Failure(ConnectionDone()))


@pytest.fixture
def logged():
    events = []
    globalLogPublisher.addObserver(events.append)
    mine = "smtpeter.runtime._proxyprotocol"
    yield lambda: [formatEvent(e) for e in events if e.get("log_namespace") == mine]
    globalLogPublisher.removeObserver(events.append)


@pytest.fixture
def listener():
    made = []

    def make(trusted: str = "127.0.0.2/32", tls=None) -> Listener:
        made.append(Listener(trusted, tls))
        return made[-1]

    yield make
    for each in made:
        each.close()


def test_a_peer_outside_the_networks_is_closed_without_a_session(listener, logged):
    server = listener()
    client = server.connect("127.0.0.1")
    client.sendall(b"PROXY TCP4 198.51.100.7 192.0.2.1 40000 25\r\n")
    assert server.receive(client) == b""
    assert server.built == []
    assert logged() == ["refused a connection from 127.0.0.1: not a --proxy-protocol network"]


def test_the_session_starts_only_after_the_header_and_sees_the_client(listener):
    server = listener()
    client = server.connect("127.0.0.2")
    client.sendall(b"PROXY TCP4 198.51.100.7 192.0.")
    for _ in range(20):
        server.reactor.iterate(0.01)
    assert server.built == [] and server.read(client) is None  # no greeting yet
    client.sendall(b"2.1 40000 25\r\nEHLO early\r\n")
    assert server.receive(client) == b"220 hello\r\n"
    [(addr, session)] = server.built
    assert addr == session.peer == IPv4Address("TCP", "198.51.100.7", 40000)
    # What came after the header in the same segment reaches the session.
    server.turn(lambda: session.received == b"EHLO early\r\n")
    client.sendall(b"QUIT\r\n")
    assert server.receive(client) == b"221 bye\r\n"
    server.turn(lambda: session.lost)


def test_a_v2_local_header_is_the_balancers_own_connection(listener):
    server = listener()
    client = server.connect("127.0.0.2")
    client.sendall(v2(0, 0x00, b""))
    assert server.receive(client) == b"220 hello\r\n"
    [(addr, session)] = server.built
    assert session.peer.host == addr.host == "127.0.0.2"


def test_a_bad_header_closes_the_connection_without_a_session(listener, logged):
    server = listener()
    client = server.connect("127.0.0.2")
    client.sendall(b"EHLO direct.client\r\n")
    assert server.receive(client) == b""
    assert server.built == []
    assert logged() == ["closing the connection from 127.0.0.2: no PROXY header"]


def test_an_overlong_v1_header_is_closed_once_it_passes_the_bound(listener, logged):
    server = listener()
    client = server.connect("127.0.0.2")
    client.sendall(b"PROXY TCP4 " + b"1" * 90)
    for _ in range(20):
        server.reactor.iterate(0.01)
    assert server.read(client) is None  # still within the bound
    client.sendall(b"1" * 10)
    assert server.receive(client) == b""
    assert server.built == []
    assert logged() == ["closing the connection from 127.0.0.2: a v1 header longer than 107 bytes"]


def test_a_missing_header_is_closed_after_five_seconds(listener, logged):
    server = listener()
    client = server.connect("127.0.0.2")
    client.sendall(b"PROXY TCP4 198.51.100.7")
    server.turn(lambda: server.clock.getDelayedCalls())
    server.clock.advance(4.9)
    for _ in range(10):
        server.reactor.iterate(0.01)
    assert server.read(client) is None
    server.clock.advance(0.1)
    assert server.receive(client) == b""
    assert server.built == []
    assert logged() == ["closing the connection from 127.0.0.2: no whole PROXY header within 5.0 s"]


def tlsOptions(tmp_path, kind: str):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    generateSelfSigned("gw.test", cert, key)
    if kind == "gateway":  # the gateway's own (ssl.SSLObject in the connection)
        return loadServerOptions(cert, key)
    return CertificateOptions(  # anything else: Twisted's TLS layer
        privateKey=load_pem_private_key(key.read_bytes(), None),
        certificate=x509.load_pem_x509_certificate(cert.read_bytes()),
    )


@pytest.mark.parametrize("kind", ["gateway", "twisted"])
def test_implicit_tls_starts_after_the_header_even_in_the_same_segment(listener, tmp_path, kind):
    # HAProxy sends the header and the client's first bytes (its ClientHello)
    # together: the ClientHello must reach TLS, not the session in clear.
    server = listener(tls=tlsOptions(tmp_path, kind))
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    client = server.connect("127.0.0.2")
    client.sendall(v2tcp4("198.51.100.7", 40000) + outgoing.read())

    def handshake():
        data = server.read(client)
        if data:
            incoming.write(data)
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            client.sendall(outgoing.read())
            return False
        client.sendall(outgoing.read())
        return True

    server.turn(handshake)
    greeting = []

    def greeted():
        data = server.read(client)
        if data:
            incoming.write(data)
        try:
            greeting.append(tls.read())
        except ssl.SSLWantReadError:
            return False
        return True

    server.turn(greeted)
    assert greeting == [b"220 hello\r\n"]
    [(addr, session)] = server.built
    assert session.peer == IPv4Address("TCP", "198.51.100.7", 40000)
    assert session.handshakes == 1 and session.received == b""
    tls.write(b"QUIT\r\n")
    client.sendall(outgoing.read())
    server.turn(lambda: session.received == b"QUIT\r\n")
