"""
The submission server session (RFC 5321, 6409, 3207, 4954, 1870, 2920, 3461):
the connection, its timers, TLS handshakes and flow control, and the
writing of replies. Reading and dispatching commands is the mixin
L{CommandReading}'s; the commands themselves are in the mixins
L{SessionCommands}, L{AuthCommands} and L{MailCommands}; what a session is
made of, in L{_state}.

Commands are handled strictly one at a time: while one is waiting on
something slow (a password hash, the fsync of a message) the next pipelined
command waits in the buffer, so replies always go out in command order and
only one AUTH is ever in flight on a connection.
"""

from __future__ import annotations

import ssl
from typing import NoReturn

from OpenSSL import SSL
from twisted.internet.interfaces import IAddress, IHandshakeListener, IPushProducer
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..message import Recipient
from ..runtime import SMTP_CONNECTIONS
from . import _replies as R
from ._auth import ISender
from ._authcommands import AuthCommands
from ._exceptions import SMTPRefusal
from ._mailcommands import MailCommands
from ._reading import CommandReading
from ._sessioncommands import SessionCommands
from ._state import ServerSettings
from ._wire import DataReader, noDelay

log = Logger()

# Replies to one pipelined group written together, at most (RFC 2920).
MAX_HELD_REPLIES = 64
#: How long a closed session may take to finish its TLS close or to read our
#: last reply before its connection is aborted.
CLOSE_GRACE = 5.0


