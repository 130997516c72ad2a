"""
The one way a message is submitted, whatever brought it: an SMTP session's
DATA (L{MailCommands<smtpeter.smtp._mailcommands.MailCommands>}) or the
REST API's C{POST /v1/send} (L{smtpeter.web}). Both ask the same checks of
the same login, count its recipients against the same limits, and answer
only once L{submit} returned: the message is then in the queue, durably.

 - a recipient: L{checkRecipient} (address literals to internal hosts),
   then L{admitRecipient} (the login's rate and quota);
 - the envelope sender: L{checkEnvelopeSender<smtpeter.smtp._senders.
   checkEnvelopeSender>};
 - the message: L{submit} checks its From: against the sender domains,
   reads its C{x-smtpeter-*} options (the one place they are read), holds
   it for a login in hold mode or over its quota, adds what its header
   lacks (Message-ID, Date), queues it, and counts its recipients for good.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from attrs import evolve
from twisted.logger import Logger

from ..message import Envelope, Options
from ..runtime import parseAddress
from . import _replies as R
from ._address import addressLiteral
from ._exceptions import SMTPRefusal
from ._limits import Admission
from ._options import completeHeader, readOptions
from ._senders import checkFromHeader

if TYPE_CHECKING:
    from ..queue import Spilled
    from ._auth import ISender
    from ._state import ServerSettings

log = Logger()


class OverLimit(SMTPRefusal):
    """A recipient refused over its login's rate or quota (its L{Admission})."""

    def __init__(self, admission: Admission) -> None:
        super().__init__(admission.reply)
        self.admission = admission


def checkRecipient(settings: ServerSettings, address: str, who: str) -> None:
    """
    Refuse a recipient at an address literal that delivery may not
    connect to (C{x@[127.0.0.1]}, C{x@[169.254.169.254]}): otherwise a
    login could make the gateway talk SMTP to internal hosts and read
    their answers in the deferral or the DSN. C{who} names the client in
    the log line.

    @raise SMTPRefusal: C{550 5.7.1}, or C{501 5.1.3} for a literal that is
        no address.
    """
    policy = settings.recipientLiterals
    literal = addressLiteral(address)
    if policy is None or literal is None:
        return
    if parseAddress(literal) is None:
        raise SMTPRefusal(R.BAD_ADDRESS.format(detail=f"{literal!r} is not an IP address"))
    why = policy.refusal(literal)
    if why is not None:
        log.info("{who}: refused recipient <{address}>: {why}", who=who, address=address, why=why)
        raise SMTPRefusal(R.NOT_PUBLIC_ADDRESS.format(literal=address.rpartition("@")[2]))


async def admitRecipient(
    settings: ServerSettings, sender: ISender, mailFrom: str, address: str
) -> Admission:
    """
    Count one more recipient of C{sender} against its rate and quota (a
    login without them is admitted at once). The answer's C{keys} are
    reserved: hand them to L{submit}, or release them
    (C{settings.limits.release}).

    @raise OverLimit: over the rate, or over the quota of a login that
        refuses its mail then (a C{refused} event is recorded).
    """
    limits = settings.limits
    if limits is None or not sender.limited:
        return Admission()
    now = settings.clock.seconds()
    admission = await limits.admit(sender, now)
    if admission.refused is not None:
        limits.refused(sender.login, mailFrom, address, admission, now)
        raise OverLimit(admission)
    return admission


async def submit(
    settings: ServerSettings,
    sender: ISender,
    envelope: Envelope,
    fields: list[bytes],
    assemble: Callable[[list[bytes]], bytes | Spilled],
    reserved: list,
    overQuota: bool,
    peer: str,
) -> tuple[str, Options]:
    """
    Queue a message of C{sender}, whose header fields are C{fields} (raw,
    as L{splitHeader<smtpeter.message.splitHeader>} gives them);
    C{assemble} makes the content to queue from the fields kept. C{reserved}
    are the recipients' keys L{admitRecipient} reserved: counted for good
    once the message is queued (and emptied then), unless C{overQuota}
    (then the message is held, and not counted); C{peer} names the client
    in the log line. @return: the queue id and
    the message's options, once the message is durably queued.

    @raise SMTPRefusal: a From: outside the login's sender domains, or an
        option the registry cannot read.
    """
    checkFromHeader(fields, sender.senderDomains)
    kept, options = readOptions(fields, sender.features, sender.login, sender.publicUrl)
    if sender.hold or overQuota:
        options = evolve(options, hold=True)
    kept, options = completeHeader(kept, options, settings.hostname, settings.clock.seconds())
    content = assemble(kept)
    qid = await settings.queue.enqueue(envelope, options, content)
    limits = settings.limits
    if reserved and not overQuota and limits is not None:
        # (held over the quota: not counted)
        limits.commit(reserved)
        del reserved[:]
    log.info(
        "{peer} {login}: queued {qid} from <{sender}> for {n} recipient(s), {size} bytes",
        peer=peer,
        login=sender.login,
        qid=qid,
        sender=envelope.sender,
        n=len(envelope.recipients),
        size=len(content),
    )
    return qid, options
