"""
The shared database's schema, versioned: the numbered steps in
C{smtpeter/store/schema/} (C{NNN_name.sql}, or C{NNN_name.<dialect>.sql}
where the engines differ), and L{upgrade}, which brings a database to the
last of them. The database records its version in C{schema_version}, one
row per step applied.

A database from before versions (no C{schema_version}, but tables) was
made by the stores themselves, which created their tables when first used
and added columns they found missing. It is dated once, by its shape: step
1 fills in the tables it lacks, and each later step that added a column
counts as applied if the column is there (L{_LEGACY}).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..runtime import Step, loadSteps
from . import _engine, _engines, _eventdays
from ._exceptions import StoreError

#: The column each step from before versions added: there, the step was applied.
_LEGACY = {
    2: ("logins", "public_url"),
    3: ("logins", "hold"),
    4: ("api_tokens", "scope"),
    5: ("messages", "subject"),
    6: ("messages", "from_header"),
    7: ("messages", "size"),
    8: ("messages", "login"),
    9: ("webhook_deliveries", "uid"),
}


class SchemaTooNew(StoreError):
    """The database was upgraded by a later smtpeter than this one."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            f"the database is at schema version {found}, and this smtpeter knows versions up"
            f" to {known}: run the smtpeter that upgraded it, or a later one"
        )
        self.found, self.known = found, known


def steps(dialect: str = _engine.DIALECT) -> list[Step]:
    """The steps, in order, as C{dialect} runs them."""
    return loadSteps(__package__, dialect)


#: The version a database has once L{upgrade} is done with it.
CURRENT = len(steps())


def version(db) -> int:
    """
    The database's version: 0 if it is empty, or not yet numbered (from
    before versions; L{upgrade} dates it).
    """
    if "schema_version" not in _engines.of(db).tables(db):
        return 0
    (found,) = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return found


def upgrade(db, clock: Callable[[], float] = time.time) -> tuple[int, int]:
    """
    Bring the database to L{CURRENT}, in one transaction that holds the
    write lock, and on PostgreSQL the schema's advisory lock (two processes
    upgrading at once take turns; the second finds nothing to do). The
    steps are the ones of the connection's engine. @return: the versions
    before and after.
    @raise SchemaTooNew: the database is ahead of this code.
    """
    found = version(db)
    if found == CURRENT:
        _eventdays.prepare(db, clock())  # the days' tables (usually there: no lock taken)
        return found, found  # the usual case: no write lock taken
    engine = _engines.of(db)
    engine.begin(db)
    try:
        engine.lockSchema(db)
        before, applied = _upgrade(db, engine, clock)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    _eventdays.prepare(db, clock())
    return before, applied


def _upgrade(db, engine, clock) -> tuple[int, int]:
    present = engine.tables(db)
    before = version(db)
    if before > CURRENT:
        raise SchemaTooNew(before, CURRENT)
    legacy = before == 0 and bool(present - {"schema_version"})
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_version"
        " (version INTEGER PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)"
    )
    for step in steps(engine.DIALECT):
        if step.version <= before:
            continue
        if not (legacy and _appliedBefore(db, engine, step)):
            for statement in step.statements():
                db.execute(statement)
        db.execute(
            "INSERT INTO schema_version (version, applied) VALUES (?, ?)", (step.version, clock())
        )
    return before, CURRENT


def _appliedBefore(db, engine, step: Step) -> bool:
    """Whether a database from before versions has had C{step} already."""
    if step.version == 1:
        # Its tables, if some are missing, are made now (IF NOT EXISTS).
        return False
    marker = _LEGACY.get(step.version)
    if marker is None:
        return False
    table, column = marker
    return column in engine.columns(db, table)
