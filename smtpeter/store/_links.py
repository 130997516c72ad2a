"""
The links each message was sent with, so that a click token (message and
link index) leads to the URL the sender wrote and nowhere else. Written by
L{EventStore.recordLinks<smtpeter.store._events.EventStore.recordLinks>},
through the database's writer.
"""

from __future__ import annotations

import json

from ._engine import Connection


def recordLinks(db: Connection, qid: str, links: list[str]) -> None:
    db.execute(
        "INSERT INTO message_links (qid, links) VALUES (?, ?)"
        " ON CONFLICT (qid) DO UPDATE SET links = excluded.links",
        (qid, json.dumps(links)),
    )


def readLinks(db: Connection, qid: str) -> list[str]:
    row = db.execute("SELECT links FROM message_links WHERE qid = ?", (qid,)).fetchone()
    return [] if row is None else json.loads(row[0])
