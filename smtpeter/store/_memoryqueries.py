"""
The searches of the store in memory, over its records as plain lists and
dictionaries: what the SQLite store's queries answer (events, messages,
the links clicked most, the counters), for L{MemoryStore}. The contract
tests hold the two to the same answers.
"""

from __future__ import annotations

from typing import Any

from ._events import (
    EventQuery,
    FoundMessage,
    LinkQuery,
    MessageQuery,
    MessageRecord,
    StoredEvent,
    recipientStatus,
)
from ._stats import STEPS, kindOf, senderDomain, series


def matchingEvents(stored: list[StoredEvent], query: EventQuery) -> list[StoredEvent]:
    """The events C{query} asks for, as the SQLite store's C{events} finds them."""

    def wanted(e: StoredEvent) -> bool:
        return (
            e.id > query.after
            and (query.tag is None or query.tag in e.tags)
            and (query.messageid is None or e.qid == query.messageid)
            and (query.email is None or e.recipient.lower() == query.email.lower())
            and (query.type is None or e.type == query.type)
            and (query.start is None or e.time >= query.start)
            and (query.end is None or e.time < query.end)
        )

    return [e for e in stored if wanted(e)][: query.limit]


def matchingMessages(
    messages: dict[str, MessageRecord], stored: list[StoredEvent], query: MessageQuery
) -> list[FoundMessage]:
    """The messages C{query} asks for, newest first, each with its recipients' status."""

    def has(needle, *haystacks) -> bool:
        return needle is None or any(needle.lower() in (h or "").lower() for h in haystacks)

    def outcome(e: StoredEvent, status: str) -> bool:
        permanent = e.details.get("permanent", True)
        return (
            e.type == {"delivered": "delivery", "bounced": "bounce"}.get(status, "failure")
            and (status != "failed" or permanent)
            and (status != "deferred" or not permanent)
        )

    def wanted(m: MessageRecord, events: list) -> bool:
        if query.status in ("queued", "held"):
            status = not any(e.type in ("delivery", "failure", "bounce") for e in events)
            status = status and (query.status == "queued" or bool(m.options.get("hold")))
        else:
            status = query.status is None or any(outcome(e, query.status) for e in events)
        return (
            status
            and query.messageid in (None, m.qid)
            and has(query.recipient, *(r.address for r in m.recipients))
            and has(query.sender, m.sender, m.fromHeader)
            and has(query.subject, m.subject)
            and (query.tag is None or query.tag in m.tags)
            and query.login in (None, m.login)
            and (query.start is None or m.received >= query.start)
            and (query.end is None or m.received < query.end)
            and (query.before is None or (m.received, m.qid) < query.before)
        )

    found = []
    for m in sorted(messages.values(), key=lambda m: (m.received, m.qid), reverse=True):
        events = [e for e in stored if e.qid == m.qid and e.type != "attempt"]
        if wanted(m, events):
            found.append(FoundMessage(m, recipientStatus(events)))
    return found[: query.limit]


def clickedLinks(stored: list[StoredEvent], query: LinkQuery) -> list[dict[str, Any]]:
    """The links clicked most, as the SQLite store's C{topLinks} counts them."""
    counted: dict[str, list] = {}
    for e in stored:
        if (
            e.type == "click"
            and query.start <= e.time < query.end
            and (query.tag is None or query.tag in e.tags)
        ):
            url = e.details.get("destination") or ""
            counted.setdefault(url, []).append((e.qid, e.recipient))
    found: list[dict[str, Any]] = [
        {"url": url, "clicks": len(who), "recipients": len(set(who))}
        for url, who in counted.items()
    ]
    found.sort(key=lambda f: (-f["clicks"], f["url"]))
    return found[: query.limit]


def countedSeries(messages: dict[str, MessageRecord], stored: list[StoredEvent], query: Any) -> Any:
    """The counters C{query} asks for, as the SQLite store's C{stats} sums them."""
    step = STEPS[query.step]
    counted = []
    for event in stored:
        kind = kindOf(event.type, event.details)
        record = messages.get(event.qid)
        login = (record.login or "") if record is not None else ""
        domain = senderDomain(record.fromHeader, record.sender) if record else ""
        # Counters have whole hours: the range is widened to them.
        if kind is None or not (
            query.start // 3600 * 3600 <= event.time < -(-query.end // 3600) * 3600
        ):
            continue
        if (query.tag or "") not in ("", *event.tags):
            continue
        if query.login is not None and login != query.login:
            continue
        if query.domain is not None and domain != query.domain.lower():
            continue
        counted.append((int(event.time // step) * step, kind, 1))
    return series(counted, query)
