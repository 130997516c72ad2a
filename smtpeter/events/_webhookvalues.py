"""
A webhook and one delivery of an event to it: the values the store keeps
(L{smtpeter.store}) and the dispatcher sends (L{WebhookDispatcher}). They
live here, beside the events they carry, so that the store may import the
events package and the events package need not import the store.
"""

from __future__ import annotations

from attrs import frozen


@frozen
class Webhook:
    id: int
    url: str
    events: tuple[str, ...]
    secret: str
    enabled: bool
    disabledReason: str | None
    created: float
    lastSuccess: float | None
    lastError: str | None

    def toJSON(self) -> dict:
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "enabled": self.enabled,
            "disabled_reason": self.disabledReason,
            "created": self.created,
            "last_success": self.lastSuccess,
            "last_error": self.lastError,
        }


@frozen
class Delivery:
    """
    One event on its way to one webhook. C{id} is the queue's row; C{uid}, the
    C{Smtpeter-Delivery} header, is random, so it is never used twice, not
    even after the row is gone, and it stays the same across retries.
    """

    id: int
    webhook: Webhook
    event: int
    type: str
    body: bytes
    created: float
    attempts: int
    uid: str
