"""Creating tables and indexes."""

from __future__ import annotations

import sqlite3


def applySchema(db: sqlite3.Connection, script: str) -> None:
    """
    Run C{CREATE ... IF NOT EXISTS} statements one by one. Not
    C{executescript}: that first COMMITs whatever transaction is open, and a
    store can be made inside one (the event log's writer makes the webhook
    store in the middle of a batch).
    """
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)
