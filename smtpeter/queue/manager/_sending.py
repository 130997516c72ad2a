"""
Sending a due message's copies: through the rendered copies of the feature
chain to the delivery agent; and the suppression list, which holds some
recipients back and to which unknown addresses are added.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from attrs import evolve
from twisted.internet.defer import Deferred, DeferredList, DeferredSemaphore
from twisted.logger import Logger

from ...delivery import PERMANENT, Outcome
from ...message import QueuedMessage
from ...store import HARD_BOUNCE
from ._settlement import SUPPRESSED, UNSUBSCRIBED

if TYPE_CHECKING:
    from ...delivery import IDeliveryAgent
    from ...features import Copy, Prepared
    from ...features.interfaces import ITransformer
    from ...store import ISuppressionStore

log = Logger()


async def deliverCopies(
    transformer: ITransformer,
    agent: IDeliveryAgent,
    message: QueuedMessage,
    prepared: Prepared,
    pending: list[int],
    copiesAtOnce: int,
    beforeDot: Callable[[], Deferred[bool]] | None = None,
) -> list[Outcome]:
    """
    The outcome of each of the C{pending} recipients (in their order): one
    transaction for all of them when their copies are the same, else one
    per recipient, at most C{copiesAtOnce} copies rendered and in memory at
    a time.
    """
    # Only a shared queue asks (the agents in tests know no such argument).
    asked = {} if beforeDot is None else {"beforeDot": beforeDot}
    if prepared.shared:
        copy = await transformer.render(prepared, None)
        recipients = [message.envelope.recipients[i] for i in pending]
        return await agent.deliver(_sentAs(message, copy), copy.content, recipients, **asked)
    slots = DeferredSemaphore(copiesAtOnce)

    async def one(index: int) -> Outcome:
        copy = await transformer.render(prepared, index)
        recipient = message.envelope.recipients[index]
        [outcome] = await agent.deliver(_sentAs(message, copy), copy.content, [recipient], **asked)
        return outcome

    results = await DeferredList(
        [slots.run(one, i) for i in pending],
        fireOnOneErrback=True,
        consumeErrors=True,
    )
    return [outcome for _, outcome in results]


async def suppressedOutcomes(
    suppressions: ISuppressionStore | None, message: QueuedMessage, pending: list[int], now: float
) -> dict[int, Outcome]:
    """
    The pending recipients whose address C{suppressions} (an
    L{ISuppressionStore}, or C{None}) holds for the message's login (the
    gateway's entries, and the login's own: its recipients' unsubscribes),
    with their outcome: not attempted, and why (its C{state} is
    L{SUPPRESSED} or L{UNSUBSCRIBED}, the failure's reason). A DSN, or a
    message that ignores suppression, has none.
    """
    if suppressions is None or message.isDSN or message.options.ignoresSuppression:
        return {}
    addresses = [message.envelope.recipients[i].address for i in pending]
    found = await suppressions.suppressed(addresses, now, message.options.login)
    outcomes = {}
    for index, address in zip(pending, addresses, strict=True):
        entry = found.get(address)
        if entry is not None:
            when = datetime.fromtimestamp(entry.created, UTC).strftime("%Y-%m-%d")
            because = f" by message {entry.qid}" if entry.qid else ""
            if entry.login is None:
                text, reason = f"{address} is on the suppression list", SUPPRESSED
            else:
                text = f"{address} unsubscribed from login {entry.login}'s mail"
                reason = UNSUBSCRIBED
            outcomes[index] = Outcome(
                PERMANENT,
                550,
                "5.7.1",
                f"not attempted: {text} ({entry.reason} on {when}{because})",
                reason,
            )
    return outcomes


def suppress(
    suppressions: ISuppressionStore | None,
    qid: str,
    address: str,
    now: float,
    keepFor: timedelta | None,
) -> None:
    """
    Put an address the next hop said does not exist on the suppression list
    (if there is one), for C{keepFor} (C{None}: for ever). Failing to is logged.
    """
    if suppressions is None:
        return
    expires = now + keepFor.total_seconds() if keepFor else None
    d = suppressions.suppress(address, HARD_BOUNCE, now, expires, qid)
    d.addErrback(lambda f: log.failure("could not suppress {address}", f, address=address))


def _sentAs(message: QueuedMessage, copy: Copy) -> QueuedMessage:
    """The message with the envelope sender its copy goes out with (VERP)."""
    if copy.sender == message.envelope.sender:
        return message
    return evolve(message, envelope=evolve(message.envelope, sender=copy.sender))
