"""
What a gateway makes in its data directory before it serves, once, by the
process that owns the directory (the parent of the workers, or the single
process): the lock that keeps a second gateway out, the certificate, the
secret, the database's tables, and, on SQLite, the queues of workers that
no longer run, handed to worker 1 (on PostgreSQL the spools are left as
they are: the queue is shared).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import sys
from pathlib import Path

from twisted.logger import Logger

from ..config import DASHBOARD_URL_FILE, LOCK_FILE, Config
from ..features import loadSecret
from ..queue import SPOOL_FILE, SpoolDatabase, spoolDirectories, spoolDirectory
from ..runtime import (
    CertificateError,
    dashboardUrls,
    explain,
    generateSelfSigned,
    loadServerOptions,
)
from ..store import DatabaseError, StoreError, connect, shareSecret, unreachable, upgrade

log = Logger()


class StartError(Exception):
    """The gateway cannot start; the text says why, in one line."""


class DataDirectoryLock:
    """
    An exclusive C{flock} on L{LOCK_FILE} in a data directory, which holds
    the process id of its owner: two gateways on one directory would both
    deliver (and resume) the same spools. Held by the process that owns the
    directory for its whole life, and by its workers, which inherit the
    locked descriptor (the kernel lets go of it when the last of them
    ends, however they end); the C{smtpeter} command never takes it.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data: Path) -> DataDirectoryLock:
        """
        Lock C{data} (made if need be) for this process.
        @raise StartError: naming the directory and the process that holds it.
        """
        data.mkdir(parents=True, exist_ok=True)
        path = data / LOCK_FILE
        # Not inherited by whatever this process may run; the supervisor
        # hands it to its workers on purpose (L{fileno}).
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            who = f"pid {holder}" if holder.isdigit() else "another process"
            raise StartError(
                f"{data.resolve()} is in use by another gateway ({who}); stop it, or give"
                " this one another --data directory"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    @staticmethod
    def holder(data: Path) -> str:
        """Who holds C{data}'s lock, as its lock file says: C{pid N}, or C{another process}."""
        try:
            text = (data / LOCK_FILE).read_text("ascii", "replace").strip()
        except OSError:
            text = ""
        return f"pid {text}" if text.isdigit() else "another process"

    def fileno(self) -> int:
        """
        The locked descriptor. A child process given it (not a copy of the
        file opened anew) holds the same lock, until the last one closes it.
        """
        assert self._fd is not None, "released"
        return self._fd

    def release(self) -> None:
        """Let another gateway have the directory (the stop's last step)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def whyNotStarted(error: Exception) -> str:
    """The one line that says why the gateway cannot start, from what stopped it."""
    if isinstance(error, OSError):
        if error.filename:
            return f"{error.filename}: {error.strerror}"
        return error.strerror or str(error)
    return str(error)


def sayNotStarted(why: str) -> None:
    """
    Say why the gateway cannot start: one line on the standard error that
    twistd was started with (the operator's terminal, even once twistd
    redirected C{sys.stderr} to its log), and a critical event in the log.
    """
    print(f"smtpeter: cannot start: {why}", file=sys.__stderr__, flush=True)
    log.critical("cannot start: {why}", why=why)


def prepareDataDirectory(config: Config):
    """
    Make what the workers share. @return: the server's TLS options.
    @raise StartError: with the reason, when the gateway cannot start.
    """
    config.data.mkdir(parents=True, exist_ok=True)
    certPath, keyPath = config.certificatePaths
    if config.generatesCertificate and not certPath.exists():
        generateSelfSigned(config.hostname, certPath, keyPath)
        log.warn(
            "generated a self-signed certificate for {hostname} in {path}; mail clients"
            " must be told to trust it, or start with --tls-cert/--tls-key",
            hostname=config.hostname,
            path=str(certPath),
        )
    try:
        tlsOptions = loadServerOptions(certPath, keyPath)
        loadSecret(config.secret)
    except (CertificateError, ValueError) as e:
        raise StartError(str(e))
    try:
        createDatabase(config)
    except StoreError as e:
        raise StartError(f"{config.sharedDatabase}: {e}") from e
    except DatabaseError as e:
        if config.postgresql is not None:
            raise StartError(unreachable(config.postgresql, e)) from e
        raise StartError(explain(config.database, e)) from e
    if config.postgresql is None:
        adoptOrphanedSpools(config)
    else:
        warnOfSpooledMail(config)
    recordDashboardUrls(config)
    return tlsOptions


def recordDashboardUrls(config: Config) -> None:
    """Say in the data directory where this gateway's dashboard is (none: an empty file)."""
    path = config.data / DASHBOARD_URL_FILE
    partial = path.with_name(path.name + ".new")
    partial.write_text(
        "".join(f"{url}\n" for url in dashboardUrls(config.hostname, config.dashboard))
    )
    partial.replace(path)


def createDatabase(config: Config) -> None:
    """
    Make the database, or bring it to the current schema version, and the
    secret (a gateway's every start, or C{init}).
    """
    config.data.mkdir(parents=True, exist_ok=True)
    fresh = not config.secret.exists()
    mine = loadSecret(config.secret)
    existed = config.postgresql is not None or config.database.exists()
    db = connect(config.sharedDatabase)
    try:
        before, after = upgrade(db)
        if config.postgresql is not None:
            _takeSharedSecret(config, mine, shareSecret(db, mine), fresh)
    finally:
        db.close()
    if existed and before != after:
        log.info(
            "upgraded the database {path} from schema version {before} to {after}",
            path=str(config.sharedDatabase),
            before=before,
            after=after,
        )


def _takeSharedSecret(config: Config, mine: bytes, shared: bytes, fresh: bool) -> None:
    """
    Keep the cluster's secret in C{secret.key}, where the gateway reads it
    (C{fresh}: the one it held was made just now, and signed nothing yet).
    """
    if shared == mine:
        return
    partial = config.secret.with_name(config.secret.name + ".new")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(shared)
        f.flush()
        os.fsync(f.fileno())
    partial.replace(config.secret)
    if fresh:
        log.info(
            "{path} holds the secret the nodes on {database} share",
            path=str(config.secret),
            database=str(config.postgresql),
        )
        return
    log.warn(
        "{path} now holds the secret the nodes on {database} share (links and bounce"
        " addresses signed with the one it held before no longer verify)",
        path=str(config.secret),
        database=str(config.postgresql),
    )


def adoptOrphanedSpools(config: Config) -> int:
    """Move the queues of workers above C{config.workers} into worker 1's spool."""
    first = SpoolDatabase(spoolDirectory(config.data, 1))
    moved = 0
    try:
        _checked(first.path, first.open)
        for worker, root in spoolDirectories(config.data):
            if worker > config.workers:
                count = _checked(root / SPOOL_FILE, first.adopt, root)
                moved += count
                log.info(
                    "worker {worker} is no longer run: its {n} queued message(s) now belong"
                    " to worker 1",
                    worker=worker,
                    n=count,
                )
    finally:
        first.close()
    return moved


def warnOfSpooledMail(config: Config) -> list[str]:
    """
    On PostgreSQL, leave the workers' SQLite spools in the data directory
    as they are (a node reads the shared queue only; after C{db copy} they
    are a record of what was copied), but say in one warning which of them
    still hold queued mail, and what to do. @return: those spools, each
    with how much it holds (or why it cannot be read).
    """
    holding = []
    for _, root in spoolDirectories(config.data):
        if (root / "queue").is_dir():
            holding.append(f"{root.name}: queue files of an earlier smtpeter")
        try:
            spool = SpoolDatabase.reading(root)
            if spool is None:
                continue
            try:
                queued = spool.queuedCount()
            finally:
                spool.close()
        except sqlite3.Error as e:
            holding.append(f"{root.name}: cannot be read ({e})")
            continue
        if queued:
            holding.append(f"{root.name}: {queued} message(s)")
    if holding:
        log.warn(
            "the SQLite spools in {data} still hold queued mail ({holding}), which a node on"
            " PostgreSQL never delivers: `smtpeter db copy` takes it into an empty database;"
            " once it is copied, never start on SQLite with these spools again, and delete"
            " their spool.db files when you no longer want them as a record"
            " (docs/cluster.md: Moving a SQLite gateway to PostgreSQL)",
            data=str(config.data),
            holding="; ".join(holding),
        )
    return holding


def _checked(path: Path, operation, *args):
    """C{operation(*args)}, whose SQLite errors (about C{path}) are a L{StartError}."""
    try:
        return operation(*args)
    except sqlite3.Error as e:
        raise StartError(explain(path, e)) from e
