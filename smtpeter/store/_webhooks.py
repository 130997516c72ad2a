"""
Webhooks: URLs that are sent each event of the kinds they asked for, and
the deliveries waiting to reach them. A delivery is written in the same
transaction as its event, so an event committed is an event that will be
POSTed (or given up on, visibly).
"""

from __future__ import annotations

import builtins
import json
import secrets
import time

from ..events import Delivery, Webhook
from ..runtime import checkHttpUrl
from ._engine import Connection
from ._events import TYPES, StoredEvent
from ._exceptions import Hint, Invalid, Missing

#: How many of each webhook's latest delivery attempts are kept, for its history.
HISTORY = 50
#: How long a node that took deliveries to send (L{WebhookStore.claim}) has
#: them to itself: longer than a poll's hundred take to go out, ten at a time.
CLAIM_FOR = 300.0
#: 128 random bits in hex: a delivery's uid.


def newUid() -> str:
    """A delivery's uid: the receiver's key for telling a retry from a new event."""
    return secrets.token_hex(16)


_COLUMNS = "id, url, events, secret, enabled, disabled_reason, created, last_success, last_error"


def _webhook(row) -> Webhook:
    return Webhook(row[0], row[1], tuple(json.loads(row[2])), row[3], bool(row[4]), *row[5:])


