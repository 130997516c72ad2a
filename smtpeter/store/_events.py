"""
The event log in SQLite: one row per message accepted (its envelope, tags
and options, kept after the spool has forgotten it) and one row per event
(attempt, delivery, failure, bounce, click, open), with a side table of
tags so that every filter the REST API offers (message id, recipient, tag,
time, type) is an index lookup.

Synchronous and meant for one writing thread (L{SQLiteStore<smtpeter.store.
SQLiteStore>} groups many writes into one transaction) and any number of
reading threads, each with its own connection.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

from ..message import QueuedMessage, Recipient
from . import _engines, _eventdays, _links
from ._engine import Connection
from ._eventbatch import Unsent
from ._eventvalues import (
    STATUSES,
    TYPES,
    EventQuery,
    FoundMessage,
    LaterEvent,
    LinkQuery,
    MessageQuery,
    MessageRecord,
    StoredEvent,
    isoTime,
    recipientStatus,
    resolved,
)
from ._stats import StatsStore
from ._summary import summary

__all__ = [
    "STATS_KEPT_LONGER",
    "STATUSES",
    "TYPES",
    "EventQuery",
    "EventStore",
    "FoundMessage",
    "LaterEvent",
    "LinkQuery",
    "MessageQuery",
    "MessageRecord",
    "StoredEvent",
    "isoTime",
    "recipientStatus",
    "resolved",
    "summary",
]

#: How much longer than events the hourly counters are kept, in seconds.
STATS_KEPT_LONGER = 365 * 86400


def _like(text: str) -> str:
    """A LIKE pattern matching C{text} anywhere (with C{ESCAPE '\\'})."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# Common outcomes are checked per message, by its own events (through
# events_outcome, by message and type: walking every event of the type for each
# message took 40 s for a page of deliveries among a million events); rare ones
# are looked up once by type (events_type_time), so that a search finding few
# or none does not test every message one by one. tests/store/test_migrate.py
# checks that the planner takes those indexes.
_OUTCOME = "EXISTS (SELECT 1 FROM events x WHERE x.qid = m.qid AND {})"
_RARE = "m.qid IN (SELECT x.qid FROM events x WHERE {})"


@functools.cache
def _statusWhere(engine) -> dict[str, str]:
    """Each status's condition on a message C{m}, in the words of C{engine}."""
    permanent = engine.jsonFlag("x.details", "permanent")
    finished = _OUTCOME.format("x.type IN ('delivery', 'failure', 'bounce')")
    return {
        "queued": "NOT " + finished,
        "held": f"{engine.jsonFlag('m.options', 'hold')} != 0 AND NOT {finished}",
        "delivered": _OUTCOME.format("x.type = 'delivery'"),
        "deferred": _OUTCOME.format(f"x.type = 'failure' AND {permanent} = 0"),
        "bounced": _RARE.format("x.type = 'bounce'"),
        "failed": _RARE.format(f"x.type = 'failure' AND COALESCE({permanent}, 1) != 0"),
    }


def _row(row) -> StoredEvent:
    return StoredEvent(
        row[0], row[1], row[2], row[3], row[4], tuple(json.loads(row[5])), json.loads(row[6])
    )


_EVENT_COLUMNS = "e.id, e.type, e.time, e.qid, e.recipient, e.tags, e.details"
_MESSAGE_COLUMNS = (
    "m.qid, m.received, m.sender, m.recipients, m.ret, m.envid, m.tags, m.options, m.dsn,"
    " m.subject, m.from_header, m.size, m.login"
)


def _message(row) -> MessageRecord:
    return MessageRecord(
        row[0],
        row[1],
        row[2],
        tuple(Recipient.fromJSON(r) for r in json.loads(row[3])),
        row[4],
        row[5],
        tuple(json.loads(row[6])),
        json.loads(row[7]),
        bool(row[8]),
        *row[9:],
    )


