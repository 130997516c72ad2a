"""
Where the shared database is: C{--database} (or C{SMTPETER_DATABASE}), read
once into a value (here, beside the runtime, so that the configuration and
every package may name it). Absent or C{sqlite:}, it is SQLite's file in the data
directory (a C{Path}, as always); C{postgresql://...} (or C{postgres://},
libpq's URIs and C{key=value} strings alike) is a L{PostgreSQL}, whose
missing parts libpq fills in from its environment variables and
C{.pgpass}.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from attrs import field, frozen

#: The environment variable that stands for C{--database} when it is not given.
DATABASE_ENVIRONMENT = "SMTPETER_DATABASE"
#: What C{--database} says about itself, for every command's help.
DATABASE_HELP = (
    "Where the shared state is: 'sqlite:' for SQLite in the data directory, or a"
    " PostgreSQL URI (postgresql://USER@HOST/DB, postgresql:///DB?host=/socket/dir;"
    " libpq's PG* variables and ~/.pgpass fill in the rest) for several nodes on one"
    f" database [default: ${DATABASE_ENVIRONMENT}, else sqlite:]"
)


@frozen
class PostgreSQL:
    """A PostgreSQL database, by its libpq URI (never shown with its password)."""

    uri: str = field(repr=False)

    def __str__(self) -> str:
        return redacted(self.uri)

    def __repr__(self) -> str:
        return f"PostgreSQL({redacted(self.uri)!r})"


#: What to do when a PostgreSQL database is asked for without psycopg.
NO_PSYCOPG = (
    "PostgreSQL needs psycopg, which is not installed: pip install 'psycopg[binary]>=3.2'"
    " (what the extra smtpeter[postgresql] installs)"
)


def parseDatabase(value: str | None, environ=os.environ) -> PostgreSQL | None:
    """
    C{--database}'s value (C{None}: not given, then C{SMTPETER_DATABASE}'s):
    C{None} for SQLite in the data directory, or the L{PostgreSQL}.
    @raise ValueError: one line saying what is wrong and what to write.
    """
    if value is None:
        value = environ.get(DATABASE_ENVIRONMENT) or None
    if value is None or value.strip() in ("", "sqlite:"):
        return None
    value = value.strip()
    scheme = value.partition(":")[0].lower()
    if scheme in ("postgresql", "postgres"):
        if not value[len(scheme) :].startswith("://"):
            raise ValueError(f"{redacted(value)!r}: write postgresql://[USER@]HOST[:PORT]/DATABASE")
        return PostgreSQL(_checked(value))
    if scheme == "sqlite":
        raise ValueError(
            f"{value!r}: SQLite's database is always the data directory's; write sqlite:"
            " alone (and --data DIR)"
        )
    raise ValueError(
        f"{redacted(value)!r} is not a database URI: write sqlite: (the default), or"
        " postgresql://[USER@]HOST[:PORT]/DATABASE"
    )


def _checked(uri: str) -> str:
    """The URI, if libpq can read it."""
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise ValueError(NO_PSYCOPG) from None
    try:
        conninfo_to_dict(uri)
    except Exception as e:  # psycopg.ProgrammingError: libpq's words for what is wrong
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(
            f"{redacted(uri)!r} is not a PostgreSQL URI libpq reads: {reason}"
        ) from None
    return uri


def redacted(uri: str) -> str:
    """The URI with its password (if it holds one) as C{***}."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri.split("@")[-1]
    if parts.password is None:
        return uri
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


#: How the gateway's connections to PostgreSQL find out that it went away
#: without a word (its machine died, a network between them): TCP
#: keepalives on an idle connection, and a send unanswered for 30 s fails
#: (else a write waited some 15 minutes of retransmissions, and the mail
#: behind it for a 451). Each applies unless the URI says otherwise;
#: libpq ignores them on a Unix socket.
CONNECTION_DEFAULTS = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "30000",
}


#: How this process's connections name themselves to PostgreSQL (its
#: C{pg_stat_activity}'s C{application_name}): L{nameConnections}.
_processName = {"application_name": "smtpeter"}


def nameConnections(name: str) -> None:
    """
    Name this process's connections made from now on (C{smtpeter NODE} for
    a node, C{smtpeter NODE/WORKER} for a worker), so that an operator
    (and a test) can tell in C{pg_stat_activity} whose each one is. The
    URI's C{application_name}, or C{PGAPPNAME}, wins.
    """
    _processName["application_name"] = name


def withConnectionDefaults(uri: str) -> str:
    """
    C{uri} (libpq's) with the L{CONNECTION_DEFAULTS} it does not set itself,
    and this process's name (L{nameConnections}).
    """
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    given = conninfo_to_dict(uri)
    defaults = {**CONNECTION_DEFAULTS, **({} if "PGAPPNAME" in os.environ else _processName)}
    return make_conninfo(
        uri, **{name: value for name, value in defaults.items() if name not in given}
    )
