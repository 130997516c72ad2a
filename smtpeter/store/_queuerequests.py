"""
Requests to the queue from outside it: retry a message now, delete it, or
release held mail.
A message belongs to the worker whose spool holds it, and the CLI or the API
request that names it may come from anywhere, so requests go through the
database: each worker looks every second for those about its own messages,
carries them out and removes them.
"""

from __future__ import annotations

from collections.abc import Iterable

from attrs import frozen

from ._engine import Connection

RETRY = "retry"
DELETE = "delete"
RELEASE = "release"
ACTIONS = (RETRY, DELETE, RELEASE)


@frozen
class QueueRequest:
    id: int
    qid: str
    action: str
    created: float


class QueueRequestStore:
    """Synchronous access to the requests (the CLI, the API, the database's threads)."""

    def __init__(self, db: Connection) -> None:
        self.db = db

    def add(self, qid: str, action: str, now: float) -> QueueRequest:
        if action not in ACTIONS:
            raise ValueError(action)
        (id,) = self.db.execute(
            "INSERT INTO queue_requests (qid, action, created) VALUES (?, ?, ?) RETURNING id",
            (qid, action, now),
        ).fetchone()
        return QueueRequest(id, qid, action, now)

    def list(self) -> list[QueueRequest]:
        rows: Iterable[tuple[int, str, str, float]] = self.db.execute(
            "SELECT id, qid, action, created FROM queue_requests ORDER BY id"
        )
        return [QueueRequest(*row) for row in rows]

    def done(self, id: int) -> None:
        self.db.execute("DELETE FROM queue_requests WHERE id = ?", (id,))

    def forget(self, before: float) -> int:
        """Drop requests nobody carried out (their message finished meanwhile)."""
        return self.db.execute("DELETE FROM queue_requests WHERE created < ?", (before,)).rowcount
