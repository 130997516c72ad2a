"""
One open conversation with a next hop: greeting, EHLO, STARTTLS, AUTH,
then as many mail transactions as the pool gives it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from attrs import define
from twisted.internet import ssl
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..message import Envelope, Recipient, sevenBit
from ..smtp import encodeXtext, isAddressType
from ._client import ClientError, SMTPClientProtocol
from ._outcome import Outcome

log = Logger()

TLS_NONE = "none"
TLS_OPPORTUNISTIC = "opportunistic"
TLS_VERIFY = "verify"


#: Asked before the final dot of a transaction: is the message still ours to send?
BeforeDot = Callable[[], Deferred[bool]]


class Abandoned(Exception):
    """A transaction given up just before its final dot (its message is no longer ours to send)."""


class HopRefused(Exception):
    """The hop cannot take mail now (greeting, EHLO, TLS or AUTH failed)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.describe())
        self.outcome = outcome


@define
class Credentials:
    user: str
    password: str = ""  # never logged: see __repr__

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r}, password=<hidden>)"


def tlsOptionsFor(host: str, mode: str):
    if mode == TLS_VERIFY:
        return ssl.optionsForClientTLS(host)
    return ssl.CertificateOptions()


@define
class HopSession:
    """An established, greeted (and if possible encrypted) connection."""

    protocol: SMTPClientProtocol
    host: str
    messages: int = 0

    @classmethod
    async def open(
        cls,
        protocol: SMTPClientProtocol,
        host: str,
        helo: str,
        tls: str,
        credentials: Credentials | None,
    ) -> HopSession:
        def refused(reply, state: str) -> HopRefused:
            outcome = Outcome.fromReply(reply, state, host)
            if outcome.status == "delivered":
                outcome = Outcome.transient(str(reply), state, host)
            return HopRefused(outcome)

        greeting = await protocol.greeting
        if greeting.code != 220:
            raise refused(greeting, "greeting")
        reply = await protocol.ehlo(helo)
        if reply.code != 250:
            raise refused(reply, "EHLO")
        if tls != TLS_NONE and "STARTTLS" in protocol.extensions:
            reply = await protocol.startTLS(tlsOptionsFor(host, tls))
            if reply.code != 220:
                if tls == TLS_VERIFY:
                    raise refused(reply, "STARTTLS")
            else:
                reply = await protocol.ehlo(helo)
                if reply.code != 250:
                    raise refused(reply, "EHLO after STARTTLS")
        elif tls == TLS_VERIFY:
            raise HopRefused(
                Outcome.transient("next hop does not offer STARTTLS", "STARTTLS", host, "4.7.5")
            )
        if credentials is not None:
            reply = await protocol.authenticate(credentials.user, credentials.password)
            if reply.code != 235:
                raise refused(reply, "AUTH")
        return cls(protocol, host)

    @property
    def usable(self) -> bool:
        return not self.protocol.lost

    def _mailCommand(self, envelope: Envelope, size: int) -> str:
        ext = self.protocol.extensions
        words = [f"MAIL FROM:<{envelope.sender}>"]
        if "SIZE" in ext:
            words.append(f"SIZE={size}")
        if envelope.body == "8BITMIME" and "8BITMIME" in ext:
            words.append("BODY=8BITMIME")
        if "DSN" in ext:
            if envelope.ret:
                words.append(f"RET={envelope.ret}")
            if envelope.envid:
                words.append(f"ENVID={encodeXtext(envelope.envid)}")
        return " ".join(words)

    def _rcptCommand(self, recipient: Recipient) -> str:
        words = [f"RCPT TO:<{recipient.address}>"]
        if "DSN" in self.protocol.extensions:
            if recipient.notify:
                words.append("NOTIFY=" + ",".join(recipient.notify))
            kind, _, address = (recipient.orcpt or "").partition(";")
            # (checked when it was given; checked again here, as it is
            # written into the command as it is)
            if address and isAddressType(kind):
                words.append(f"ORCPT={kind};{encodeXtext(address)}")
        return " ".join(words)

    async def transfer(
        self,
        envelope: Envelope,
        recipients: list[Recipient],
        content: bytes,
        beforeDot: BeforeDot | None = None,
    ) -> list[Outcome]:
        """
        One mail transaction; returns an outcome per recipient. With
        PIPELINING, MAIL, every RCPT and DATA go out in one write (RFC 2920).
        """
        protocol = self.protocol
        self.messages += 1
        if "8BITMIME" not in protocol.extensions and not content.isascii():
            # RFC 6152 3: 8-bit parts go as quoted-printable (or base64) to
            # a server that did not say it takes 8-bit data.
            content = sevenBit(content)
        commands = [self._mailCommand(envelope, len(content))]
        commands += [self._rcptCommand(r) for r in recipients]
        pipelining = "PIPELINING" in protocol.extensions
        relayed = "DSN" in protocol.extensions
        if pipelining:
            protocol.write("".join(c + "\r\n" for c in commands + ["DATA"]).encode())
            *replies, dataReply = await protocol.expectReplies(len(commands) + 1)
        else:
            dataReply = None
            replies = []
            for command in commands:
                replies.append(await protocol.command(command))
                if replies[0].code != 250:
                    break
        mailReply = replies[0]
        if mailReply.code != 250:
            await self._reset()
            return [Outcome.fromReply(mailReply, "MAIL", self.host)] * len(recipients)
        outcomes: list[Outcome | None] = []
        for reply in replies[1:]:
            outcomes.append(
                None
                if reply.code == 250 or reply.code == 251
                else Outcome.fromReply(reply, "RCPT", self.host)
            )
        if all(o is not None for o in outcomes):
            if dataReply is not None and dataReply.code == 354:
                # A server that started DATA although no recipient was
                # accepted gets an empty message it must refuse.
                protocol.write(b".\r\n")
                await protocol.expect()
            await self._reset()
            return cast(list[Outcome], outcomes)  # every one refused: none is None
        if not pipelining:
            dataReply = await protocol.command("DATA")
        assert dataReply is not None  # read with the others when pipelining
        if dataReply.code != 354:
            await self._reset()
            final = Outcome.fromReply(dataReply, "DATA", self.host)
            return [o or final for o in outcomes]
        if beforeDot is None:
            protocol.sendData(content)
        else:
            protocol.sendData(content, dot=False)
            try:
                ours = await beforeDot()
            except Exception as e:
                raise Abandoned(f"could not tell whether it is still ours to send: {e}") from e
            if not ours:
                raise Abandoned("no longer ours to send (another worker claimed it)")
            protocol.sendDot()
        endReply = await protocol.expect()
        final = Outcome.fromReply(endReply, "end of DATA", self.host, relayed)
        return [o or final for o in outcomes]

    async def _reset(self) -> None:
        reply = await self.protocol.command("RSET")
        if reply.code != 250:
            raise ClientError(f"RSET refused: {reply}")

    async def quit(self) -> None:
        try:
            await self.protocol.command("QUIT")
        except Exception:
            pass
        self.protocol.connection.loseConnection()
