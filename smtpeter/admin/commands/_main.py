"""
The C{smtpeter} command's parser, built a command group at a time, and the
run of one command against a data directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ... import __version__
from ...config import DATA
from ...events import Destinations, parseNetwork
from ...store import DATABASE_HELP, Invalid, PostgreSQL, StoreError, openDatabase
from .. import Administration
from . import (
    _admins,
    _db,
    _domains,
    _init,
    _logins,
    _nodes,
    _queue,
    _suppressions,
    _tokens,
    _webhooks,
)

DATABASE = "smtpeter.sqlite"
#: The option that gives what the store (and the REST API) calls a field;
#: fields not here are the command's arguments.
OPTIONS = {
    "events": "--event",
    "public_url": "--public-url",
    "selector": "--selector",
    "scope": "--scope",
    "role": "--role",
    "days": "--days",
    "reason": "--reason",
    "rate": "--rate",
    "quota": "--quota",
    "over_quota": "--over-quota",
    "sender_domains": "--sender-domain",
    "login": "--login",
}
#: The commands that administer a data directory, in the order C{--help} lists them.
GROUPS = {
    "login": _logins,
    "domain": _domains,
    "token": _tokens,
    "webhook": _webhooks,
    "admin": _admins,
    "suppression": _suppressions,
    "queue": _queue,
    "nodes": _nodes,
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="smtpeter",
        description="Administer an smtpeter gateway: SMTP logins and their features,"
        " DKIM keys for sender domains, REST API tokens, webhooks, and a look at the"
        " delivery queue."
        " Run the gateway itself with: twistd -n smtpeter",
    )
    top.add_argument("--version", action="version", version=f"smtpeter {__version__}")
    top.add_argument(
        "--data",
        default=DATA,
        metavar="DIR",
        help=f"the gateway's data directory (as given to twistd smtpeter --data) [default: {DATA}]",
    )
    top.add_argument("--database", metavar="URI", help=DATABASE_HELP)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _init.addParser(sub)
    _db.addParser(sub)
    for group in GROUPS.values():
        group.addParser(sub)
    return top


def run(data: Path, args, postgresql: PostgreSQL | None = None) -> str | None:
    """
    Carry out the command C{args} names on the data directory C{data}, and
    the shared database there, or the C{postgresql} one.
    @return: C{None} when done, else the one line that says what was wrong
        and what to do.
    @raise sqlite3.Error, OSError, UnusableSpool: the database or spool
        could not be used (the caller knows how to say why).
    """
    try:
        database = postgresql if postgresql is not None else data / DATABASE
        if args.command == "init":
            return _init.run(data, postgresql)
        if args.command == "db":
            return _db.run(database, args, data)
        allowed = [parseNetwork(n) for n in getattr(args, "webhook_allow_network", [])]
        db = openDatabase(database)
        admin = Administration(db, data=data, destinations=Destinations(allowed))
        if args.command == "suppression":
            _suppressions.run(db, args)
        else:
            GROUPS[args.command].run(admin, args)
    except Invalid as e:
        option = OPTIONS.get(e.field)
        return f"{option}: {e.reason}" if option else e.reason
    except (StoreError, ValueError) as e:
        return _withHint(e)
    return None


def _withHint(error: Exception) -> str:
    """The error's text and, if the store gives a hint, the command that helps."""
    hint = getattr(error, "hint", None)
    if hint is None:
        return str(error)
    if hint.action == "rotate":
        return f"{error}: use 'smtpeter domain rotate {hint.subject}' for a new one"
    return f"{error}; see 'smtpeter {hint.subject} list'"