class WebhookStore:
    def __init__(self, db: Connection) -> None:
        self.db = db

    # Administration (the CLI) ------------------------------------------------

    def add(self, url: str, events) -> Webhook:
        try:
            checkHttpUrl(url)
        except ValueError as e:
            raise Invalid("url", str(e)) from None
        chosen = tuple(dict.fromkeys(e.lower() for e in events))
        if not chosen:
            raise Invalid("events", f"say which events; any of: {', '.join(TYPES)}")
        unknown = [e for e in chosen if e not in TYPES]
        if unknown:
            raise Invalid(
                "events", f"unknown event(s) {', '.join(unknown)}; use: {', '.join(TYPES)}"
            )
        secret = "whsec_" + secrets.token_urlsafe(32)
        (id,) = self.db.execute(
            "INSERT INTO webhooks (url, events, secret, created) VALUES (?, ?, ?, ?) RETURNING id",
            (url, json.dumps(chosen), secret, time.time()),
        ).fetchone()
        return self.get(id)

    def get(self, id: int) -> Webhook:
        row = None
        if 0 < id < 2**63:  # SQLite's integers; any other is no webhook's id
            row = self.db.execute(f"SELECT {_COLUMNS} FROM webhooks WHERE id = ?", (id,)).fetchone()
        if row is None:
            raise Missing(f"no webhook {id}", hint=Hint("list", "webhook"))
        return _webhook(row)

    def list(self) -> list[Webhook]:
        return [_webhook(r) for r in self.listing()]

    def listing(self):
        """The webhooks' rows, as a cursor (sent now: on a pipeline, read with what follows)."""
        return self.db.execute(f"SELECT {_COLUMNS} FROM webhooks ORDER BY id")

    def delete(self, id: int) -> None:
        """Delete the webhook and its history; of several deleting it at once, one succeeds."""
        self.get(id)
        if not self.db.execute("DELETE FROM webhooks WHERE id = ?", (id,)).rowcount:
            self.get(id)  # raises Missing: another deleted it just now
        # Deliveries of a webhook that is gone are never sent (due() skips them).
        self.db.execute("DELETE FROM webhook_deliveries WHERE webhook = ?", (id,))
        self.db.execute("DELETE FROM webhook_attempts WHERE webhook = ?", (id,))

    def enable(self, id: int) -> Webhook:
        self.get(id)
        self.db.execute(
            "UPDATE webhooks SET enabled = 1, disabled_reason = NULL WHERE id = ?", (id,)
        )
        return self.get(id)

    # The gateway --------------------------------------------------------------

    def queue(self, events: builtins.list[StoredEvent], now: float, listing=None) -> int:
        """
        Queue each event for every enabled webhook that wants its kind
        (C{listing}: the rows of a L{listing} sent before, if any).
        """
        rows = self.listing() if listing is None else listing
        hooks = [w for w in map(_webhook, rows) if w.enabled]
        rows = []
        for event in events:
            body = None
            for hook in hooks:
                if event.type in hook.events:
                    body = body or json.dumps(event.toJSON(), separators=(",", ":"))
                    rows.append((hook.id, event.id, event.type, body, now, now, newUid()))
        if rows:
            self.db.executemany(
                "INSERT INTO webhook_deliveries (webhook, event, type, body, created,"
                " next_attempt, uid) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def due(self, now: float, limit: int, skip=()) -> builtins.list[Delivery]:
        hooks = {w.id: w for w in self.list()}
        rows = self.db.execute(
            "SELECT id, webhook, event, type, body, created, attempts, uid"
            " FROM webhook_deliveries"
            " WHERE next_attempt <= ? ORDER BY next_attempt LIMIT ?",
            (now, limit + len(skip)),
        ).fetchall()
        found = []
        for id, hook, event, type, body, created, attempts, uid in rows:
            if id not in skip and hook in hooks and hooks[hook].enabled:
                found.append(
                    Delivery(id, hooks[hook], event, type, body.encode(), created, attempts, uid)
                )
        return found[:limit]

    def claim(
        self, now: float, limit: int, skip=(), leaseFor: float = CLAIM_FOR
    ) -> builtins.list[Delivery]:
        """
        L{due}, for one node among several sharing the database: the
        deliveries found are taken for C{leaseFor} seconds (their next
        attempt moved past it), so that no other node sends them meanwhile;
        their outcome (L{succeeded}, L{failed}) ends the claim. Should the
        node die first, they are due again when the claim runs out. Inside
        a write transaction: those of the nodes take turns.
        """
        found = self.due(now, limit, skip)
        if found:
            marks = ", ".join("?" * len(found))
            self.db.execute(
                f"UPDATE webhook_deliveries SET next_attempt = ? WHERE id IN ({marks})",
                (now + leaseFor, *(delivery.id for delivery in found)),
            )
        return found

    def history(self, id: int, limit: int = HISTORY) -> builtins.list[dict]:
        """The webhook's latest delivery attempts, newest first."""
        rows = self.db.execute(
            "SELECT time, uid, event, type, attempt, error FROM webhook_attempts"
            " WHERE webhook = ? ORDER BY id DESC LIMIT ?",
            (id, limit),
        )
        return [
            {
                "time": time,
                "delivery": uid,
                "event": event,
                "type": type,
                "attempt": attempt,
                "delivered": error is None,
                "error": error,
            }
            for time, uid, event, type, attempt, error in rows
        ]

    def _attempted(self, delivery: Delivery, now: float, error: str | None) -> None:
        hook = delivery.webhook.id
        self.db.execute(
            "INSERT INTO webhook_attempts (webhook, time, uid, event, type, attempt, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (hook, now, delivery.uid, delivery.event, delivery.type, delivery.attempts + 1, error),
        )
        self.db.execute(
            "DELETE FROM webhook_attempts WHERE webhook = ? AND id <= (SELECT id FROM"
            " webhook_attempts WHERE webhook = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (hook, hook, HISTORY),
        )

    def succeeded(self, delivery: Delivery, now: float) -> None:
        self._attempted(delivery, now, None)
        self.db.execute("DELETE FROM webhook_deliveries WHERE id = ?", (delivery.id,))
        self.db.execute(
            "UPDATE webhooks SET last_success = ?, last_error = NULL WHERE id = ?",
            (now, delivery.webhook.id),
        )

    def failed(self, delivery: Delivery, error: str, nextAttempt: float | None) -> None:
        """Try again at C{nextAttempt}; C{None} gives up and disables the webhook."""
        hook = delivery.webhook.id
        self._attempted(delivery, time.time(), error)
        self.db.execute("UPDATE webhooks SET last_error = ? WHERE id = ?", (error, hook))
        if nextAttempt is not None:
            self.db.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt = ?"
                " WHERE id = ?",
                (nextAttempt, delivery.id),
            )
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        reason = (
            f"disabled {stamp}: event {delivery.event} could not be delivered in"
            f" {delivery.attempts + 1} attempts; last error: {error}"
        )
        self.db.execute(
            "UPDATE webhooks SET enabled = 0, disabled_reason = ? WHERE id = ?", (reason, hook)
        )
        self.db.execute("DELETE FROM webhook_deliveries WHERE webhook = ?", (hook,))