class EventStore:
    """One connection's view of the event tables."""

    def __init__(self, db: Connection) -> None:
        self.db = db
        self._engine = _engines.of(db)
        self._views: dict = {}
        #: On PostgreSQL: the messages and events sent, not yet written (L{sendEvents}).
        self._unsent: Unsent | None = None

    def view(self, cls):
        """A C{cls(db)} (token or webhook store) on this connection, made once (the
        stats store keeps a cache of its own)."""
        found = self._views.get(cls)
        if found is None:
            found = self._views[cls] = cls(self.db)
        return found

    # Writing (one thread, inside a transaction the caller holds) ------------

    def addMessage(self, message: QueuedMessage) -> bool:
        """Record an accepted message; C{False} if it was recorded before."""
        return self.sendMessage(message)()

    def sendMessage(self, message: QueuedMessage) -> Callable[[], bool]:
        """
        Record an accepted message: what says, once called, whether it was
        new (C{False}: recorded before). On PostgreSQL's pipeline the first
        such answer waits for the server; the rows sent before it come too.
        """
        envelope = message.envelope
        found = summary(message)
        row = (
            message.qid,
            float(message.received),
            envelope.sender,
            json.dumps([r.toJSON() for r in envelope.recipients]),
            envelope.ret,
            envelope.envid,
            json.dumps(list(message.options.tags)),
            json.dumps(message.options.toJSON()),
            int(message.isDSN),
            found["subject"],
            found["from"],
            found["size"],
            found["login"],
        )
        if _engines.isShared(self.db):
            # Kept, and written with the others kept when the first answer is read.
            if self._unsent is None:
                self._unsent = Unsent(self)
            new = self._unsent.addMessage(row)
        else:
            cursor = self.db.execute(
                "INSERT INTO messages (qid, received, sender, recipients, ret, envid,"
                " tags, options, dsn, subject, from_header, size, login)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (qid) DO NOTHING",
                row,
            )

            def new() -> bool:
                return cursor.rowcount == 1

        def recorded() -> bool:
            if not new():
                return False
            stats = self.view(StatsStore)
            stats.remember(message.qid, found["login"], found["from"], envelope.sender)
            return True

        return recorded

    def addEvent(
        self, type: str, when: float, qid: str, recipient: str, tags, details: dict
    ) -> StoredEvent:
        return resolved(self.sendEvent(type, when, qid, recipient, tags, details))

    def sendEvent(
        self, type: str, when: float, qid: str, recipient: str, tags, details: dict
    ) -> StoredEvent | LaterEvent:
        """
        Add an event, with its tags and counters. On PostgreSQL (a pipeline,
        perhaps), a L{LaterEvent}: its id is read when it is L{resolved}, so
        that the events of a batch wait for the server once, not each.
        """
        tags = tuple(tags)
        row = (type, when, qid, recipient, json.dumps(list(tags)), json.dumps(details))
        if _engines.isShared(self.db):
            # Kept until an id is read (or L{sendEvents}): then every event
            # kept is written, with its tags, in one statement. Messages
            # kept go first: the counters read the event's message.
            if self._unsent is not None and self._unsent.holdsMessages():
                self.sendEvents()
            if self._unsent is None:
                self._unsent = Unsent(self)
            later = self._unsent.addEvent(row)
            self.view(StatsStore).count(type, when, qid, tags, details)
            return LaterEvent(later, (type, when, qid, recipient, tags, details))
        (eventId,) = self.db.execute(
            "INSERT INTO events (type, time, qid, recipient, tags, details)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            row,
        ).fetchone()
        if tags:
            self.db.executemany(*_eventdays.tagging(self.db, eventId, when, tags))
        self.view(StatsStore).count(type, when, qid, tags, details)
        return StoredEvent(eventId, type, when, qid, recipient, tags, details)

    def sendEvents(self) -> None:
        """
        On PostgreSQL: write the messages and events sent since the last
        time, in a statement each (queued, in a pipeline). The writer calls
        it before its COMMIT; reading an answer (whether a message was new,
        an event's id) or the events calls it first.
        """
        batch, self._unsent = self._unsent, None
        if batch is not None:
            batch.send(self.db)

    def discardEvents(self) -> None:
        """Forget the messages and events not written yet (their transaction is rolled back)."""
        self._unsent = None

    def recordLinks(self, qid: str, links: list[str]) -> None:
        _links.recordLinks(self.db, qid, links)

    def countEvents(self, type: str, qid: str, recipient: str) -> int:
        self.sendEvents()
        return self.db.execute(
            "SELECT count(*) FROM events WHERE qid = ? AND recipient = ? AND type = ?",
            (qid, recipient, type),
        ).fetchone()[0]

    def purge(self, before: float) -> int:
        """
        Forget events and messages older than C{before}; the number of events
        removed (on PostgreSQL, whole days' tables first: L{_eventdays}).
        """
        self.sendEvents()
        dropped = _eventdays.dropDays(self.db, before)
        self.db.execute(
            "DELETE FROM event_tags WHERE event IN (SELECT id FROM events WHERE time < ?)",
            (before,),
        )
        removed = self.db.execute("DELETE FROM events WHERE time < ?", (before,)).rowcount
        self.db.execute(
            "DELETE FROM message_links WHERE qid IN (SELECT qid FROM messages WHERE received < ?)",
            (before,),
        )
        self.db.execute("DELETE FROM messages WHERE received < ?", (before,))
        # The counters are small: they outlive the events by a year.
        self.view(StatsStore).purge(before - STATS_KEPT_LONGER)
        return dropped + removed

    # Reading -----------------------------------------------------------------

    def message(self, qid: str) -> MessageRecord | None:
        row = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages m WHERE qid = ?", (qid,)
        ).fetchone()
        return None if row is None else _message(row)

    def searchMessages(self, query: MessageQuery) -> list[FoundMessage]:
        """The messages a L{MessageQuery} selects, newest first, with their recipients' states."""
        where: list[str] = []
        args: list = []
        like = self._engine.LIKE
        for condition, value in (
            ("m.qid = ?", query.messageid),
            (f"m.recipients {like} ? ESCAPE '\\'", query.recipient and _like(query.recipient)),
            (f"m.subject {like} ? ESCAPE '\\'", query.subject and _like(query.subject)),
            (
                f"EXISTS (SELECT 1 FROM {self._engine.jsonValues('m.tags')} WHERE value = ?)",
                query.tag,
            ),
            ("m.login = ?", query.login),
            ("m.received >= ?", query.start),
            ("m.received < ?", query.end),
        ):
            if value is not None:
                where.append(condition)
                args.append(value)
        if query.sender is not None:
            where.append(f"(m.sender {like} ? ESCAPE '\\' OR m.from_header {like} ? ESCAPE '\\')")
            args += [_like(query.sender)] * 2
        if query.status is not None:
            where.append(_statusWhere(self._engine)[query.status])
        if query.before is not None:
            where.append("(m.received < ? OR (m.received = ? AND m.qid < ?))")
            args += [query.before[0], *query.before]
        rows = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages m"
            f" {'WHERE ' + ' AND '.join(where) if where else ''}"
            " ORDER BY m.received DESC, m.qid DESC LIMIT ?",
            (*args, query.limit),
        ).fetchall()
        records = [_message(row) for row in rows]
        if not records:
            return []
        marks = ", ".join("?" * len(records))
        events: dict[str, list] = {}
        for row in self.db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events e WHERE e.qid IN ({marks})"
            " AND e.type != 'attempt' ORDER BY e.id",
            [r.qid for r in records],
        ):
            events.setdefault(row[3], []).append(_row(row))
        return [FoundMessage(r, recipientStatus(events.get(r.qid, ()))) for r in records]

    def topLinks(self, query: LinkQuery) -> list[dict]:
        """The links clicked most in a time range: C{{"url", "clicks", "recipients"}}."""
        source, where, args = "events e", "", []
        if query.tag is not None:
            source = "event_tags t JOIN events e ON e.id = t.event"
            where, args = " AND t.tag = ?", [query.tag]
        rows = self.db.execute(
            f"SELECT {self._engine.jsonField('e.details', 'destination')} AS url, count(*),"
            " count(DISTINCT e.qid || ' ' || e.recipient)"
            f" FROM {source} WHERE e.type = 'click' AND e.time >= ? AND e.time < ?{where}"
            " GROUP BY url ORDER BY 2 DESC, url LIMIT ?",
            (query.start, query.end, *args, query.limit),
        )
        return [{"url": url or "", "clicks": n, "recipients": r} for url, n, r in rows]

    def links(self, qid: str) -> list[str]:
        """The links the message was sent with (recorded by the click tracker)."""
        return _links.readLinks(self.db, qid)

    def messageEvents(self, qid: str) -> list[StoredEvent]:
        rows = self.db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events e WHERE e.qid = ? ORDER BY e.id", (qid,)
        )
        return [_row(row) for row in rows]

    def events(self, query: EventQuery) -> list[StoredEvent]:
        where = ["e.id > ?"]
        args: list = [query.after]
        source = "events e"
        if query.tag is not None:
            source = "event_tags t JOIN events e ON e.id = t.event"
            where.append("t.tag = ?")
            args.append(query.tag)
        if query.messageid is not None:
            where.append("e.qid = ?")
            args.append(query.messageid)
        if query.email is not None:
            where.append("e.recipient = ? COLLATE NOCASE")
            args.append(query.email)
        if query.type is not None:
            where.append("e.type = ?")
            args.append(query.type)
        if query.start is not None:
            where.append("e.time >= ?")
            args.append(query.start)
        if query.end is not None:
            where.append("e.time < ?")
            args.append(query.end)
        rows = self.db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM {source} WHERE {' AND '.join(where)}"
            " ORDER BY e.id LIMIT ?",
            (*args, query.limit),
        )
        return [_row(row) for row in rows]

    def day(self, type: str, start: float, end: float, after: int, limit: int) -> list:
        """Events of C{type} from C{start} to C{end}, the C{limit} after event id C{after}."""
        return self.events(EventQuery(type=type, start=start, end=end, after=after, limit=limit))
