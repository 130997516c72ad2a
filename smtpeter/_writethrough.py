"""
Connections whose writes go out at once.

Twisted's TCP transport queues every write until the reactor's next turn,
registering the socket for writability and unregistering it once the queue
is empty: two C{epoll_ctl} calls and one more turn for each reply. Its TLS
layer holds small writes for yet another turn, to make fewer records. An
SMTP session writes one reply per command and waits for the next, so
neither saves anything here, and both add to every reply's cost and delay
(20 of the 26 C{epoll_ctl} calls per message at one message per connection).

L{WriteThroughServer} sends a write at once when nothing is queued before
it; whatever the socket does not take is queued as Twisted queues it, and
errors surface where they always do, when the queue is written. Its
STARTTLS writes each TLS record as soon as OpenSSL makes it. Workers'
shared ports and a single process's C{tcp:} endpoints
(L{listeningEndpoint}) make such connections; the delivery client, whose
connections Twisted makes, writes through L{writeThrough} itself.
"""

from __future__ import annotations

from twisted.internet import tcp
from twisted.internet._newtls import _BypassTLS
from twisted.internet.abstract import FileDescriptor
from twisted.internet.defer import execute
from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint, serverFromString
from twisted.internet.interfaces import ISSLTransport, IStreamServerEndpoint
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from zope.interface import directlyProvides, implementer


def writeThrough(connection: tcp.Connection, data: bytes) -> None:
    """
    C{connection.write(data)}, sending what the socket takes now if nothing
    waits before it. Data larger than one send (C{SEND_LIMIT}, 128 KB) is
    queued as it is: what a send left of it would be a copy.
    """
    if (
        data
        and len(data) <= connection.SEND_LIMIT
        and connection.connected
        and not connection.disconnecting
        and not connection._writeDisconnecting
        and not connection._tempDataBuffer
        and connection.offset == len(connection.dataBuffer)
        and isinstance(data, bytes)
    ):
        sent = connection.writeSomeData(data)
        if isinstance(sent, int):  # otherwise the connection is lost: the queue will say so
            if sent == len(data):
                return
            data = data[sent:]
    FileDescriptor.write(connection, data)


class _Raw(FileDescriptor):
    """What TLS writes its records through (the connection's own, pre-TLS methods)."""

    write = writeThrough


class WriteThroughServer(tcp.Server):
    """A server connection that writes at once; see the module's text."""

    def write(self, data: bytes) -> None:
        if self.TLS:
            if self.connected:
                self.protocol.write(data)
        else:
            writeThrough(self, data)

    def startTLS(self, ctx, normal: bool = True) -> None:
        # twisted.internet._newtls.startTLS, for a server, with records
        # written as soon as made: TLSMemoryBIOProtocol, not the subclass
        # that holds small writes for a reactor turn.
        producer, streaming = self.producer, self.streamingProducer
        if producer is not None:
            self.unregisterProducer()
        client = self._tlsClientDefault if normal else not self._tlsClientDefault
        factory = TLSMemoryBIOFactory(ctx, client, None)
        self.protocol = TLSMemoryBIOProtocol(factory, self.protocol, False)
        self.getHandle = self.protocol.getHandle
        self.getPeerCertificate = self.protocol.getPeerCertificate
        directlyProvides(self, ISSLTransport)
        self.TLS = True
        self.protocol.makeConnection(_BypassTLS(_Raw, self))
        if producer is not None:
            self.registerProducer(producer, streaming)

    def connectionLost(self, reason) -> None:
        super().connectionLost(reason)
        # The TLS protocol's methods, set above, are a reference cycle
        # through it back to this connection: broken, the connection's
        # objects are freed as it ends, not by a full garbage collection
        # later (a pause of every session in the worker).
        self.__dict__.pop("getHandle", None)
        self.__dict__.pop("getPeerCertificate", None)


class WriteThroughPort(tcp.Port):
    """A listening socket whose connections write at once."""

    transport = WriteThroughServer


@implementer(IStreamServerEndpoint)
class WriteThroughEndpoint:
    """Twisted's C{tcp:} endpoint (C{endpoint}), listening with a L{WriteThroughPort}."""

    def __init__(self, endpoint: TCP4ServerEndpoint | TCP6ServerEndpoint) -> None:
        self.endpoint = endpoint

    def listen(self, factory):
        return execute(self._listen, factory)

    def _listen(self, factory) -> WriteThroughPort:
        # The endpoint's address, as its own listen passes it to listenTCP.
        e = self.endpoint
        port = WriteThroughPort(e._port, factory, e._backlog, e._interface, e._reactor)
        port.startListening()
        return port


def listeningEndpoint(reactor, description: str):
    """The endpoint for C{description}; a C{tcp:} one's connections write at once."""
    endpoint = serverFromString(reactor, description)
    if type(endpoint) in (TCP4ServerEndpoint, TCP6ServerEndpoint):
        return WriteThroughEndpoint(endpoint)
    return endpoint


def immediateTLS(factory: TLSMemoryBIOFactory) -> TLSMemoryBIOFactory:
    """C{factory} (implicit TLS) making connections that write records as soon as made."""
    factory.protocol = TLSMemoryBIOProtocol
    return factory


__all__ = [
    "WriteThroughEndpoint",
    "WriteThroughPort",
    "WriteThroughServer",
    "immediateTLS",
    "listeningEndpoint",
    "writeThrough",
]
