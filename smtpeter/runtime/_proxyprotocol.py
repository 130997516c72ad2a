"""
Listeners behind a load balancer: the HAProxy PROXY protocol, v1 and v2
(U{https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt}).

A balancer in TCP mode connects to the gateway itself, so every session
would come from its address: one client for the per-address limits and
the AUTH throttle, and the balancer's address in every Received header and
log line. With the PROXY protocol the balancer sends, before anything of
the client's, a header naming the client's address. L{ProxyProtocolFactory}
wraps a listener's factory: a connection whose peer is not in the trusted
networks is closed at once (a header from anyone could claim any address,
and a direct client would have none); a trusted one must send a whole,
valid header within L{HEADER_TIMEOUT}, or it is closed. Only then is the
listener's protocol made and connected, so its greeting (and an
implicit-TLS listener's handshake) starts after the header, and its
transport's C{getPeer()} is the client's address.

Twisted's C{twisted.protocols.haproxy} connects the wrapped protocol before
it has read the header (so a session would greet, and count, the
balancer's address), and its parsers are private and lax (a v1 address is
not checked to be one; a bad port raises C{ValueError}); they are not used.

A v2 C{LOCAL} header (the balancer's own health check), a v1 C{UNKNOWN}
one and a v2 one of an unspecified or UNIX family carry no client address:
as the specification says, the connection is the balancer's own, and its
session is that of the balancer's address (a health check gets its C{220}
and sends C{QUIT}).
"""

from __future__ import annotations

import ipaddress
import re
import struct
from typing import Any

from attrs import frozen
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from zope.interface import directlyProvides, implementer, providedBy

from ._destinations import Network

log = Logger()

#: How long a trusted peer has to send its whole header.
HEADER_TIMEOUT = 5.0
#: The longest v1 header, its CRLF included (the specification's bound).
V1_MAX = 107
#: The most bytes after a v2 header's first 16 (addresses and TLVs) accepted:
#: HAProxy's own TLVs (SSL, unique id, authority) fit well within it.
V2_MAX_LENGTH = 4096

V1_SIGNATURE = b"PROXY "
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_PORT = re.compile(rb"0|[1-9][0-9]{0,4}")


class ProxyHeaderError(ValueError):
    """A header that is not a valid PROXY v1 or v2 one; its text says why."""


@frozen
class ProxyHeader:
    """
    A header read: its C{length} in bytes, and the client's C{source} and
    the address it connected to (C{destination}), both C{None} when the
    connection is the balancer's own (v2 C{LOCAL}, v1 C{UNKNOWN}).
    """

    length: int
    source: IPv4Address | IPv6Address | None = None
    destination: IPv4Address | IPv6Address | None = None


def readHeader(data: bytes) -> ProxyHeader | None:
    """
    The PROXY header at the start of C{data}; C{None} while C{data} could
    still become one; L{ProxyHeaderError} when it cannot.
    """
    if data[: len(V2_SIGNATURE)] == V2_SIGNATURE[: len(data)]:
        return _readV2(data)
    if data[: len(V1_SIGNATURE)] == V1_SIGNATURE[: len(data)]:
        return _readV1(data)
    raise ProxyHeaderError("no PROXY header")


def _readV1(data: bytes) -> ProxyHeader | None:
    end = data.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(data) >= V1_MAX:
            raise ProxyHeaderError(f"a v1 header longer than {V1_MAX} bytes")
        return None
    fields = data[:end].split(b" ")
    if fields[1:2] == [b"UNKNOWN"]:
        return ProxyHeader(end + 2)
    if len(fields) != 6 or fields[1] not in (b"TCP4", b"TCP6"):
        raise ProxyHeaderError("a v1 header that is not PROXY TCP4|TCP6 SRC DST SPORT DPORT")
    family = IPv4Address if fields[1] == b"TCP4" else IPv6Address
    kind = ipaddress.IPv4Address if fields[1] == b"TCP4" else ipaddress.IPv6Address
    try:
        source, destination = (str(kind(f.decode("ascii"))) for f in fields[2:4])
    except (ValueError, UnicodeDecodeError):
        raise ProxyHeaderError(f"a v1 header with a bad {fields[1].decode()} address") from None
    if not all(_PORT.fullmatch(f) and int(f) < 65536 for f in fields[4:6]):
        raise ProxyHeaderError("a v1 header with a bad port")
    return ProxyHeader(
        end + 2,
        family("TCP", source, int(fields[4])),
        family("TCP", destination, int(fields[5])),
    )


