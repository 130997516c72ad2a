"""
What a gateway makes in its data directory before it serves, once, by the
process that owns the directory (the parent of the workers, or the single
process): the certificate, the secret, the database's tables, and the
queues of workers that no longer run, handed to worker 1.
"""

from __future__ import annotations

from twisted.logger import Logger

from .config import DASHBOARD_URL_FILE, Config, dashboardUrls
from .features import loadSecret
from .queue._database import SpoolDatabase
from .queue._spool import spoolDirectories, spoolDirectory
from .smtp._tls import CertificateError, generateSelfSigned, loadServerOptions
from .store import connect
from .store._admins import AdminStore
from .store._apitokens import TokenStore
from .store._domains import DomainStore
from .store._events import EventStore
from .store._queuerequests import QueueRequestStore
from .store._suppressions import SuppressionStore
from .store._throttle import ThrottleStore
from .store._webhooks import WebhookStore

log = Logger()


class StartError(Exception):
    """The gateway cannot start; the text says why, in one line."""


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
    createDatabase(config)
    adoptOrphanedSpools(config)
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
    """Make the database with every table, and the secret (a gateway's first start, or C{init})."""
    config.data.mkdir(parents=True, exist_ok=True)
    loadSecret(config.secret)
    db = connect(config.database)
    try:
        for store in (
            TokenStore,
            DomainStore,
            EventStore,
            WebhookStore,
            ThrottleStore,
            SuppressionStore,
            QueueRequestStore,
            AdminStore,
        ):
            store(db)
    finally:
        db.close()


def adoptOrphanedSpools(config: Config) -> int:
    """Move the queues of workers above C{config.workers} into worker 1's spool."""
    first = SpoolDatabase(spoolDirectory(config.data, 1))
    moved = 0
    try:
        for worker, root in spoolDirectories(config.data):
            if worker > config.workers:
                count = first.adopt(root)
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
