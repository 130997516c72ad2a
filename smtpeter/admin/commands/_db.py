"""
C{smtpeter db upgrade}: the database's schema brought to this release's
version now (the gateway does it at every start). C{smtpeter db copy --to
URI}: a stopped gateway's SQLite database, and the mail queued and held in
its spools, copied into an empty PostgreSQL.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ...config import Config
from ...process import DataDirectoryLock, StartError
from ...queue import SharedQueueDatabase, spoolDirectories
from ...store import (
    DatabaseError,
    PostgreSQL,
    connect,
    copyToPostgreSQL,
    parseDatabase,
    unreachable,
    upgrade,
)
from .. import UnreadableMessage, spooledMail

#: Who the shared queue's rows say put them there (nobody holds them).
COPIER = "smtpeter db copy"


def run(path: Path | PostgreSQL, args, data: Path) -> str | None:
    """The C{db} command's C{args.action}; a line saying what is wrong, if something is."""
    if args.action == "copy":
        return copy(data, args.to, args.json)
    upgrade_(path)
    return None


class QueueCopy:
    """
    The mail of the spools of C{data}, put in the shared queue on the
    connection of the copy's transaction, and counted: C{messages} (held
    ones too), C{recipients} still to be delivered, C{held} messages.
    """

    def __init__(self, data: Path) -> None:
        self.data = data
        self.messages = self.recipients = self.held = 0

    def __call__(self, connection) -> None:
        queue = SharedQueueDatabase(lambda: connection, COPIER, socket.gethostname(), 0)
        queue.importQueued(self._counted())

    def _counted(self) -> Iterator[tuple]:
        for spooled in spooledMail(self.data):
            self.messages += 1
            self.recipients += spooled.pending
            self.held += spooled.due is None
            yield spooled.message, spooled.states, spooled.due

    def counts(self) -> dict[str, int]:
        return {"messages": self.messages, "recipients": self.recipients, "held": self.held}


def copy(data: Path, to: str, asJSON: bool = False) -> str | None:
    """Copy C{data}'s SQLite database and the mail of its spools into the PostgreSQL C{to}."""
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
    except StartError:
        return (
            f"{data.resolve()} is in use by a running gateway"
            f" ({DataDirectoryLock.holder(data)}): stop the gateway before copying its"
            " database (SIGTERM, and wait until it has exited), then copy again"
        )
    try:
        # Queue files of an earlier release, which a start on SQLite imports.
        files = [root / "queue" for _, root in spoolDirectories(data) if (root / "queue").is_dir()]
        if files:
            return (
                f"{files[0]} holds queued mail as files of an earlier smtpeter: start the"
                " gateway on SQLite once (it imports them), stop it, then copy"
            )
        config = Config(data=data, hostname="localhost")
        secret = config.secret
        mine = secret.read_bytes() if secret.is_file() else None
        queue = QueueCopy(data)
        try:
            copied = copyToPostgreSQL(source, target, mine, config.images, queue)
        except UnreadableMessage as e:
            return f"{e}; nothing was copied"
        except DatabaseError as e:
            if isinstance(e, sqlite3.Error):
                raise
            return unreachable(target, e)
    finally:
        lock.release()
    start = f"twistd -n smtpeter --data {data} --database '{target}'"
    counts = queue.counts()
    if asJSON:
        summary = {
            "source": str(source),
            "target": str(target),
            "tables": copied,
            "queue": counts,
            "secret": mine is not None,
            "start": start,
        }
        print(json.dumps(summary, indent=2))
        return None
    print(f"copied {source} to {target}:")
    for table, count in copied.items():
        print(f"  {table}: {count}")
    print(f"  queued messages: {counts['messages']}")
    print(f"  queued recipients: {counts['recipients']}")
    print(f"  held messages: {counts['held']}")
    if mine is not None:
        print(f"  and {secret.name}, which signs links and bounce addresses, for every node")
    if counts["messages"]:
        print(
            f"The spools in {data} still hold that mail, untouched: never start the gateway"
            " on SQLite with them again (it would send it a second time)."
        )
    print(f"Start the gateway with: {start}")
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
        help="the shared database (--data's SQLite, or --database's): upgrade its schema,"
        " or copy a SQLite one into PostgreSQL",
        description="The database's schema is versioned; the gateway upgrades it at every start."
        " 'db upgrade' does it now (say, before starting a new release, to see that it can);"
        " 'db copy --to URI' moves a stopped gateway from SQLite to PostgreSQL.",
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
        " events, statistics, queue requests) and the mail queued and held in its spools"
        " (content, recipients, attempts, next attempt, held or released) into an empty"
        " PostgreSQL database, in one transaction, and print how many of each. The gateway"
        " on --data must be stopped. The spools are left as they were: do not start the"
        " gateway on SQLite with them again, or it sends the copied mail a second time.",
    )
    copying.add_argument(
        "--to", required=True, metavar="URI", help="the PostgreSQL database (postgresql://...)"
    )
    copying.add_argument(
        "--json", action="store_true", help="print what was copied as a JSON object"
    )