#: v2 address families with their addresses' layout (stream only: SMTP is TCP).
_V2_FAMILIES = {
    0x11: (IPv4Address, ipaddress.IPv4Address, 4),
    0x21: (IPv6Address, ipaddress.IPv6Address, 16),
}
#: v2 families that carry no client address: unspecified, UNIX stream.
_V2_LOCAL_FAMILIES = {0x00, 0x31}


def _readV2(data: bytes) -> ProxyHeader | None:
    if len(data) < 16:
        return None
    versionCommand, family, length = struct.unpack("!BBH", data[12:16])
    if versionCommand >> 4 != 2 or versionCommand & 0x0F not in (0, 1):
        raise ProxyHeaderError(f"a v2 header of version/command {versionCommand:#04x}")
    if length > V2_MAX_LENGTH:
        raise ProxyHeaderError(f"a v2 header of {length} bytes (at most {V2_MAX_LENGTH})")
    if len(data) < 16 + length:
        return None
    if versionCommand & 0x0F == 0 or family in _V2_LOCAL_FAMILIES:  # LOCAL, or no address
        return ProxyHeader(16 + length)
    if family not in _V2_FAMILIES:
        raise ProxyHeaderError(f"a v2 header of family/protocol {family:#04x} (not TCP)")
    address, kind, size = _V2_FAMILIES[family]
    if length < 2 * size + 4:
        raise ProxyHeaderError("a v2 header too short for its addresses")
    body = data[16 : 16 + 2 * size + 4]
    source, destination = str(kind(body[:size])), str(kind(body[size : 2 * size]))
    sourcePort, destinationPort = struct.unpack("!HH", body[2 * size :])
    return ProxyHeader(
        16 + length,
        address("TCP", source, sourcePort),
        address("TCP", destination, destinationPort),
    )


