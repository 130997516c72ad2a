"""
The event log's values, as the stores answer them and the API, the
dashboard and the webhooks read them: the kinds of event, a stored event,
a message's record, the queries, and a recipient's status from its events.
"""

from __future__ import annotations

import time

from attrs import frozen

from ..message import Recipient


def isoTime(seconds: float) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{whole}.{int(seconds * 1000) % 1000:03d}Z"


#: The kinds of event, as stored and as the API names them.
TYPES = (
    "attempt",
    "delivery",
    "failure",
    "bounce",
    "click",
    "open",
    "warning",
    "refused",
    "unsubscribe",
)


@frozen
class StoredEvent:
    id: int
    type: str
    time: float
    qid: str
    recipient: str
    tags: tuple[str, ...]
    details: dict

    def toJSON(self) -> dict:
        data = {
            "id": self.id,
            "type": self.type,
            "time": isoTime(self.time),
            "timestamp": self.time,
            "messageid": self.qid,
            "email": self.recipient,
            "tags": list(self.tags),
        }
        for key, value in self.details.items():
            data.setdefault(key, value)
        return data


class LaterEvent:
    """An event sent to PostgreSQL whose id is not read yet: L{resolved} reads it."""

    __slots__ = ("cursor", "fields")

    def __init__(self, cursor, fields: tuple) -> None:
        self.cursor, self.fields = cursor, fields


def resolved(event: StoredEvent | LaterEvent) -> StoredEvent:
    """The event, with its id (read from the server for a L{LaterEvent})."""
    if isinstance(event, LaterEvent):
        (eventId,) = event.cursor.fetchone()
        return StoredEvent(eventId, *event.fields)
    return event


@frozen
class MessageRecord:
    qid: str
    received: float
    sender: str
    recipients: tuple[Recipient, ...]
    ret: str | None
    envid: str | None
    tags: tuple[str, ...]
    options: dict
    isDSN: bool
    #: What search needs: the Subject and From header fields (decoded), the
    #: size in bytes and the login that sent it (None for records from
    #: before these were kept).
    subject: str | None = None
    fromHeader: str | None = None
    size: int | None = None
    login: str | None = None

    def recipient(self, index: int) -> Recipient | None:
        return self.recipients[index] if 0 <= index < len(self.recipients) else None


@frozen
class EventQuery:
    """The filters of C{GET /v1/events}; every one optional."""

    messageid: str | None = None
    email: str | None = None
    tag: str | None = None
    start: float | None = None
    end: float | None = None
    type: str | None = None
    after: int = 0
    limit: int = 100


#: What a message search's C{status} selects: messages with a recipient in that state.
#: C{held}: sent by a login in hold mode and no outcome yet (the spool knows
#: whether it was released since: the dashboard asks it).
STATUSES = ("queued", "held", "delivered", "deferred", "failed", "bounced")


@frozen
class MessageQuery:
    """
    The filters of a message search (the dashboard's activity page), every one
    optional: C{recipient}, C{sender} (envelope or From) and C{subject} match
    a part, case-insensitively; the rest match exactly. Newest first; C{before}
    is the C{(received, qid)} of the last message of the previous page.
    """

    messageid: str | None = None
    recipient: str | None = None
    sender: str | None = None
    subject: str | None = None
    tag: str | None = None
    login: str | None = None
    status: str | None = None
    start: float | None = None
    end: float | None = None
    before: tuple[float, str] | None = None
    limit: int = 50


@frozen
class FoundMessage:
    """A message a search found, and each recipient's state (L{recipientStatus})."""

    record: MessageRecord
    recipients: dict


@frozen
class LinkQuery:
    """Which clicks L{EventStore.topLinks} counts: C{[start, end)}, one tag or all."""

    start: float
    end: float
    tag: str | None = None
    limit: int = 20


def recipientStatus(events) -> dict:
    """
    Each recipient's state from its events: queued, deferred, delivered,
    failed, bounced; a failure's C{reason} (C{suppressed}, C{unsubscribed},
    C{expired}, ...) while it is the latest failure.
    """
    status: dict[str, dict] = {}
    for event in events:
        entry = status.setdefault(
            event.recipient, {"status": "queued", "attempts": 0, "clicks": 0, "opens": 0}
        )
        if event.type == "delivery":
            entry.update(status="delivered", attempts=event.details.get("attempt", 0))
        elif event.type == "failure":
            permanent = event.details.get("permanent", True)
            entry.update(
                status="failed" if permanent else "deferred",
                attempts=event.details.get("attempt", 0),
                last_error=f"{event.details.get('code')} {event.details.get('text', '')}".strip(),
            )
            reason = event.details.get("reason")
            if reason:
                entry["reason"] = reason
            else:
                entry.pop("reason", None)
        elif event.type == "bounce":
            entry.update(status="bounced", bounce_class=event.details.get("class"))
        elif event.type == "click":
            entry["clicks"] += 1
        elif event.type == "open":
            entry["opens"] += 1
        elif event.type == "unsubscribe":
            entry["unsubscribed"] = True
        if event.type != "attempt":
            entry["updated"] = isoTime(event.time)
    return status
