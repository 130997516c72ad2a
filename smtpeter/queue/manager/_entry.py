"""A message in the manager's hands: its recipients' states and where it stands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define, field

from ...message import QueuedMessage
from ._settlement import PENDING, RecipientState

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall


@define
class Entry:
    message: QueuedMessage
    states: list[RecipientState]
    content: bytes | None = field(default=None, repr=False)
    timer: IDelayedCall | None = None
    running: bool = False
    #: Due, and waiting in the ready queue for a delivery slot.
    ready: bool = False
    #: Kept for a login in hold mode: not delivered until released.
    held: bool = False

    @property
    def pending(self) -> list[int]:
        return [i for i, s in enumerate(self.states) if s.status == PENDING]


def adopted(message: QueuedMessage, saved: dict[int, dict]) -> Entry:
    """A message read back from a spool, with the recipients' states saved (the others new)."""
    states = [
        RecipientState.fromJSON(saved[i]) if i in saved else RecipientState()
        for i in range(len(message.envelope.recipients))
    ]
    return Entry(message, states)