def isTrusted(address, networks: tuple[Network, ...]) -> bool:
    """Whether C{address} (a Twisted address) is in C{networks} (an IPv4-mapped one as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.host.partition("%")[0])
    except (AttributeError, ValueError):
        return False  # a UNIX socket's peer has no address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == n.version and ip in n for n in networks)


@implementer(IHandshakeListener)
class ProxiedConnection(Protocol):
    """
    One connection from a trusted peer: reads the header, then is the
    listener's protocol's transport (whatever it does not say itself, its
    connection's), and hands it what arrives.
    """

    #: The connection (a TCP one, whatever it does beside ITransport).
    transport: Any = None

    def __init__(self, factory: ProxyProtocolFactory, proxy) -> None:
        self.factory = factory
        #: The balancer's address (the connection's own peer).
        self.proxy = proxy
        self.header: ProxyHeader | None = None
        self.wrappedProtocol: Any = None
        #: What came before the whole header; None once refused.
        self._buffer: bytes | None = b""
        self._timeout = None

    # -- as a protocol ---------------------------------------------------

    def makeConnection(self, transport) -> None:
        directlyProvides(self, providedBy(transport))
        super().makeConnection(transport)

    def connectionMade(self) -> None:
        self._timeout = self.factory.clock.callLater(self.factory.timeout, self._tooSlow)

    def dataReceived(self, data: bytes) -> None:
        if self.wrappedProtocol is not None:
            self.wrappedProtocol.dataReceived(data)
            return
        if self._buffer is None:
            return  # refused; closing
        self._buffer = buffer = self._buffer + data
        try:
            header = readHeader(buffer)
        except ProxyHeaderError as e:
            self._refuse("{why}", why=str(e))
            return
        if header is not None:
            self._buffer = b""
            self._connect(header, buffer[header.length :])

    def _connect(self, header: ProxyHeader, rest: bytes) -> None:
        self._cancelTimeout()
        self.header = header
        protocol = self.factory.wrappedFactory.buildProtocol(self.getPeer())
        if protocol is None:
            self._refuse("refused by the listener")
            return
        self.wrappedProtocol = protocol
        plain = not getattr(self.transport, "TLS", False)
        protocol.makeConnection(self)
        if not rest or not self.transport.connected:
            return
        if plain and getattr(self.transport, "TLS", False):
            # The session started TLS (implicit TLS) while what came after
            # the header (the start of its handshake) was already read:
            # given to the connection as if read now, it goes through TLS.
            self.transport._dataReceived(rest)
        else:
            protocol.dataReceived(rest)

    def _tooSlow(self) -> None:
        self._timeout = None
        self._refuse("no whole PROXY header within {timeout} s", timeout=self.factory.timeout)

    def _refuse(self, reason: str, **fields) -> None:
        """Close the connection, logging C{reason} (a format of C{fields})."""
        self._buffer = None
        self._cancelTimeout()
        log.info(
            "closing the connection from {proxy}: " + reason,
            proxy=self.proxy.host if hasattr(self.proxy, "host") else str(self.proxy),
            **fields,
        )
        self.transport.abortConnection()

    def _cancelTimeout(self) -> None:
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self._timeout = None

    def handshakeCompleted(self) -> None:
        if IHandshakeListener.providedBy(self.wrappedProtocol):
            self.wrappedProtocol.handshakeCompleted()

    def connectionLost(self, reason=None) -> None:
        self._cancelTimeout()
        protocol, self.wrappedProtocol = self.wrappedProtocol, None
        if protocol is not None:
            protocol.connectionLost(reason)

    # -- as the listener's protocol's transport -----------------------------

    def getPeer(self):
        """The client's address the header gave; the balancer's if it gave none."""
        if self.header is not None and self.header.source is not None:
            return self.header.source
        return self.transport.getPeer()

    def getHost(self):
        """The address the client connected to (at the balancer) if the header gave it."""
        if self.header is not None and self.header.destination is not None:
            return self.header.destination
        return self.transport.getHost()

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def writeSequence(self, data) -> None:
        self.transport.writeSequence(data)

    def loseConnection(self) -> None:
        self.transport.loseConnection()

    def abortConnection(self) -> None:
        self.transport.abortConnection()

    def registerProducer(self, producer, streaming) -> None:
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.transport.unregisterProducer()

    def __getattr__(self, name: str):
        # Whatever else the session asks of its transport (startTLS,
        # getHandle, setTcpNoDelay, disconnecting...) is the connection's.
        if name.startswith("__") or "transport" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["transport"], name)


class ProxyProtocolFactory(Factory):
    """
    Wraps a listener's factory: connections only from C{networks}, each
    sending a PROXY header first (see the module's text).
    """

    def __init__(
        self,
        wrappedFactory: Factory,
        networks: tuple[Network, ...],
        clock,
        timeout: float = HEADER_TIMEOUT,
    ) -> None:
        self.wrappedFactory = wrappedFactory
        self.networks = tuple(networks)
        self.clock = clock
        self.timeout = timeout

    def doStart(self) -> None:
        self.wrappedFactory.doStart()

    def doStop(self) -> None:
        self.wrappedFactory.doStop()

    def buildProtocol(self, addr) -> ProxiedConnection | None:
        if not isTrusted(addr, self.networks):
            # Refused, not served as a direct client: None closes it at once.
            log.info(
                "refused a connection from {peer}: not a --proxy-protocol network",
                peer=getattr(addr, "host", str(addr)),
            )
            return None
        return ProxiedConnection(self, addr)


def behindProxies(factory: Factory, networks: tuple[Network, ...], clock) -> Factory:
    """C{factory} itself without C{networks}; with them, wrapped in a L{ProxyProtocolFactory}."""
    return ProxyProtocolFactory(factory, networks, clock) if networks else factory


__all__ = [
    "HEADER_TIMEOUT",
    "ProxiedConnection",
    "ProxyHeader",
    "ProxyHeaderError",
    "ProxyProtocolFactory",
    "V1_MAX",
    "V2_MAX_LENGTH",
    "behindProxies",
    "isTrusted",
    "readHeader",
]
