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
errors surface where they always do, when the queue is written. Workers'
shared ports and a single process's C{tcp:} endpoints
(L{listeningEndpoint}) make such connections; the delivery client, whose
connections Twisted makes, writes through L{writeThrough} itself.

Their STARTTLS is the standard library's C{ssl.SSLObject} over memory
buffers, in the connection itself: a record read is decrypted and handed to
the protocol, a write is encrypted and sent, each in one call into OpenSSL.
Twisted's TLS layer put a protocol and a producer between the two, on
pyOpenSSL's Python wrappers; without it a one-message connection cost
about 0.2 CPU-ms less (2.6 to 2.4 ms, one worker). Sessions with implicit
TLS start it the same way when they begin. Options other than
L{ServerTLSOptions} still get Twisted's TLS, each record written as soon
as made.
"""

from __future__ import annotations

import re
import ssl

from twisted.internet import main, tcp
from twisted.internet._newtls import _BypassTLS
from twisted.internet.abstract import FileDescriptor
from twisted.internet.defer import execute
from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint, serverFromString
from twisted.internet.interfaces import IHandshakeListener, ISSLTransport, IStreamServerEndpoint
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from zope.interface import directlyProvides, implementer

from ._tls import ServerTLSOptions


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


#: The most a connection holds of what its protocol writes in one dataReceived.
CORK_LIMIT = 64 * 1024


class _Raw(FileDescriptor):
    """What TLS writes its records through (the connection's own, pre-TLS methods)."""

    write = writeThrough


class WriteThroughServer(tcp.Server):
    """A server connection that writes at once; see the module's text."""

    #: The TLS session once STARTTLS began with L{ServerTLSOptions}, and its
    #: buffers: what the client sent and OpenSSL has not read, and what
    #: OpenSSL made and the socket has not been given.
    _tls: ssl.SSLObject | None = None
    _tlsIn: ssl.MemoryBIO
    _tlsOut: ssl.MemoryBIO
    #: What the protocol wrote before the handshake ended, to send after it.
    _handshakeHeld: list[bytes] | None = None
    #: Our close_notify is due or sent: the TCP connection closes once the
    #: client answers it (or closes).
    _tlsClosing = False
    #: Why TLS failed, for the protocol's connectionLost.
    _tlsFailure: Failure | None = None
    #: In the protocol's dataReceived: its writes wait for the end of it.
    _corked = False

    def startTLS(self, ctx, normal: bool = True) -> None:
        if isinstance(ctx, ServerTLSOptions) and normal and not self.TLS:
            self._tlsIn, self._tlsOut = ssl.MemoryBIO(), ssl.MemoryBIO()
            self._tls = ctx.context.wrap_bio(self._tlsIn, self._tlsOut, server_side=True)
            self._handshakeHeld = []
            self.TLS = True
        else:
            self._startTwistedTLS(ctx, normal)

    def getHandle(self):
        """The C{ssl.SSLObject} once TLS has started here, else the socket."""
        return self._tls if self._tls is not None else self.socket

    def write(self, data: bytes) -> None:
        if self._tls is not None:
            if self.connected and not self._tlsClosing and data:
                self._writeTLS(data)
        elif self.TLS:
            if self.connected:  # the protocol is Twisted's TLSMemoryBIOProtocol now
                self.protocol.write(data)  # type: ignore[attr-defined]
        else:
            writeThrough(self, data)

    def writeSequence(self, iovec) -> None:
        if self._tls is not None:
            self.write(b"".join(iovec))
        else:
            super().writeSequence(iovec)

    def registerProducer(self, producer, streaming) -> None:
        # TLS here writes to this connection at once: its own flow control holds.
        if self._tls is not None:
            FileDescriptor.registerProducer(self, producer, streaming)
        else:
            super().registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        if self._tls is not None:
            FileDescriptor.unregisterProducer(self)
        else:
            super().unregisterProducer()

    def loseConnection(self) -> None:
        """With TLS, send close_notify first; the TCP connection closes on the client's answer."""
        if self._tls is None:
            super().loseConnection()
        elif self.connected and not self.disconnecting and not self._tlsClosing:
            self._tlsClosing = True
            if self._handshakeHeld is None:  # else once the handshake ends
                self._closeTLS()

    def _dataReceived(self, data: bytes | None):
        why = super()._dataReceived(data) if self._tls is None else self._readTLS(data)
        if why is None and self.disconnecting and self._allSent():
            # Closed in this read with nothing left to send: closed now,
            # not after a turn of the reactor and an empty send.
            return main.CONNECTION_DONE
        return why

    def _allSent(self) -> bool:
        return (
            self.offset == len(self.dataBuffer)
            and not self._tempDataBuffer
            and self.producer is None
        )

    def _readTLS(self, data: bytes | None):
        if not data:
            return main.CONNECTION_DONE
        self._tlsIn.write(data)
        tls = self._tls
        assert tls is not None  # called only once TLS has started here
        received, ended = [], False
        try:
            if self._handshakeHeld is not None and not self._handshake():
                return None
            if self._tlsClosing:
                self._closeTLS()
                return None
            while True:
                chunk = tls.read(self.bufferSize)
                if not chunk:  # the client's close_notify
                    ended = True
                    break
                received.append(chunk)
                if not self._tlsIn.pending and not tls.pending():
                    break
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:
            self._failTLS(Failure())
            return None
        if received and not self._tlsClosing:
            # What the protocol writes in answer goes out in one send when
            # it returns: a 221 and the close_notify after it, say.
            self._corked = True
            try:
                self.protocol.dataReceived(b"".join(received))
            finally:
                self._corked = False
        if ended:
            self.loseConnection()
        self._sendTLS()
        return None

    def _handshake(self) -> bool:
        """Go on with the handshake; whether it has ended (L{ssl.SSLError} if it failed)."""
        assert self._tls is not None  # called only once TLS has started here
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self._sendTLS()
            return False
        self._sendTLS()
        held, self._handshakeHeld = self._handshakeHeld or [], None
        if IHandshakeListener.providedBy(self.protocol):
            self.protocol.handshakeCompleted()
        for data in held:
            self._writeTLS(data)
        if self._tlsClosing:
            self._closeTLS()
            return False
        return True

    def _writeTLS(self, data: bytes) -> None:
        if self._handshakeHeld is not None:
            self._handshakeHeld.append(data)
            return
        assert self._tls is not None  # called only once TLS has started here
        try:
            self._tls.write(data)
        except ssl.SSLError:
            self._failTLS(Failure())
            return
        if not self._corked or self._tlsOut.pending >= CORK_LIMIT:
            self._sendTLS()

    def _closeTLS(self) -> None:
        """Send close_notify; close the TCP connection once the client has answered."""
        assert self._tls is not None  # called only once TLS has started here
        try:
            self._tls.unwrap()
        except ssl.SSLWantReadError:  # sent; the answer is awaited
            self._sendTLS()
            return
        except ssl.SSLError:
            pass
        self._sendTLS()
        FileDescriptor.loseConnection(self)

    def _failTLS(self, failure: Failure) -> None:
        """End a connection whose TLS failed, after OpenSSL's alert; the protocol is told why."""
        self._tlsFailure = failure
        self._tlsClosing = True
        self._sendTLS()
        FileDescriptor.loseConnection(self)

    def _sendTLS(self) -> None:
        """Send what OpenSSL has made."""
        if self._tlsOut.pending:
            writeThrough(self, self._tlsOut.read())

    def connectionLost(self, reason) -> None:
        super().connectionLost(self._tlsFailure or reason)
        # The methods Twisted's TLS sets on the connection (_startTwistedTLS)
        # are a reference cycle through its protocol back to this connection:
        # broken, the connection's objects are freed as it ends, not by a
        # full garbage collection later (a pause of every session in the worker).
        self.__dict__.pop("getHandle", None)
        self.__dict__.pop("getPeerCertificate", None)

    def _startTwistedTLS(self, ctx, normal: bool) -> None:
        # twisted.internet._newtls.startTLS, for a server, with records
        # written as soon as made: TLSMemoryBIOProtocol, not the subclass
        # that holds small writes for a reactor turn.
        producer, streaming = self.producer, self.streamingProducer
        if producer is not None:
            self.unregisterProducer()
        client = self._tlsClientDefault if normal else not self._tlsClientDefault
        # Twisted's startTLS passes no wrapped factory either, and sets these
        # methods on the connection as we do; its stubs allow neither.
        factory = TLSMemoryBIOFactory(ctx, client, None)  # type: ignore[arg-type]
        self.protocol = TLSMemoryBIOProtocol(factory, self.protocol, False)
        self.getHandle = self.protocol.getHandle  # type: ignore[method-assign]
        self.getPeerCertificate = self.protocol.getPeerCertificate
        directlyProvides(self, ISSLTransport)
        self.TLS = True
        self.protocol.makeConnection(_BypassTLS(_Raw, self))
        if producer is not None:
            self.registerProducer(producer, streaming)


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


#: How many connections a listening socket holds until a worker accepts them,
#: unless its description says (C{backlog=}). At Twisted's 50, 100 clients
#: connecting at once overflowed it: the kernel drops a SYN it has no room
#: for, and that client tried again only a second later (a connection's
#: p99 1.05 s instead of 0.06 s, and 2% of connections lost a second each).
#: The kernel caps it at C{net.core.somaxconn} (4096 on current Linux).
LISTEN_BACKLOG = 1024
#: The endpoint types whose descriptions take C{backlog=}.
_WITH_BACKLOG = {"tcp", "tcp6", "ssl", "unix"}


def withBacklog(description: str) -> str:
    """
    C{description} with C{backlog=}L{LISTEN_BACKLOG} added, if it is an
    endpoint type that takes one and it does not name one itself.
    """
    parts = re.split(r"(?<!\\):", description)
    if parts[0].lower() not in _WITH_BACKLOG or any(p.startswith("backlog=") for p in parts):
        return description
    return f"{description}:backlog={LISTEN_BACKLOG}"


def listeningEndpoint(reactor, description: str):
    """
    The endpoint for C{description} (with L{withBacklog}); a C{tcp:} one's
    connections write at once.
    """
    endpoint = serverFromString(reactor, withBacklog(description))
    if type(endpoint) in (TCP4ServerEndpoint, TCP6ServerEndpoint):
        return WriteThroughEndpoint(endpoint)
    return endpoint


__all__ = [
    "LISTEN_BACKLOG",
    "WriteThroughEndpoint",
    "WriteThroughPort",
    "WriteThroughServer",
    "listeningEndpoint",
    "withBacklog",
    "writeThrough",
]
