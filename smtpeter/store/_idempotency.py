"""
Idempotency keys of the REST send API (C{Idempotency-Key}): the first
request with a key, per token, reserves it in the shared database (its
primary key orders every worker's and node's attempts), and its answer is
kept with it for L{KEPT}; a retry gets that answer and queues nothing.

A key whose first request is still being worked on has no answer yet
(C{status} NULL); one whose first request failed before it was answered is
freed (L{IdempotencyStore.free}), and one abandoned in the middle (its
process gone) is taken over after L{ABANDONED}.
"""

from __future__ import annotations

from attrs import frozen

from ._engine import Connection

#: How long a key's first answer is kept (seconds).
KEPT = 24 * 3600
#: A key reserved this long ago and still without an answer was abandoned.
ABANDONED = 600


@frozen
class KeyState:
    """A key reserved before: its answer (C{status} C{None}: not answered yet)."""

    created: float
    status: int | None
    body: str | None


class IdempotencyStore:
    """Synchronous access to C{idempotency_keys}."""

    def __init__(self, db: Connection) -> None:
        self.db = db

    def reserve(self, token: str, key: str, now: float) -> KeyState | None:
        """
        Reserve C{key} of C{token}: C{None} if it is now ours (the caller
        answers, then L{finish}es or L{free}s it), else the state of the
        earlier request's reservation. A reservation past L{KEPT}, or
        abandoned past L{ABANDONED}, is taken over.
        """
        self.db.execute(
            "DELETE FROM idempotency_keys WHERE token = ? AND idem_key = ?"
            " AND (created < ? OR (status IS NULL AND created < ?))",
            (token, key, now - KEPT, now - ABANDONED),
        )
        inserted = self.db.execute(
            "INSERT INTO idempotency_keys (token, idem_key, created) VALUES (?, ?, ?)"
            " ON CONFLICT (token, idem_key) DO NOTHING",
            (token, key, now),
        ).rowcount
        if inserted:
            return None
        row = self.db.execute(
            "SELECT created, status, body FROM idempotency_keys WHERE token = ? AND idem_key = ?",
            (token, key),
        ).fetchone()
        return KeyState(*row)

    def finish(self, token: str, key: str, status: int, body: str) -> None:
        """The first request with C{key} was answered so: its retries get the same."""
        self.db.execute(
            "UPDATE idempotency_keys SET status = ?, body = ? WHERE token = ? AND idem_key = ?",
            (status, body, token, key),
        )

    def free(self, token: str, key: str) -> None:
        """The first request with C{key} failed unanswered: a retry starts afresh."""
        self.db.execute(
            "DELETE FROM idempotency_keys WHERE token = ? AND idem_key = ? AND status IS NULL",
            (token, key),
        )

    def purge(self, now: float) -> int:
        """Forget the keys past L{KEPT}."""
        return self.db.execute(
            "DELETE FROM idempotency_keys WHERE created < ?", (now - KEPT,)
        ).rowcount
