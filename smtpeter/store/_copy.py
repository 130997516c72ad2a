"""
C{smtpeter db copy}: the shared state of an SQLite database copied into an
empty PostgreSQL one, table by table, in one transaction (all or nothing),
with whatever else the caller copies in it (the queued mail of the spools).
Both are brought to the current schema version first, so that their
tables and columns are the same; the rows go over with C{COPY}, and each
table's row numbers continue after the largest copied.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import _engine, _eventdays, _postgres
from ._exceptions import StoreError
from ._migrate import upgrade
from ._secrets import shareSecret
from ._sharedimages import copyImages

#: How many rows are read from SQLite at a time.
CHUNK = 5000


class NotEmpty(StoreError):
    """The PostgreSQL database holds data already: nothing is copied over it."""


def copyDatabase(
    source,
    target: _postgres.Connection,
    secret: bytes | None = None,
    images: Path | None = None,
    alongside: Callable[[Any], object] | None = None,
) -> dict[str, int]:
    """
    Copy every table of the SQLite connection C{source} into the PostgreSQL
    connection C{target}, whose tables must all be empty, and the gateway's
    C{secret} (its data directory's: links in mail already sent keep
    verifying on every node) and its hosted image files under C{images}
    (counted as the rows of the C{images} table). C{alongside}, if given,
    copies more in the same transaction: it is called with the psycopg
    connection, in the transaction, after the tables.
    @return: how many rows each table had, by table name.
    @raise NotEmpty: C{target} holds rows already (in any table: the
        shared queue's too).
    """
    upgrade(source)
    upgrade(target)
    tables = sorted(_engine.tables(source) - {"schema_version"})
    every = sorted(_postgres.tables(target) - {"schema_version"})
    full = [t for t in every if target.execute(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0]]
    if full:
        raise NotEmpty(
            f"the PostgreSQL database holds data already ({', '.join(full)}); copy into an"
            " empty one (or one just made by 'smtpeter db upgrade')"
        )
    copied: dict[str, int] = {}
    _postgres.begin(target)
    try:
        # A table of millions of events is one COPY: no 5-minute limit on it.
        target.execute("SET LOCAL statement_timeout = 0")
        for table in tables:
            copied[table] = _copyTable(source, target, table)
        _continueNumbering(target)
        if images is not None and images.is_dir():
            copied["images"] = copied.get("images", 0) + copyImages(images, target)
        if secret is not None:
            shareSecret(target, secret)
        if alongside is not None:
            alongside(target._connection())
        target.execute("COMMIT")
    except BaseException:
        if target.in_transaction:
            target.execute("ROLLBACK")
        raise
    _eventdays.prepare(target, time.time())  # the copied events into their days' tables
    return copied


def _copyTable(source, target: _postgres.Connection, table: str) -> int:
    columns = sorted(_engine.columns(source, table) & _postgres.columns(target, table))
    names, select = ", ".join(columns), f"SELECT {', '.join(columns)} FROM {table}"
    if table == "event_tags":  # PostgreSQL's partitioned on the time of each tag's event
        names, select = _eventdays.COPY_TAGS
    rows = source.execute(select)
    count = 0
    with _postgres.copying(target, f"COPY {table} ({names}) FROM STDIN") as copy:
        while chunk := rows.fetchmany(CHUNK):
            for row in chunk:
                copy.write_row(row)
            count += len(chunk)
    return count


def _continueNumbering(target: _postgres.Connection) -> None:
    """Each identity column's next number: one past the largest copied."""
    found = target.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES'"
    ).fetchall()
    for table, column in found:
        target.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
            f" COALESCE(max({column}), 0) + 1, false) FROM {table}"
        )
