"""
Server connections whose writes go out at once.

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
STARTTLS writes each TLS record as soon as OpenSSL makes it.
"""

from __future__ import annotations

from twisted.internet import tcp
from twisted.internet._newtls import _BypassTLS
from twisted.internet.abstract import FileDescriptor
from twisted.internet.interfaces import ISSLTransport
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from zope.interface import directlyProvides


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


def immediateTLS(factory: TLSMemoryBIOFactory) -> TLSMemoryBIOFactory:
    """C{factory} (implicit TLS) making connections that write records as soon as made."""
    factory.protocol = TLSMemoryBIOProtocol
    return factory


__all__ = ["WriteThroughServer", "immediateTLS", "writeThrough"]
