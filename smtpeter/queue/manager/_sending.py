"""
Sending a due message's copies: through the rendered copies of the feature
chain to the delivery agent, and the outcome of recipients the suppression
list holds back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from attrs import evolve
from twisted.internet.defer import DeferredList, DeferredSemaphore, ensureDeferred

from ...delivery import PERMANENT, Outcome
from ...message import QueuedMessage


async def deliverCopies(
    transformer, agent, message: QueuedMessage, prepared, pending: list[int], copiesAtOnce: int
) -> list[Outcome]:
    """
    The outcome of each of the C{pending} recipients (in their order): one
    transaction for all of them when their copies are the same, else one
    per recipient, at most C{copiesAtOnce} copies rendered and in memory at
    a time.
    """
    if prepared.shared:
        copy = await transformer.render(prepared, None)
        recipients = [message.envelope.recipients[i] for i in pending]
        return await agent.deliver(_sentAs(message, copy), copy.content, recipients)
    slots = DeferredSemaphore(copiesAtOnce)

    async def one(index: int) -> Outcome:
        copy = await transformer.render(prepared, index)
        recipient = message.envelope.recipients[index]
        [outcome] = await agent.deliver(_sentAs(message, copy), copy.content, [recipient])
        return outcome

    results = await DeferredList(
        [slots.run(lambda i=i: ensureDeferred(one(i))) for i in pending],
        fireOnOneErrback=True,
        consumeErrors=True,
    )
    return [outcome for _, outcome in results]


def suppressedOutcomes(found: dict, message: QueuedMessage, pending: list[int]) -> dict:
    """
    The outcome of each pending recipient whose address is in C{found} (the
    suppression list's entries by address): not attempted, and why.
    """
    outcomes = {}
    for index in pending:
        address = message.envelope.recipients[index].address
        entry = found.get(address)
        if entry is not None:
            when = datetime.fromtimestamp(entry.created, UTC).strftime("%Y-%m-%d")
            because = f" by message {entry.qid}" if entry.qid else ""
            outcomes[index] = Outcome(
                PERMANENT,
                550,
                "5.7.1",
                f"not attempted: {address} is on the suppression list"
                f" ({entry.reason} on {when}{because})",
                "suppressed",
            )
    return outcomes


def _sentAs(message: QueuedMessage, copy) -> QueuedMessage:
    """The message with the envelope sender its copy goes out with (VERP)."""
    if copy.sender == message.envelope.sender:
        return message
    return evolve(message, envelope=evolve(message.envelope, sender=copy.sender))
