"""
The spool's schema: its numbered steps (C{smtpeter/queue/schema/}), the
version they bring a spool to, and the upgrade that applies them at start.
"""

from __future__ import annotations

import sqlite3
import time

from ..runtime import loadSteps, schemaVersion

#: C{done} of a message still queued: a time far ahead (in the year 4199) that
#: takes as many bytes as a real one, so that marking a message finished
#: rewrites its row where it is, and not the pages of its content.
QUEUED = 1 << 46

#: The spool's schema, in numbered steps (smtpeter/queue/schema/), and the
#: version they bring a spool to (recorded in its table schema_version).
STEPS = loadSteps(__package__, "sqlite")
SPOOL_VERSION = len(STEPS)

#: The database's file in a worker's spool directory.
SPOOL_FILE = "spool.db"


class SpoolTooNew(sqlite3.DatabaseError):
    """A spool upgraded by a later smtpeter than this one."""


def upgradeSpool(db: sqlite3.Connection) -> tuple[int, int]:
    """
    Bring a spool's database to L{SPOOL_VERSION}, in one transaction that
    holds the write lock. A spool from before versions has step 1's tables
    already (it is dated version 1); an empty file gets them.
    @return: the versions before and after.
    """
    before = schemaVersion(db)
    if before == SPOOL_VERSION:
        return before, before
    db.execute("BEGIN IMMEDIATE")
    try:
        before = schemaVersion(db)
        if before > SPOOL_VERSION:
            raise SpoolTooNew(
                f"the spool is at schema version {before}, and this smtpeter knows versions up"
                f" to {SPOOL_VERSION}: run the smtpeter that upgraded it, or a later one"
            )
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version"
            " (version INTEGER PRIMARY KEY, applied REAL NOT NULL)"
        )
        for step in STEPS[before:]:
            for statement in step.statements():
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_version (version, applied) VALUES (?, ?)",
                (step.version, time.time()),
            )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return before, SPOOL_VERSION