@implementer(IHandshakeListener, IPushProducer)
class SubmissionServer(CommandReading, SessionCommands, AuthCommands, MailCommands, Protocol):
    """
    One client connection.

    It is its transport's producer: while the client does not read its
    replies and they pile up in the transport, the session stops reading
    the client's commands.
    """

    def __init__(self, settings: ServerSettings, implicitTLS: bool) -> None:
        self.settings = settings
        self.implicitTLS = implicitTLS
        self.secure = implicitTLS
        self.buffer = bytearray()
        self.busy = False
        self.closed = False
        self.helo: str | None = None
        self.sender: ISender | None = None
        self.errors = 0
        self.junk = 0
        self._writePaused = False
        self._discarding = 0
        self._bdatRemaining = 0
        self._data: DataReader | None = None
        self._authContinuation = None
        #: The limits' windows this transaction's recipients are counted in.
        self.reserved: list = []
        self._resetTransaction()
        self._idleCall = None
        self._sessionCall = None
        self._handshakeCall = None
        self._abortCall = None
        self._address: str | None = None
        self._peer: str | None = None
        self._tls: str | None = None  # the Received header's TLS words, once known
        #: Replies held while pipelined commands are answered, written together.
        self._held: list[bytes] | None = None

    # -- connection ----------------------------------------------------

    @property
    def peer(self) -> str:
        """The client's address ("?" with no connection yet), found once."""
        if self._peer is None:
            if not self.transport:
                return "?"
            address = self.transport.getPeer()
            self._peer = address.host if hasattr(address, "host") else str(address)
        return self._peer

    def connectionMade(self) -> None:
        noDelay(self.transport)
        if self.implicitTLS:  # RFC 8314: TLS from the first byte, the greeting included
            # An implicit-TLS listener is made only with the listeners' TLS.
            assert self.settings.tlsOptions is not None
            self.transport.startTLS(self.settings.tlsOptions)
        self.transport.registerProducer(self, True)
        clock = self.settings.clock
        if self.settings.shuttingDown:
            self.reply(R.SHUTTING_DOWN.format(hostname=self.settings.hostname))
            self.close()
            return
        self._address = self.peer
        SMTP_CONNECTIONS.inc()
        if not self.settings.connections.enter(
            self._address, self.settings.maxConnectionsPerAddress
        ):
            self.reply(R.TOO_MANY_CONNECTIONS.format(hostname=self.settings.hostname))
            self.close()
            return
        self._idleCall = clock.callLater(self.settings.idleTimeout.total_seconds(), self._timeout)
        self._sessionCall = clock.callLater(
            self.settings.sessionLimit.total_seconds(), self._sessionExpired
        )
        if self.implicitTLS:
            self._handshakeStarted()
        self.reply(R.GREETING.format(hostname=self.settings.hostname))

    def connectionLost(self, reason: Failure | None = None) -> None:
        if reason is not None and reason.check(ssl.SSLError, SSL.Error):
            log.info("dropping {peer}: TLS failed: {error}", peer=self.peer, error=reason.value)
        self.closed = True
        if self._data is not None:
            self._data.sink.discard()
            self._data = None
        if not self.busy:  # else the command under way resets the transaction
            self._resetTransaction()
        if self._address is not None:
            self.settings.connections.leave(self._address)
            self._address = None
            SMTP_CONNECTIONS.dec()
        for call in (self._idleCall, self._sessionCall, self._handshakeCall, self._abortCall):
            if call is not None and call.active():
                call.cancel()

    def _timeout(self) -> None:
        log.info("closing idle connection from {peer}", peer=self.peer)
        self.reply(R.TIMEOUT.format(hostname=self.settings.hostname))
        self.close()

    def _sessionExpired(self) -> None:
        log.info("closing over-long session from {peer}", peer=self.peer)
        self.reply(R.SESSION_TOO_LONG.format(hostname=self.settings.hostname))
        self.close()

    def close(self) -> None:
        """
        End the session after the replies written so far; a client that
        neither reads them nor ends TLS in time has its connection aborted.
        """
        if not self.closed:
            self._flush()
            self.closed = True
            self.transport.unregisterProducer()
            self.transport.loseConnection()
            self._abortCall = self.settings.clock.callLater(CLOSE_GRACE, self._abort)

    def _abort(self) -> None:
        log.info("aborting the connection of {peer}: it did not close in time", peer=self.peer)
        self.transport.abortConnection()

    # -- TLS handshakes ------------------------------------------------

    def _handshakeStarted(self) -> None:
        self._handshakeCall = self.settings.clock.callLater(
            self.settings.handshakeTimeout.total_seconds(), self._handshakeTimedOut
        )

    def handshakeCompleted(self) -> None:
        if self._handshakeCall is not None and self._handshakeCall.active():
            self._handshakeCall.cancel()

    def _handshakeTimedOut(self) -> None:
        log.info("dropping {peer}: its TLS handshake did not finish in time", peer=self.peer)
        self.closed = True
        self.transport.abortConnection()

    # -- flow control --------------------------------------------------

    def pauseProducing(self) -> None:
        """
        The client is not reading its replies (or TLS holds them until its
        handshake is done): answer no more commands for now, and read only
        up to the pipeline bound.
        """
        self._writePaused = True

    def resumeProducing(self) -> None:
        self._writePaused = False
        if not self.closed:
            self._process()

    def stopProducing(self) -> None:
        self.closed = True

    def reply(self, reply: R.Reply, continued: tuple[str, ...] = (), command: str = "") -> None:
        if reply.code >= 400:
            log.info(
                "{peer} {command}: {code} {enhanced} {text}",
                peer=self.peer,
                command=command or "-",
                code=reply.code,
                enhanced=reply.enhanced,
                text=reply.text,
            )
            if reply.code >= 500:
                self.errors += 1
        self.send(reply.toBytes(continued))

    def send(self, data: bytes) -> None:
        """
        Write to the client: at once, or while the commands of one pipelined
        group are answered (RFC 2920), with the others' replies in one TLS
        record and one send once the group is read.
        """
        if self.closed:
            return
        if self._held is None:
            self.transport.write(data)
        else:
            self._held.append(data)
            if len(self._held) >= MAX_HELD_REPLIES:
                self._flush()  # so that a client not reading still pauses us

    def _flush(self) -> None:
        """Write the replies held so far (before TLS starts, or the session ends)."""
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            self.transport.write(data)

    def _resetTransaction(self) -> None:
        if self.reserved and self.settings.limits is not None:
            self.settings.limits.release(self.reserved)
            self.reserved = []
        #: A recipient was over the login's quota, which then holds the message.
        self.overQuota = False
        self.mailFrom: str | None = None
        self.mailParams: dict[str, str | None] = {}
        self.recipients: list[Recipient] = []

    def _refuse(self, reply: R.Reply) -> NoReturn:
        raise SMTPRefusal(reply)


class SubmissionFactory(Factory):
    """Builds sessions for one listener; C{implicitTLS} for port-465 style listeners."""

    def __init__(self, settings: ServerSettings, implicitTLS: bool) -> None:
        self.settings = settings
        self.implicitTLS = implicitTLS

    def buildProtocol(self, addr: IAddress | None) -> SubmissionServer:
        protocol = SubmissionServer(self.settings, self.implicitTLS)
        protocol.factory = self
        return protocol


__all__ = ["ServerSettings", "SubmissionFactory", "SubmissionServer"]
