"""
The submission server session (RFC 5321, 6409, 3207, 4954, 1870, 2920, 3461).

Commands are handled strictly one at a time: while one is waiting on
something slow (a password hash, the fsync of a message) the next pipelined
command waits in the buffer, so replies always go out in command order and
only one AUTH is ever in flight on a connection.
"""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from email.utils import formatdate

from attrs import define
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import ensureDeferred
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from ..queue._message import Envelope, Recipient
from . import _replies as R
from ._address import decodeXtext, isValidHelo, parsePath
from ._auth import AuthThrottle, ISender
from ._exceptions import AddressSyntaxError, SMTPRefusal
from ._options import readOptions, splitHeader
from ._wire import DataReader

log = Logger()

MAX_COMMAND_LINE = 12288 + 2
MAX_DISCARD = 1024 * 1024
MAX_PIPELINE_BUFFER = 256 * 1024
HARD_ERROR_LIMIT = 20


@define
class ServerSettings:
    """Everything a session needs, shared by all sessions of one listener set."""

    hostname: str
    portal: object
    queue: object
    throttle: AuthThrottle
    clock: object
    tlsOptions: object
    maxSize: int = 50 * 1024 * 1024
    maxRecipients: int = 100
    idleTimeout: timedelta = timedelta(minutes=5)
    sessionLimit: timedelta = timedelta(hours=1)
    freeBytes: object = None
    minFreeBytes: int = 64 * 1024 * 1024
    shuttingDown: bool = False


