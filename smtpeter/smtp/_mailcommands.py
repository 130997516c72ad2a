"""
The mail transaction of the submission session: MAIL, RCPT and DATA with
their parameters (SIZE, BODY, RFC 3461 DSN), and what happens at the final
dot: options read, trace header added, message queued, 250 sent.
"""

from __future__ import annotations

import ssl
from collections.abc import Coroutine
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, cast

from twisted.internet.interfaces import ISystemHandle
from twisted.logger import Logger

from ..message import Envelope, HeaderError, Recipient, Unfit, fitLines, splitHeader
from ..queue import IncomingContent, Spilled
from . import _replies as R
from ._address import decodeXtext, isAddressType, parsePath
from ._exceptions import AddressSyntaxError, SMTPRefusal
from ._senders import checkEnvelopeSender
from ._state import SessionState
from ._submission import OverLimit, admitRecipient, checkRecipient, submit
from ._wire import DataReader

log = Logger()


class MailCommands(SessionState):
    """MAIL, RCPT and DATA; mixed into L{SubmissionServer}, whose state it uses."""

    if TYPE_CHECKING:

        def _accepted(self) -> None:
            """A message was accepted (the session's error counts start again)."""

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
        if self.sender is not None:  # the bounce receiver has none
            checkEnvelopeSender(path.address, self.sender.senderDomains)
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

    def _recipientPath(self, argument: str):
        """RCPT's checks that every listener makes, then its path parsed."""
        if self.mailFrom is None:
            self._refuse(R.BAD_SEQUENCE.format(detail="need MAIL before RCPT"))
        if len(self.recipients) >= self.settings.maxRecipients:
            self._refuse(R.TOO_MANY_RECIPIENTS.format(limit=self.settings.maxRecipients))
        try:
            return parsePath(argument, "TO:", allowNull=False)
        except AddressSyntaxError as e:
            self._refuse(R.BAD_ADDRESS.format(detail=str(e)))

    def smtp_RCPT(self, argument: str) -> Coroutine[Any, Any, None] | None:
        self._requireSession()
        path = self._recipientPath(argument)
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
                    if not isAddressType(addrType) or not xtext:
                        raise AddressSyntaxError("ORCPT")
                    orcpt = f"{addrType};{decodeXtext(xtext)}"
                except AddressSyntaxError:
                    self._refuse(R.BAD_PARAMETER_VALUE.format(detail="ORCPT"))
            else:
                self._refuse(R.BAD_PARAMETER.format(detail=key))
        self._checkLiteral(path.address)
        recipient = Recipient(path.address, notify, orcpt)
        if self.sender is not None and self.sender.limited and self.settings.limits is not None:
            return self._limitedRecipient(recipient)
        self.recipients.append(recipient)
        self.reply(R.RECIPIENT_OK)
        return None

    async def _limitedRecipient(self, recipient: Recipient) -> None:
        """RCPT for a login with a rate or a quota: counted (L{admitRecipient})."""
        limits = self.settings.limits
        assert limits is not None and self.sender is not None  # as smtp_RCPT checked
        try:
            admission = await admitRecipient(
                self.settings, self.sender, self.mailFrom or "", recipient.address
            )
        except OverLimit as e:
            if not e.reply.isPermanent:
                # Counted as a 5xx is: a client that keeps trying is closed (and
                # its refused events end) after HARD_ERROR_LIMIT of them.
                self.errors += 1
            raise
        if self.closed or self.mailFrom is None:  # gone while the totals were read
            limits.release(admission.keys)
            return
        self.reserved.extend(admission.keys)
        self.overQuota = self.overQuota or admission.held
        self.recipients.append(recipient)
        self.reply(R.RECIPIENT_OK)

    def _checkLiteral(self, address: str) -> None:
        """The recipient checks that every submission makes (L{checkRecipient})."""
        assert self.sender is not None  # RCPT needs AUTH (_requireSession)
        checkRecipient(self.settings, address, f"{self.peer} {self.sender.login}")

    def smtp_DATA(self, argument: str) -> None:
        self._requireSession()
        if self.mailFrom is None:
            self._refuse(R.BAD_SEQUENCE.format(detail="need MAIL before DATA"))
        if not self.recipients:
            self._refuse(R.NO_VALID_RECIPIENTS)
        self._data = DataReader(self.settings.maxSize, self._newContent())
        self.reply(R.START_DATA)

    def _newContent(self) -> IncomingContent:
        """Where this listener keeps a message while DATA arrives."""
        return self.settings.queue.incoming()

    async def _endOfData(self, reader: DataReader[IncomingContent]) -> None:
        incoming = reader.sink
        try:
            sender, mailFrom = self.sender, self.mailFrom
            # DATA needs AUTH (_requireSession) and MAIL
            assert sender is not None and mailFrom is not None
            if reader.problem == "size":
                raise SMTPRefusal(R.MESSAGE_TOO_BIG.format(limit=self.settings.maxSize))
            if reader.bareEndings:
                log.info(
                    "{peer}: {n} bare CR/LF normalised to CRLF",
                    peer=self.peer,
                    n=reader.bareEndings,
                )
            try:
                fields, _ = splitHeader(incoming.header)
            except HeaderError as e:
                raise SMTPRefusal(R.BAD_MESSAGE.format(detail=str(e)))
            incomingLong = reader.longLines

            def assemble(kept: list[bytes]) -> bytes | Spilled:
                if incomingLong:
                    return self._receivedHeader() + fitted(incoming.finish(b"".join(kept)))
                return incoming.finish(self._receivedHeader() + b"".join(kept))

            envid = self.mailParams.get("ENVID")
            envelope = Envelope(
                mailFrom,
                tuple(self.recipients),
                (self.mailParams.get("RET") or "").upper() or None,
                decodeXtext(envid) if envid else None,
                (self.mailParams.get("BODY") or "").upper() or None,
            )
            qid, _ = await submit(
                self.settings,
                sender,
                envelope,
                fields,
                assemble,
                self.reserved,
                self.overQuota,
                self.peer,
            )
            self._accepted()
            self.reply(R.QUEUED.format(qid=qid))
        finally:
            incoming.discard()
            self._resetTransaction()

    def _receivedHeader(self) -> bytes:
        tls = self._tlsDescription()
        protocol = "ESMTPSA" if self.sender is not None else "ESMTPS" if self.secure else "ESMTP"
        literal = f"IPv6:{self.peer}" if ":" in self.peer else self.peer  # RFC 5321 4.1.3
        return (
            f"Received: from {self.helo} ([{literal}])\r\n"
            f"\tby {self.settings.hostname} (smtpeter) with {protocol}{tls};\r\n"
            f"\t{formatdate(self.settings.clock.seconds(), localtime=False)}\r\n"
        ).encode("ascii", "replace")

    def _tlsDescription(self) -> str:
        """The session's TLS version and cipher, read once per session (they do not change)."""
        if self._tls is None:
            try:
                # An ssl.SSLObject, pyOpenSSL's Connection, or (no TLS) a socket.
                connection: Any = cast(ISystemHandle, self.transport).getHandle()
                if isinstance(connection, ssl.SSLObject):
                    suite = connection.cipher()
                    assert suite is not None  # TLS is up
                    version, cipher = connection.version(), suite[0]
                else:  # Twisted's TLS: pyOpenSSL's connection
                    version = connection.get_protocol_version_name()
                    cipher = connection.get_cipher_name()
                self._tls = f"\r\n\t(using {version} with cipher {cipher})"
            except Exception:
                self._tls = ""
        return self._tls


def fitted(content: bytes | Spilled) -> bytes:
    """
    Content with lines over 998 characters made fit for any next hop
    (L{fitLines}), in memory; a 550 5.6.0 when that cannot be done.
    """
    data = content.read() if isinstance(content, Spilled) else content
    try:
        return fitLines(data)
    except (Unfit, HeaderError) as e:
        raise SMTPRefusal(R.BAD_MESSAGE.format(detail=str(e)))
