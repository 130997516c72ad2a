"""
What the event log's writer has sent on PostgreSQL and not yet written:
the accepted messages' rows and the events, kept until an answer is read
(whether a message was new, an event's id) or the writer commits, then
written in one statement each, from arrays (psycopg's binary format, as
their text would need escaping): a batch of a hundred messages costs
three statements, not two hundred. Used by L{smtpeter.store._events}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _eventdays

#: The messages' rows (their columns, as arrays), each new one's qid answered.
MESSAGES = (
    "INSERT INTO messages (qid, received, sender, recipients, ret, envid,"
    " tags, options, dsn, subject, from_header, size, login)"
    " SELECT * FROM unnest(%b::text[], %b::float8[], %b::text[], %b::text[], %b::text[],"
    " %b::text[], %b::text[], %b::text[], %b::int4[], %b::text[], %b::text[], %b::int4[],"
    " %b::text[])"
    " ON CONFLICT (qid) DO NOTHING RETURNING qid"
)


def _columns(rows: list[tuple]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]


class Unsent:
    """
    The rows an L{EventStore<smtpeter.store._events.EventStore>} was given
    and has not written yet: its C{sendEvents} writes them (L{send}); an
    answer read first has it do so.
    """

    def __init__(self, store: Any) -> None:
        self._store = store
        self._messages: list[tuple] = []
        self._events: list[tuple] = []
        self._sent = False
        self._cursors: dict[str, Any] = {}
        self._new: set[int] | None = None
        self._ids: list[int] | None = None

    def addMessage(self, row: tuple) -> Callable[[], bool]:
        """A message's row (its qid first). @return: what says whether it was new."""
        self._messages.append(row)
        index = len(self._messages) - 1
        return lambda: index in self._newMessages()

    def holdsMessages(self) -> bool:
        return bool(self._messages)

    def addEvent(self, row: tuple) -> LaterId:
        """An event's row (type, time, qid, recipient, tags, details as JSON)."""
        self._events.append(row)
        return LaterId(self, len(self._events) - 1)

    def send(self, db) -> None:
        """The statements, queued on C{db} (a pipeline, if it is in one)."""
        self._sent = True
        if self._messages:
            self._cursors["messages"] = db.execute(MESSAGES, _columns(self._messages), marked=True)
        if self._events:
            columns = _columns(self._events)
            columns[1] = [float(when) for when in columns[1]]  # (binary arrays are of one type)
            self._cursors["events"] = db.execute(_eventdays.EVENTS, columns, marked=True)

    def _answer(self, name: str) -> list:
        if not self._sent:
            self._store.sendEvents()
        return self._cursors[name].fetchall()

    def _newMessages(self) -> set[int]:
        """The indexes of the messages that were new (of a qid given twice, the first)."""
        if self._new is None:
            inserted = {qid for (qid,) in self._answer("messages")}
            first: dict[str, int] = {}
            for index, row in enumerate(self._messages):
                first.setdefault(row[0], index)
            self._new = {index for qid, index in first.items() if qid in inserted}
        return self._new

    def ids(self) -> list[int]:
        """The events' ids, in the order they were given."""
        if self._ids is None:
            self._ids = [eventId for (eventId,) in self._answer("events")]
        return self._ids


class LaterId:
    """The id of one event of an L{Unsent}, read as a cursor's row (C{resolved} does)."""

    __slots__ = ("_unsent", "_index")

    def __init__(self, unsent: Unsent, index: int) -> None:
        self._unsent, self._index = unsent, index

    def fetchone(self) -> tuple[int]:
        return (self._unsent.ids()[self._index],)
