"""
What a submission session is made of: the settings all sessions of a
listener set share (L{ServerSettings}), and the state that the session's
command handlers read and change (L{SessionState}, the typed base of the
handler mixins L{SessionCommands<smtpeter.smtp._sessioncommands.SessionCommands>},
L{AuthCommands<smtpeter.smtp._authcommands.AuthCommands>} and
L{MailCommands<smtpeter.smtp._mailcommands.MailCommands>}).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from attrs import define, field
from twisted.internet.interfaces import IConsumer, IPushProducer, ITLSTransport
from twisted.internet.protocol import Protocol

from ..config import default
from ..runtime import AddressPolicy, ConnectionsPerAddress
from ._auth import AuthThrottle

if TYPE_CHECKING:
    from twisted.cred.portal import Portal
    from twisted.internet.interfaces import (
        IDelayedCall,
        IOpenSSLServerConnectionCreator,
        IReactorTime,
    )

    from ..message import Recipient
    from ..queue import IQueue
    from ..store import ILoginStore
    from ._auth import ISender
    from ._limits import SendingLimits
    from ._replies import Reply
    from ._wire import DataReader


class ISessionTransport(ITLSTransport, IConsumer, IPushProducer):
    """
    What a session asks of its transport: a TCP connection that can start
    TLS, take the session as its producer, and be paused while the session
    waits (Twisted's TCP and TLS transports provide all of it).
    """


@define
class ServerSettings:
    """Everything a session needs, shared by all sessions of one listener set."""

    hostname: str
    portal: Portal
    queue: IQueue
    throttle: AuthThrottle
    clock: IReactorTime
    #: The listeners' TLS (for STARTTLS, and implicit TLS); C{None}: no TLS.
    tlsOptions: IOpenSSLServerConnectionCreator | None
    maxSize: int = default("maxSize")
    maxRecipients: int = default("maxRecipients")
    idleTimeout: timedelta = default("idleTimeout")
    handshakeTimeout: timedelta = default("handshakeTimeout")
    sessionLimit: timedelta = timedelta(hours=1)
    #: The spool's free space, asked per MAIL with SIZE (C{None}: not checked).
    freeBytes: Callable[[], int] | None = None
    minFreeBytes: int = 64 * 1024 * 1024
    maxConnectionsPerAddress: int = default("maxConnectionsPerAddress")
    #: Which address literals (C{user@[10.0.0.1]}) RCPT takes: direct delivery's
    #: policy; C{None} takes them all (a smarthost delivers every recipient).
    recipientLiterals: AddressPolicy | None = field(factory=AddressPolicy)
    shuttingDown: bool = False
    #: The ILoginStore told of each accepted AUTH (its last use), if any.
    logins: ILoginStore | None = None
    #: The per-login rates and quotas (L{SendingLimits}); None: none enforced.
    limits: SendingLimits | None = None
    connections: ConnectionsPerAddress = field(factory=ConnectionsPerAddress)


class SessionState(Protocol):
    """
    The state of one session, as its command handlers see it. Declarations
    only, for the type checker: L{SubmissionServer<smtpeter.smtp.SubmissionServer>}
    sets these attributes and defines these methods; at run time this class
    adds nothing to it.
    """

    transport: ISessionTransport
    settings: ServerSettings
    implicitTLS: bool
    secure: bool
    buffer: bytearray
    busy: bool
    closed: bool
    helo: str | None
    sender: ISender | None
    errors: int
    junk: int
    mailFrom: str | None
    mailParams: dict[str, str | None]
    recipients: list[Recipient]
    #: The recipients counted against the login's rate and quota in this transaction.
    reserved: list[Any]
    #: This transaction's mail is over the login's quota, and held for it.
    overQuota: bool
    _bdatRemaining: int
    _data: DataReader | None
    _authContinuation: Callable[[bytes], Coroutine[Any, Any, None]] | None
    _idleCall: IDelayedCall | None
    _sessionCall: IDelayedCall | None
    _handshakeCall: IDelayedCall | None
    _abortCall: IDelayedCall | None
    _tls: str | None

    if TYPE_CHECKING:

        @property
        def peer(self) -> str: ...

        def reply(self, reply: Reply, continued: tuple[str, ...] = (), command: str = "") -> None:
            """Answer the client (logged when it is a refusal)."""

        def send(self, data: bytes) -> None:
            """Write to the client, in order with the replies held."""

        def close(self) -> None:
            """End the session after the replies written so far."""

        def _flush(self) -> None: ...

        def _handshakeStarted(self) -> None: ...

        def _resetTransaction(self) -> None: ...

        def _refuse(self, reply: Reply) -> NoReturn: ...

        def _run(self, coroutine: Coroutine[Any, Any, None], command: str) -> None: ...
