"""
C{smtpeter db upgrade}: the database's schema brought to this release's
version now (the gateway does it at every start). C{smtpeter db copy --to
URI}: a stopped gateway's SQLite database copied into an empty PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from ...config import Config
from ...process import DataDirectoryLock, StartError
from ...store import PostgreSQL, connect, copyToPostgreSQL, parseDatabase, upgrade
from .. import queueEntries


def run(path: Path | PostgreSQL, args, data: Path) -> str | None:
    """The C{db} command's C{args.action}; a line saying what is wrong, if something is."""
    if args.action == "copy":
        return copy(data, args.to)
    upgrade_(path)
    return None


def copy(data: Path, to: str) -> str | None:
    """Copy C{data}'s SQLite database into the PostgreSQL database C{to}."""
    try:
        target = parseDatabase(to, {})
    except ValueError as e:
        return f"--to: {e}"
    if target is None:
        return "--to: give the PostgreSQL database to copy into, postgresql://..."
    source = data / "smtpeter.sqlite"
    if not source.is_file():
        return f"{data.resolve()} holds no SQLite database ({source.name}) to copy"
    # The gateway must be stopped: what it writes meanwhile would be lost.
    try:
        lock = DataDirectoryLock.acquire(data)
    except StartError as e:
        return f"{e}; stop the gateway before copying its database"
    try:
        # On PostgreSQL the gateway delivers from the shared queue, not from
        # these spools: mail left in them would wait there for good.
        waiting = queueEntries(data)
        if waiting:
            return (
                f"the spools in {data} still hold {len(waiting)} queued or held message(s),"
                " which the copy does not take: start the gateway on SQLite until its queue"
                " is empty (release or delete held mail), stop it, then copy"
            )
        config = Config(data=data, hostname="localhost")
        secret = config.secret
        mine = secret.read_bytes() if secret.is_file() else None
        copied = copyToPostgreSQL(source, target, mine, config.images)
    finally:
        lock.release()
    print(f"copied {source} to {target}:")
    for table, count in copied.items():
        print(f"  {table}: {count}")
    if mine is not None:
        print(f"  and {secret.name}, which signs links and bounce addresses, for every node")
    print(f"Start the gateway with: twistd -n smtpeter --data {data} --database '{target}'")
    return None


def upgrade_(path: Path | PostgreSQL) -> None:
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
    actions = database.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "upgrade",
        help="bring the database's schema to this smtpeter's version; prints from/to",
        description="Apply the schema's numbered steps the database has not had yet, in one"
        " transaction (a running gateway may keep running). Prints the version before and"
        " after. A database upgraded by a later smtpeter is left alone, with an error.",
    )
    copying = actions.add_parser(
        "copy",
        help="copy a stopped gateway's SQLite database (in --data) into an empty PostgreSQL one",
        description="Copy every table of the SQLite database in --data (logins, domains and"
        " keys, tokens, webhooks, dashboard users and sessions, suppressions, messages,"
        " events, statistics, queue requests) into an empty PostgreSQL database, in one"
        " transaction, and print how many rows of each. The gateway on --data must be"
        " stopped, and its queue empty (the copy does not take queued mail).",
    )
    copying.add_argument(
        "--to", required=True, metavar="URI", help="the PostgreSQL database (postgresql://...)"
    )
