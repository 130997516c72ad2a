"""
The queue as the administration reads it on PostgreSQL: every node's
messages in the tables they share (L{smtpeter.queue.SharedQueueDatabase}
writes them), the same entries that C{queue list} shows of the spools of
one machine.
"""

from __future__ import annotations

import json
from typing import Any

from ._spools import queueEntry


def sharedMessages(db, qid: str | None = None) -> list[tuple[dict, dict[int, dict], str]]:
    """
    Every message of the shared queue (or C{qid} alone), oldest id first:
    its metadata, its recipients' states (by index) and its owner ("" for
    nobody). The one reading of the queue's tables outside the queue; the
    tests of the shared queue read through it too.
    """
    where, args = ("", ()) if qid is None else (" WHERE m.qid = ?", (qid,))
    rows = db.execute(
        # The owner only while its lease holds (on the database's clock, as claims count it).
        "SELECT m.qid, m.meta, CASE WHEN m.lease_until >= extract(epoch FROM clock_timestamp())"
        " THEN m.owner END, r.rcpt, r.state FROM queue_messages m"
        f" LEFT JOIN queue_recipients r ON r.qid = m.qid{where} ORDER BY m.qid",
        args,
    ).fetchall()
    found: dict[str, tuple[dict, dict[int, dict], str]] = {}
    for message, meta, owner, rcpt, state in rows:
        entry = found.setdefault(message, (json.loads(meta), {}, owner or ""))
        if rcpt is not None:
            entry[1][rcpt] = state if isinstance(state, dict) else json.loads(state)
    return list(found.values())


def _entry(meta: dict, states: dict[int, dict], owner: str) -> dict[str, Any]:
    """
    C{queue list}'s entry: C{owner} (C{"node/worker"}), C{node} and C{worker}
    name the worker whose claim on the message holds now; all three are
    C{None} while none does (held, due later, or its holder's lease ran out).
    """
    node, _, worker = owner.rpartition("/")
    number = int(worker) if node and worker.isdigit() else None
    return {**queueEntry(meta, states, number), "node": node or None, "owner": owner or None}


def sharedEntries(db) -> list[dict]:
    """Every message of the shared queue, oldest id first."""
    return [_entry(*row) for row in sharedMessages(db)]


def sharedEntry(
    db, qid: str, content: bool, limit: int | None = None
) -> tuple[bytes | None, dict] | None:
    """The entry of C{qid} (and its content, or its first C{limit} bytes, if asked), or C{None}."""
    rows = sharedMessages(db, qid)
    if not rows:
        return None
    body = None
    if content:
        column, args = (
            ("content", (qid,)) if limit is None else ("substring(content for ?)", (limit, qid))
        )
        row = db.execute(
            f"SELECT {column} FROM queue_bodies WHERE qid = ? AND finished IS NULL", args
        ).fetchone()
        if row is None:
            return None  # finished just now
        body = bytes(row[0])
    return body, _entry(*rows[0])


def sharedSent(db, qid: str) -> bytes | None:
    """
    The content of a finished message, while it is kept (--keep-sent): its
    body, where it was written, marked finished.
    """
    row = db.execute(
        "SELECT content FROM queue_bodies WHERE qid = ? AND finished IS NOT NULL", (qid,)
    ).fetchone()
    return None if row is None else bytes(row[0])


def sharedHeld(db) -> list[str]:
    """The ids of the held messages (released ones are due again, so not held)."""
    return [
        qid
        for (qid,) in db.execute(
            "SELECT qid FROM queue_messages WHERE due IS NULL ORDER BY qid"
        ).fetchall()
    ]