class SubmissionServer(Protocol):
    """One client connection."""

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
        self._discarding = 0
        self._bdatRemaining = 0
        self._data: DataReader | None = None
        self._authContinuation = None
        self._resetTransaction()
        self._idleCall = None
        self._sessionCall = None

    # -- connection ----------------------------------------------------

    @property
    def peer(self) -> str:
        peer = self.transport.getPeer()
        return getattr(peer, "host", str(peer))

    def connectionMade(self) -> None:
        clock = self.settings.clock
        if self.settings.shuttingDown:
            self.reply(R.SHUTTING_DOWN.format(hostname=self.settings.hostname))
            self.close()
            return
        self._idleCall = clock.callLater(self.settings.idleTimeout.total_seconds(), self._timeout)
        self._sessionCall = clock.callLater(
            self.settings.sessionLimit.total_seconds(), self._sessionExpired
        )
        self.reply(R.GREETING.format(hostname=self.settings.hostname))

    def connectionLost(self, reason=None) -> None:
        self.closed = True
        for call in (self._idleCall, self._sessionCall):
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
        if not self.closed:
            self.closed = True
            self.transport.loseConnection()

    def reply(self, reply: R.Reply, continued: tuple[str, ...] = (), command: str = "") -> None:
        if reply.code >= 400:
            log.info(
                "{peer} {command}: {code} {enhanced} {text}",
                peer=self.peer if self.transport else "?",
                command=command or "-",
                code=reply.code,
                enhanced=reply.enhanced,
                text=reply.text,
            )
            if reply.code >= 500:
                self.errors += 1
        if not self.closed:
            self.transport.write(reply.toBytes(continued))

    # -- reading -------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        if self.closed:
            return
        if self._idleCall is not None and self._idleCall.active():
            self._idleCall.reset(self.settings.idleTimeout.total_seconds())
        self.buffer += data
        if self.busy and len(self.buffer) > MAX_PIPELINE_BUFFER:
            self.transport.pauseProducing()
        self._process()

    def _process(self) -> None:
        while not self.busy and not self.closed and self.buffer:
            if self._bdatRemaining:
                taken = min(self._bdatRemaining, len(self.buffer))
                del self.buffer[:taken]
                self._bdatRemaining -= taken
                if not self._bdatRemaining:
                    self.reply(R.BDAT_NOT_IMPLEMENTED, command="BDAT")
                continue
            if self._data is not None:
                if not self._data.feed(self.buffer):
                    return
                reader, self._data = self._data, None
                self._run(self._endOfData(reader), "DATA")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                self._overlong()
                return
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 2]
            if self._discarding:
                self._discarding = 0
                self._lineTooLong()
                continue
            if len(line) > MAX_COMMAND_LINE - 2:
                self._lineTooLong()
                continue
            self._line(line)
            if self.errors >= HARD_ERROR_LIMIT and not self.closed:
                self.reply(R.TOO_MANY_ERRORS.format(hostname=self.settings.hostname))
                self.close()
        if not self.busy and not self.closed:
            self.transport.resumeProducing()

    def _overlong(self) -> None:
        """A command line with no CRLF yet: bound what we keep of it."""
        if len(self.buffer) <= MAX_COMMAND_LINE:
            return
        self._discarding += len(self.buffer) - 1
        del self.buffer[:-1]
        if self._discarding > MAX_DISCARD:
            self.reply(R.LINE_FLOOD.format(hostname=self.settings.hostname))
            self.close()

    def _lineTooLong(self) -> None:
        if self._authContinuation is not None:
            self._authContinuation = None
            self.reply(R.AUTH_LINE_TOO_LONG, command="AUTH")
        else:
            self.reply(R.LINE_TOO_LONG)

    def _run(self, coroutine, command: str) -> None:
        """Run an async command handler; nothing else is read until it is done."""
        self.busy = True
        d = ensureDeferred(coroutine)
        d.addErrback(self._unexpected, command)
        if d.called:
            # Finished at once: let the caller's loop go on rather than
            # recursing into _process once per pipelined command.
            d.addBoth(lambda _: None)
            self.busy = False
        else:
            d.addBoth(self._resume)

    def _unexpected(self, failure: Failure, command: str) -> None:
        if failure.check(SMTPRefusal):
            self.reply(failure.value.reply, command=command)
            return
        log.failure(
            "unexpected error handling {command} from {peer}",
            failure,
            command=command,
            peer=self.peer,
        )
        self.reply(R.LOCAL_ERROR, command=command)

    def _resume(self, _) -> None:
        self.busy = False
        if not self.closed:
            self._process()

    # -- commands --------------------------------------------------------

    def _line(self, line: bytes) -> None:
        if self._authContinuation is not None:
            continuation, self._authContinuation = self._authContinuation, None
            self._run(continuation(line), "AUTH")
            return
        if b"\r" in line or b"\n" in line or b"\x00" in line:
            self.reply(R.BARE_LINE_END)
            return
        rawVerb, _, rawArgument = line.partition(b" ")
        verb = rawVerb.decode("latin-1").upper()
        handler = getattr(self, "smtp_" + verb, None) if verb.isascii() and verb.isalpha() else None
        if handler is None:
            self.reply(R.UNKNOWN_COMMAND, command=verb[:20])
            return
        try:
            argument = rawArgument.decode("ascii")
        except UnicodeDecodeError:
            self.reply(R.SYNTAX_ERROR.format(detail="non-ASCII characters"), command=verb)
            return
        try:
            result = handler(argument)
        except SMTPRefusal as refusal:
            self.reply(refusal.reply, command=verb)
            return
        if result is not None:
            self._run(result, verb)

    def _resetTransaction(self) -> None:
        self.mailFrom: str | None = None
        self.mailParams: dict[str, str | None] = {}
        self.recipients: list[Recipient] = []

    def _refuse(self, reply: R.Reply) -> None:
        raise SMTPRefusal(reply)

    def _ehloLines(self) -> tuple[str, ...]:
        lines = [
            f"{self.settings.hostname} greets {self.helo}",
            "PIPELINING",
            f"SIZE {self.settings.maxSize}",
            "8BITMIME",
            "ENHANCEDSTATUSCODES",
            "DSN",
        ]
        if self.secure:
            lines.append("AUTH PLAIN LOGIN")
        elif self.settings.tlsOptions is not None:
            lines.append("STARTTLS")
        return tuple(lines)

    def _greet(self, argument: str) -> str:
        name = argument.strip()
        if not isValidHelo(name):
            self._refuse(R.BAD_HELO)
        self._resetTransaction()
        self.helo = name
        return name

    def smtp_EHLO(self, argument: str) -> None:
        self._greet(argument)
        lines = self._ehloLines()
        self.reply(R.Reply(250, "", lines[-1]), continued=lines[:-1])

    def smtp_HELO(self, argument: str) -> None:
        self._greet(argument)
        self.reply(R.Reply(250, "", self.settings.hostname))

    def smtp_NOOP(self, argument: str) -> None:
        self.reply(R.OK)

    def smtp_RSET(self, argument: str) -> None:
        self._resetTransaction()
        self.reply(R.RESET_OK)

    def smtp_VRFY(self, argument: str) -> None:
        self.reply(R.VRFY_ANSWER)

    def smtp_HELP(self, argument: str) -> None:
        self.reply(R.HELP_ANSWER)

    def smtp_EXPN(self, argument: str) -> None:
        self.reply(R.NOT_IMPLEMENTED.format(command="EXPN"), command="EXPN")

    def smtp_QUIT(self, argument: str) -> None:
        self.reply(R.CLOSING)
        self.close()

    def smtp_BDAT(self, argument: str) -> None:
        # Without CHUNKING a client should not send BDAT, but if it does,
        # the chunk that follows is message data and must never be read as
        # commands: swallow exactly the announced size, then refuse.
        size = argument.split(" ")[0]
        if not size.isdigit():
            self._refuse(R.SYNTAX_ERROR.format(detail="BDAT size"))
        self._bdatRemaining = int(size)
        self._resetTransaction()
        if not self._bdatRemaining:
            self.reply(R.BDAT_NOT_IMPLEMENTED, command="BDAT")

    def smtp_STARTTLS(self, argument: str) -> None:
        if self.secure:
            self._refuse(R.BAD_SEQUENCE.format(detail="TLS is already active"))
        if self.settings.tlsOptions is None:
            self._refuse(R.TLS_UNAVAILABLE)
        if argument.strip():
            self._refuse(R.SYNTAX_ERROR.format(detail="STARTTLS takes no argument"))
        self.reply(R.READY_TLS)
        # RFC 3207 4.2 and CVE-2011-0411: anything the client sent after
        # STARTTLS was sent in clear and must not count, and the session
        # restarts from the greeting.
        discarded = len(self.buffer)
        self.buffer.clear()
        if discarded:
            log.warn(
                "{peer} pipelined {n} bytes after STARTTLS; discarded", peer=self.peer, n=discarded
            )
        self.helo = None
        self._resetTransaction()
        self.transport.startTLS(self.settings.tlsOptions)
        self.secure = True

    # AUTH ---------------------------------------------------------------

    def smtp_AUTH(self, argument: str):
        if not self.secure:
            self._refuse(R.ENCRYPTION_REQUIRED)
        if self.helo is None:
            self._refuse(R.BAD_SEQUENCE.format(detail="send EHLO first"))
        if self.sender is not None:
            self._refuse(R.BAD_SEQUENCE.format(detail="already authenticated"))
        if self.mailFrom is not None:
            self._refuse(R.BAD_SEQUENCE.format(detail="AUTH not allowed during a mail transaction"))
        if self.settings.throttle.isBanned(self.peer):
            self._refuse(R.AUTH_THROTTLED)
        mechanism, _, initial = argument.strip().partition(" ")
        mechanism = mechanism.upper()
        if not mechanism:
            self._refuse(R.SYNTAX_ERROR.format(detail="AUTH mechanism [initial-response]"))
        if mechanism == "PLAIN":
            if initial:
                return self._authPlain(initial.encode("ascii"))
            return self._challenge(b"", self._authPlain)
        if mechanism == "LOGIN":
            if initial:
                return self._authLoginUser(initial.encode("ascii"))
            return self._challenge(b"Username:", self._authLoginUser)
        self._refuse(R.UNKNOWN_MECHANISM)

    def _challenge(self, prompt: bytes, continuation) -> None:
        self.transport.write(b"334 " + base64.b64encode(prompt) + b"\r\n")
        self._authContinuation = continuation

    def _decode(self, response: bytes) -> bytes:
        if response.strip() == b"*":
            raise SMTPRefusal(R.AUTH_CANCELLED)
        if response == b"=":
            return b""
        try:
            return base64.b64decode(response, validate=True)
        except (binascii.Error, ValueError):
            raise SMTPRefusal(R.BAD_BASE64)

    async def _authPlain(self, response: bytes) -> None:
        decoded = self._decode(response)
        parts = decoded.split(b"\x00")
        if len(parts) != 3:
            raise SMTPRefusal(
                R.SYNTAX_ERROR.format(detail="PLAIN needs authzid\\0authcid\\0password")
            )
        try:
            authzid, authcid, password = (p.decode("utf-8") for p in parts)
        except UnicodeDecodeError:
            raise SMTPRefusal(R.SYNTAX_ERROR.format(detail="credentials must be UTF-8"))
        if authzid and authzid != authcid:
            raise SMTPRefusal(R.AUTH_AUTHZID_REFUSED)
        await self._login(authcid, password)

    async def _authLoginUser(self, response: bytes) -> None:
        try:
            user = self._decode(response).decode("utf-8")
        except UnicodeDecodeError:
            raise SMTPRefusal(R.SYNTAX_ERROR.format(detail="credentials must be UTF-8"))

        async def password(response: bytes) -> None:
            try:
                secret = self._decode(response).decode("utf-8")
            except UnicodeDecodeError:
                raise SMTPRefusal(R.SYNTAX_ERROR.format(detail="credentials must be UTF-8"))
            await self._login(user, secret)

        self._challenge(b"Password:", password)

    async def _login(self, user: str, password: str) -> None:
        try:
            _, avatar, _ = await self.settings.portal.login(
                UsernamePassword(user, password), None, ISender
            )
        except UnauthorizedLogin:
            delay = self.settings.throttle.recordFailure(self.peer)
            log.info("{peer} failed AUTH as {user!r}", peer=self.peer, user=user[:100])
            if delay:
                await deferLater(self.settings.clock, delay, lambda: None)
            raise SMTPRefusal(R.AUTH_FAILED)
        self.sender = avatar
        log.info("{peer} authenticated as {user}", peer=self.peer, user=avatar.login)
        self.reply(R.AUTH_OK)

    # Envelope -------------------------------------------------------------

    def _requireSession(self) -> None:
        if not self.secure:
            self._refuse(R.STARTTLS_REQUIRED)
        if self.sender is None:
            self._refuse(R.AUTH_REQUIRED)

    def smtp_MAIL(self, argument: str) -> None:
        if self.helo is None:
            self._refuse(R.BAD_SEQUENCE.format(detail="send EHLO first"))
        self._requireSession()
        if self.mailFrom is not None:
            self._refuse(R.BAD_SEQUENCE.format(detail="nested MAIL command"))
        try:
            path = parsePath(argument, "FROM:", allowNull=True)
        except AddressSyntaxError as e:
            self._refuse(R.BAD_SENDER_ADDRESS.format(detail=str(e)))
        params = self._checkMailParams(path.params)
        self.mailFrom = path.address
        self.mailParams = params
        self.reply(R.SENDER_OK)

    def _checkMailParams(self, params: dict[str, str | None]) -> dict[str, str | None]:
        for key, value in params.items():
            if key == "SIZE":
                if value is None or not value.isdigit():
                    self._refuse(R.BAD_PARAMETER_VALUE.format(detail="SIZE"))
                if int(value) > self.settings.maxSize:
                    self._refuse(R.MESSAGE_TOO_BIG.format(limit=self.settings.maxSize))
            elif key == "BODY":
                if (value or "").upper() not in ("7BIT", "8BITMIME"):
                    self._refuse(R.BAD_PARAMETER_VALUE.format(detail="BODY (7BIT or 8BITMIME)"))
            elif key == "RET":
                if (value or "").upper() not in ("FULL", "HDRS"):
                    self._refuse(R.BAD_PARAMETER_VALUE.format(detail="RET (FULL or HDRS)"))
            elif key == "ENVID":
                try:
                    if value is None or len(decodeXtext(value)) > 100:
                        raise AddressSyntaxError("ENVID")
                except AddressSyntaxError:
                    self._refuse(R.BAD_PARAMETER_VALUE.format(detail="ENVID"))
            elif key != "AUTH":
                self._refuse(R.BAD_PARAMETER.format(detail=key))
        needed = int(params.get("SIZE") or 0) + self.settings.minFreeBytes
        if self.settings.freeBytes is not None and self.settings.freeBytes() < needed:
            self._refuse(R.STORAGE_FULL)
        return params

    def smtp_RCPT(self, argument: str) -> None:
        self._requireSession()
        if self.mailFrom is None:
            self._refuse(R.BAD_SEQUENCE.format(detail="need MAIL before RCPT"))
        if len(self.recipients) >= self.settings.maxRecipients:
            self._refuse(R.TOO_MANY_RECIPIENTS.format(limit=self.settings.maxRecipients))
        try:
            path = parsePath(argument, "TO:", allowNull=False)
        except AddressSyntaxError as e:
            self._refuse(R.BAD_ADDRESS.format(detail=str(e)))
        notify: tuple[str, ...] = ()
        orcpt = None
        for key, value in path.params.items():
            if key == "NOTIFY":
                notify = tuple((value or "").upper().split(","))
                valid = notify == ("NEVER",) or (
                    notify and set(notify) <= {"SUCCESS", "FAILURE", "DELAY"}
                )
                if not valid:
                    self._refuse(R.BAD_PARAMETER_VALUE.format(detail="NOTIFY"))
            elif key == "ORCPT":
                addrType, _, xtext = (value or "").partition(";")
                try:
                    if not addrType or not xtext:
                        raise AddressSyntaxError("ORCPT")
                    orcpt = f"{addrType};{decodeXtext(xtext)}"
                except AddressSyntaxError:
                    self._refuse(R.BAD_PARAMETER_VALUE.format(detail="ORCPT"))
            else:
                self._refuse(R.BAD_PARAMETER.format(detail=key))
        self.recipients.append(Recipient(path.address, notify, orcpt))
        self.reply(R.RECIPIENT_OK)

    def smtp_DATA(self, argument: str) -> None:
        self._requireSession()
        if self.mailFrom is None:
            self._refuse(R.BAD_SEQUENCE.format(detail="need MAIL before DATA"))
        if not self.recipients:
            self._refuse(R.NO_VALID_RECIPIENTS)
        self._data = DataReader(self.settings.maxSize)
        self.reply(R.START_DATA)

    async def _endOfData(self, reader: DataReader) -> None:
        try:
            if reader.problem == "size":
                raise SMTPRefusal(R.MESSAGE_TOO_BIG.format(limit=self.settings.maxSize))
            if reader.problem == "line":
                raise SMTPRefusal(R.DATA_LINE_TOO_LONG)
            if reader.bareEndings:
                log.info(
                    "{peer}: {n} bare CR/LF normalised to CRLF",
                    peer=self.peer,
                    n=reader.bareEndings,
                )
            fields, body = splitHeader(reader.content())
            kept, options = readOptions(fields, self.sender.features, self.sender.login)
            content = self._receivedHeader() + b"".join(kept) + body
            envelope = Envelope(
                self.mailFrom,
                tuple(self.recipients),
                (self.mailParams.get("RET") or "").upper() or None,
                decodeXtext(self.mailParams["ENVID"]) if self.mailParams.get("ENVID") else None,
                (self.mailParams.get("BODY") or "").upper() or None,
            )
            qid = await self.settings.queue.enqueue(envelope, options, content)
            log.info(
                "{peer} {login}: queued {qid} from <{sender}> for {n} recipient(s), {size} bytes",
                peer=self.peer,
                login=self.sender.login,
                qid=qid,
                sender=self.mailFrom,
                n=len(self.recipients),
                size=len(content),
            )
            self.reply(R.QUEUED.format(qid=qid))
        finally:
            self._resetTransaction()

    def _receivedHeader(self) -> bytes:
        tls = self._tlsDescription()
        protocol = "ESMTPSA" if self.sender is not None else "ESMTPS"
        return (
            f"Received: from {self.helo} ([{self.peer}])\r\n"
            f"\tby {self.settings.hostname} (smtpeter) with {protocol}{tls};\r\n"
            f"\t{formatdate(self.settings.clock.seconds(), localtime=False)}\r\n"
        ).encode("ascii", "replace")

    def _tlsDescription(self) -> str:
        try:
            connection = self.transport.getHandle()
            return (
                f"\r\n\t(using {connection.get_protocol_version_name()}"
                f" with cipher {connection.get_cipher_name()})"
            )
        except Exception:
            return ""


class SubmissionFactory(Factory):
    """Builds sessions for one listener; C{implicitTLS} for port-465 style listeners."""

    def __init__(self, settings: ServerSettings, implicitTLS: bool) -> None:
        self.settings = settings
        self.implicitTLS = implicitTLS

    def buildProtocol(self, addr) -> SubmissionServer:
        protocol = SubmissionServer(self.settings, self.implicitTLS)
        protocol.factory = self
        return protocol


__all__ = ["ServerSettings", "SubmissionFactory", "SubmissionServer"]
