"""
The bounce receiver (C{--mx}): an SMTP server without AUTH, STARTTLS
offered, that takes mail only for the signed bounce addresses that
trackbounces put on outgoing mail. Every other recipient gets C{550 5.7.1},
so this listener can never relay.

Each bounce is tied to its message and recipient by the address, recorded
as a C{bounce} event (class, action, status, diagnostic and the MIME), and
forwarded to the original envelope sender when that sender's DSN request
asks for it (L{forwarding<smtpeter.events._bounces.forwarding>}). The 250
goes out only after the event and any forwarded copy are on disk.
"""

from __future__ import annotations

from typing import NoReturn

from twisted.logger import Logger

from ..events import COMPLAINT, HARD, forwarding, readBounce
from ..features import TokenSigner
from ..message import Envelope, Recipient
from ..queue import IncomingContent
from ..runtime import RECIPIENTS_BOUNCED, RepeatedErrors, loginLabel
from ..store import COMPLAINT as SUPPRESSED_COMPLAINT
from ..store import HARD_BOUNCE
from . import _replies as R
from ._exceptions import SMTPRefusal
from ._mailcommands import fitted
from ._protocol import SubmissionFactory, SubmissionServer

log = Logger()
#: Errors that come again and again (a damaged database): once a minute, counted.
repeated = RepeatedErrors(log)

NOT_A_BOUNCE_ADDRESS = R.Reply(
    550, "5.7.1", "<{address}>: this server takes only bounces for its own bounce addresses"
)
NO_AUTH_HERE = R.Reply(503, "5.5.1", "AUTH is not offered here; submit mail on the submission port")
BOUNCE_TAKEN = R.Reply(250, "2.0.0", "Ok: bounce recorded")
#: At most this much of a bounce's MIME is kept on its event.
MIME_KEPT = 256 * 1024


class BounceIntake:
    """Records bounces and forwards them as the original sender asked."""

    def __init__(
        self, events, queue, signer: TokenSigner, domain: str, clock, suppressFor=None
    ) -> None:
        self.events = events
        self.queue = queue
        self.signer = signer
        self.domain = domain.lower()
        self.clock = clock
        #: How long a hard bounce or complaint suppresses its address (C{None}: for ever).
        self.suppressFor = suppressFor

    def check(self, address: str):
        """The L{TrackingId} of a bounce address of ours, else C{None}."""
        local, at, domain = address.rpartition("@")
        if not at or domain.lower().rstrip(".") != self.domain:
            return None
        return self.signer.readBounce(local)

    async def receive(self, mailFrom: str, found: list, content: bytes) -> None:
        report = readBounce(content)
        for tracking in found:
            record = await self.events.message(tracking.qid)
            forward, why = forwarding(record, tracking.recipient, report)
            recipient = record.recipient(tracking.recipient) if record is not None else None
            details = {
                **report.toJSON(),
                "from": mailFrom,
                "forwarded": forward,
                "forward_reason": why,
                "mime": content[:MIME_KEPT].decode("utf-8", "replace"),
            }
            address = recipient.address if recipient is not None else ""
            if address and report.kind in (HARD, COMPLAINT):
                now = self.clock.seconds()
                expires = now + self.suppressFor.total_seconds() if self.suppressFor else None
                reason = HARD_BOUNCE if report.kind == HARD else SUPPRESSED_COMPLAINT
                await self.events.suppress(address, reason, now, expires, tracking.qid)
            await self.events.recordBounce(
                tracking.qid,
                address,
                record.tags if record is not None else (),
                details,
                self.clock.seconds(),
            )
            RECIPIENTS_BOUNCED.labels(loginLabel(record.login if record else None)).inc()
            forwardedAs = None
            if forward:
                envelope = Envelope("", (Recipient(record.sender, ("NEVER",)),))
                forwardedAs = await self.queue.enqueueNotice(envelope, content)
            log.info(
                "{qid} bounce <{recipient}> class={kind} reason={reason} status={status}:"
                " {what} ({why})",
                qid=tracking.qid,
                recipient=address,
                kind=report.kind,
                reason=report.reason,
                status=report.status or "-",
                what=f"forwarded as {forwardedAs}" if forward else "not forwarded",
                why=why,
            )


class BounceServer(SubmissionServer):
    def __init__(self, settings, intake: BounceIntake) -> None:
        super().__init__(settings, implicitTLS=False)
        self.intake = intake

    def _resetTransaction(self) -> None:
        super()._resetTransaction()
        self.found: list = []

    def _extensions(self) -> list[str]:
        return ["STARTTLS"] if not self.secure and self.settings.tlsOptions is not None else []

    def _requireSession(self) -> None:
        """No AUTH and no TLS needed: only our own addresses are taken."""

    def smtp_AUTH(self, argument: str) -> NoReturn:
        self._refuse(NO_AUTH_HERE)

    def smtp_RCPT(self, argument: str) -> None:
        path = self._recipientPath(argument)
        tracking = self.intake.check(path.address)
        if tracking is None:
            self._refuse(NOT_A_BOUNCE_ADDRESS.format(address=path.address[:200]))
        self.recipients.append(Recipient(path.address))
        self.found.append(tracking)
        self.reply(R.RECIPIENT_OK)

    def _newContent(self) -> IncomingContent:
        """Bounces are read whole (and are at most --max-size): kept in memory."""
        return IncomingContent()

    async def _endOfData(self, reader) -> None:
        try:
            if reader.problem == "size":
                raise SMTPRefusal(R.MESSAGE_TOO_BIG.format(limit=self.settings.maxSize))
            content = reader.sink.finish(reader.sink.header)
            if reader.longLines:
                try:
                    content = fitted(content)
                except SMTPRefusal:
                    pass  # read all the same; a copy forwarded goes as it came
            content = self._receivedHeader() + content
            assert self.mailFrom is not None  # DATA is refused before MAIL
            try:
                await self.intake.receive(self.mailFrom, self.found, content)
            except Exception:
                repeated.failure("could not record a bounce from {peer}", peer=self.peer)
                raise SMTPRefusal(R.LOCAL_ERROR)
            self._accepted()
            self.reply(BOUNCE_TAKEN)
        finally:
            self._resetTransaction()


class BounceFactory(SubmissionFactory):
    def __init__(self, settings, intake: BounceIntake) -> None:
        super().__init__(settings, implicitTLS=False)
        self.intake = intake

    def buildProtocol(self, addr) -> BounceServer:
        protocol = BounceServer(self.settings, self.intake)
        protocol.factory = self
        return protocol
