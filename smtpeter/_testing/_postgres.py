"""
A PostgreSQL server of its own for tests (L{PostgreSQLServer}), from the
machine's packages. Used through L{smtpeter.testing}.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


class PostgreSQLServer:
    """
    A PostgreSQL of its own for tests, from the machine's packages: C{initdb}
    into a temporary directory, then C{pg_ctl start} listening on a Unix
    socket in that directory only (no TCP port), with C{fsync} off (a
    test's database dies with it; a commit is still written before it is
    answered, so that it outlives a crash of the server itself). Run
    as root (as CI does), initdb and the server run as C{nobody}: PostgreSQL
    refuses to run as root. L{database} makes a fresh database for a test
    (a schema of its own). C{durable} keeps PostgreSQL's defaults instead
    (C{fsync} on), as a benchmark measures them.
    """

    #: The superuser's name; the socket trusts every local connection.
    USER = "postgres"

    def __init__(self, bindir: Path, durable: bool = False) -> None:
        self.bindir = bindir
        #: PostgreSQL's own defaults (C{fsync} and full page writes on), for benchmarks.
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="smtpeter-pg-"))
        self.data = self.root / "data"
        self.socket = self.root
        self._numbers = itertools.count(1)

    @staticmethod
    def binaries() -> Path | None:
        """
        The folder of C{initdb} and C{pg_ctl}: Debian keeps them off the
        C{PATH}, in C{/usr/lib/postgresql/VERSION/bin} (what C{pg_config
        --bindir} names, when the development package is there).
        """
        candidates = []
        pgConfig = shutil.which("pg_config")
        if pgConfig is not None:
            try:
                found = subprocess.run(
                    [pgConfig, "--bindir"], capture_output=True, text=True, check=True
                )
                candidates.append(Path(found.stdout.strip()))
            except (OSError, subprocess.CalledProcessError):
                pass
        installed = Path("/usr/lib/postgresql").glob("*/bin")
        candidates += sorted(installed, key=lambda p: _versionKey(p.parent.name), reverse=True)
        for candidate in candidates:
            if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
                return candidate
        return None

    def _run(self, *command: str) -> None:
        asUser: dict = {}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            asUser = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        subprocess.run(
            [str(self.bindir / command[0]), *command[1:]],
            cwd=self.root,
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "TZ": "UTC"},
            **asUser,
        )

    def start(self) -> None:
        """Make the cluster and start it (about a second); waits until it answers."""
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
        self.root.chmod(0o755)  # the socket, for us; the data directory stays 0700
        self._run(
            "initdb", "-D", str(self.data), "-U", self.USER, "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.socket}'",
            "max_connections": "200",
        }
        if not self.durable:
            settings.update(fsync="off", full_page_writes="off", shared_buffers="16MB")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        self.resume()

    def halt(self) -> None:
        """Stop the server, as an outage would (its data kept: L{resume} starts it again)."""
        self._run("pg_ctl", "stop", "-w", "-D", str(self.data), "-m", "immediate")

    def resume(self) -> None:
        """Start the server on its data; waits until it answers."""
        self._run("pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.root / "log"))

    def stop(self) -> None:
        """Stop the server at once (if it runs) and remove everything it had."""
        try:
            self._run("pg_ctl", "status", "-D", str(self.data))
        except subprocess.CalledProcessError:
            pass  # not running
        else:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def uri(self, database: str = "postgres") -> str:
        """A libpq URI of C{database}, through the socket."""
        return f"postgresql:///{database}?host={self.socket}&user={self.USER}"

    def database(self) -> str:
        """
        The URI of a new, empty schema in the server's database, which its
        connections use alone (C{search_path}): a database of its own to
        smtpeter, made in a millisecond (C{CREATE DATABASE} takes half a
        second). L{drop} removes it.
        """
        import psycopg

        name = f"test{os.getpid()}_{next(self._numbers)}"
        with psycopg.connect(self.uri(), autocommit=True) as db:
            db.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.uri()}&options=-csearch_path%3D{name}"

    def drop(self, uri: str) -> None:
        """Remove the schema of C{uri} and all it holds."""
        import psycopg

        name = uri.rsplit("%3D", 1)[1]
        for tries in range(10, 0, -1):
            try:
                with psycopg.connect(self.uri(), autocommit=True) as db:
                    db.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
                return
            except psycopg.errors.DeadlockDetected:
                # A gateway of the test still writes there (its fixture ends after this one).
                if tries == 1:
                    raise
                time.sleep(0.2)


def _versionKey(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in name.split("."))


class RoundTrips:
    """
    Counts the round trips to PostgreSQL made on a psycopg connection
    (C{pgconn}, its libpq connection) in a C{with} block, from libpq's
    trace: each time the client waits for the server after sending, the
    trace turns from the client's messages (C{F}) to the server's (C{B}).
    (A pipeline's fetch waits without a Sync, so counting ReadyForQuery
    would miss it.) L{count} holds the count once the block is over.
    """

    def __init__(self, pgconn: Any) -> None:
        self.pgconn = pgconn
        self.count: int | None = None

    def __enter__(self) -> RoundTrips:
        from psycopg import pq

        self._trace = tempfile.TemporaryFile("w+")
        self.pgconn.trace(self._trace.fileno())
        self.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.pgconn.untrace()
        self._trace.seek(0)
        directions = [line.split("\t", 1)[0] for line in self._trace.read().splitlines()]
        self.count = sum(
            1 for a, b in zip(["B", *directions], directions, strict=False) if (a, b) == ("F", "B")
        )
        self._trace.close()


__all__ = ["PostgreSQLServer", "RoundTrips"]
