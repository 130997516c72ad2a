"""
The links each message was sent with, so that a click token (message and
link index) leads to the URL the sender wrote and nowhere else.
"""

from __future__ import annotations

import json
import sqlite3
import threading

from ._schema import applySchema

SCHEMA = """
CREATE TABLE IF NOT EXISTS message_links (
    qid TEXT PRIMARY KEY,
    links TEXT NOT NULL
);
"""


class LinkStore:
    """Synchronous and thread-safe (one connection, one lock)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._lock = threading.Lock()
        applySchema(db, SCHEMA)

    def record(self, qid: str, links: list[str]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO message_links (qid, links) VALUES (?, ?)",
                (qid, json.dumps(links)),
            )

    def links(self, qid: str) -> list[str]:
        with self._lock:
            return readLinks(self._db, qid)

    def link(self, qid: str, index: int) -> str | None:
        links = self.links(qid)
        return links[index] if 0 <= index < len(links) else None


def readLinks(db: sqlite3.Connection, qid: str) -> list[str]:
    row = db.execute("SELECT links FROM message_links WHERE qid = ?", (qid,)).fetchone()
    return [] if row is None else json.loads(row[0])
