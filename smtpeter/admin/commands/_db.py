"""
C{smtpeter db upgrade}: the database's schema brought to this release's
version now (the gateway does it at every start).
"""

from __future__ import annotations

from pathlib import Path

from ...store import PostgreSQL, connect, upgrade


def run(path: Path | PostgreSQL) -> None:
    db = connect(path)
    try:
        before, after = upgrade(db)
    finally:
        db.close()
    if before == after:
        print(f"{path}: schema version {after}, the current one; nothing to do")
    else:
        print(f"{path}: upgraded the schema from version {before} to {after}")


def addParser(sub) -> None:
    """Add the C{db} command to C{sub}, the subparsers of C{smtpeter}."""
    database = sub.add_parser(
        "db",
        help="the shared database (--data's SQLite, or --database's): upgrade its schema",
        description="The database's schema is versioned; the gateway upgrades it at every start."
        " 'db upgrade' does it now (say, before starting a new release, to see that it can).",
    )
    database.add_subparsers(dest="action", required=True, metavar="ACTION").add_parser(
        "upgrade",
        help="bring the database's schema to this smtpeter's version; prints from/to",
        description="Apply the schema's numbered steps the database has not had yet, in one"
        " transaction (a running gateway may keep running). Prints the version before and"
        " after. A database upgraded by a later smtpeter is left alone, with an error.",
    )
