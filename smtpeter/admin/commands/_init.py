"""
C{smtpeter init}: an empty data directory, made before the gateway first starts.
"""

from __future__ import annotations

from pathlib import Path

from ...config import Config
from ...process import createDatabase
from ...store import PostgreSQL


def run(data: Path, postgresql: PostgreSQL | None = None) -> str | None:
    """Make C{data}; C{None} when done, else the one line saying why it could not be."""
    config = Config(data=data, hostname="localhost", postgresql=postgresql)
    if postgresql is None and config.database.is_file():
        print(f"{data} already holds gateway data; nothing changed")
        return None
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        # A file where a directory should be (NotADirectoryError, FileExistsError), no right to.
        return (
            f"cannot make the data directory {data}: {e.strerror or e};"
            " give --data a directory that you may create"
        )
    createDatabase(config)
    if postgresql is None:
        print(
            f"made a gateway data directory in {data.resolve()};"
            f" start the gateway with: twistd -n smtpeter --data {data}"
        )
        return None
    print(
        f"made a gateway data directory in {data.resolve()}, its shared state in {postgresql};"
        f" start the gateway with: twistd -n smtpeter --data {data} --database '{postgresql}'"
    )
    return None


def addParser(sub) -> None:
    """Add the C{init} command to C{sub}, the subparsers of C{smtpeter}."""
    sub.add_parser(
        "init",
        help="make an empty data directory (the gateway's first start does the same)",
        description="Make the data directory given by --data, with its database and secret key,"
        " so that logins and domains can be set up before the gateway first starts."
        " A directory that already holds gateway data is left as it is.",
    )
