"""
The node's Prometheus endpoint (C{--metrics ENDPOINT}): C{GET /metrics} in
the text exposition format, the node's totals.

With several workers (L{Supervisor}) the supervisor serves it: before it
starts the workers, it empties C{metrics/} in the data directory and names
it in C{PROMETHEUS_MULTIPROC_DIR}, which the workers inherit, so each
writes its values there (L{smtpeter.runtime}'s metrics); a scrape adds
them up (C{prometheus_client}'s multiprocess collector). One process, one
endpoint, whichever worker a metric was counted in; the workers listen on
nothing more. A gauge of a worker that has died is dropped at the next
scrape; its counters are kept, so that the node's totals never go down
while it runs. A gateway of one process serves its own metrics.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from twisted.application.service import IService, MultiService, Service
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError
from twisted.logger import Logger
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from ..config import Config
from ..web import BoundedSite
from ._datadir import StartError, whyNotStarted
from ._holding import NodeHolder
from ._listeners import cannotListen

log = Logger()

#: What names the directory of the workers' values, to prometheus_client.
MULTIPROCESS_ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"
#: That directory, in the data directory.
METRICS_DIRECTORY = "metrics"
#: A live gauge's file of one worker process (its pid last).
_LIVE_GAUGE = re.compile(r"gauge_live\w+?_(\d+)\.db")


class MetricsPage(Resource):
    """
    C{/metrics}: every metric of the registry, as Prometheus reads them;
    any other path is a 404 and any other method a 405, in plain text.
    """

    isLeaf = True

    def __init__(self, registry: Any, directory: Path | None) -> None:
        super().__init__()
        self.registry = registry
        self.directory = directory

    def render(self, request: Request) -> bytes:
        if request.path != b"/metrics":
            return _refused(request, http.NOT_FOUND, "no such resource: GET /metrics")
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD")
            return _refused(request, http.NOT_ALLOWED, "method not allowed: GET /metrics")
        return super().render(request)

    def render_GET(self, request: Request) -> bytes:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        if self.directory is not None:
            forgetDeadWorkers(self.directory)
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode("ascii"))
        return generate_latest(self.registry)


def _refused(request: Request, code: int, why: str) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return f"{code} {why}\n".encode("ascii")


def forgetDeadWorkers(directory: Path) -> None:
    """Drop the live gauges of worker processes that are gone (a restarted worker's)."""
    from prometheus_client import multiprocess

    for pid in {int(m[1]) for f in os.listdir(directory) if (m := _LIVE_GAUGE.fullmatch(f))}:
        if not os.path.exists(f"/proc/{pid}") and pid != os.getpid():
            multiprocess.mark_process_dead(pid, str(directory))


class _QuietSite(BoundedSite):
    """
    A scrape every few seconds is not worth a log line each. A scrape is a
    C{GET}: no body is ever read here, and the limits of the other HTTP
    listeners hold (connections per address, a request's time, its line
    and headers), so that a client of this port cannot make the node read
    bodies of any size or hold its files open.
    """

    def log(self, request: http.Request) -> None:
        pass

    def takesBody(self, method: bytes, path: str) -> bool:
        return False


def metricsSite(directory: Path | None) -> Site:
    """The site of C{/metrics}: of the workers' values in C{directory}, or of this process."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

    registry: Any = REGISTRY
    if directory is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(directory))
    site = _QuietSite(MetricsPage(registry, directory))
    site.noisy = False
    return site


class MetricsListener(Service):
    """
    Listens on C{--metrics}; with C{multiprocess}, first readies the
    workers' directory (started after the node holds its data directory,
    before it starts its workers). If it cannot, C{refuse} (the node's)
    lets go of what the node holds and ends the process with one line.
    """

    def __init__(
        self,
        config: Config,
        reactor: Any,
        multiprocess: bool,
        refuse: Callable[[Exception], NoReturn],
    ) -> None:
        self.config = config
        self.reactor = reactor
        self.multiprocess = multiprocess
        self.refuse = refuse
        self.port: Any = None

    def privilegedStartService(self) -> None:
        assert self.config.metrics is not None  # made only when asked for
        directory = None
        try:
            if self.multiprocess:
                directory = self.config.data / METRICS_DIRECTORY
                shutil.rmtree(directory, ignore_errors=True)
                directory.mkdir(mode=0o700)
                os.environ[MULTIPROCESS_ENVIRONMENT] = str(directory)
        except OSError as e:
            self.refuse(StartError(f"--metrics: {whyNotStarted(e)}"))
        try:
            found: list[Any] = []
            endpoint = serverFromString(self.reactor, self.config.metrics)
            endpoint.listen(metricsSite(directory)).addBoth(found.append)
            [self.port] = found
            if not hasattr(self.port, "stopListening"):
                self.port.raiseException()
        except (OSError, CannotListenError) as e:
            self.refuse(cannotListen("--metrics", self.config.metrics, e))
        super().privilegedStartService()

    def startService(self) -> None:
        if self.port is None:
            self.privilegedStartService()
        super().startService()
        log.info("metrics on {endpoint} (/metrics)", endpoint=self.config.metrics)

    def stopService(self):
        super().stopService()
        if self.port is not None:
            port, self.port = self.port, None
            return port.stopListening()
        return None


def withMetrics(config: Config, node: NodeHolder, reactor: Any) -> IService:
    """
    The C{node} (a L{Supervisor} or a whole gateway) and, with C{--metrics},
    its endpoint beside it: started after the node's own start has taken
    the data directory, and before the supervisor starts its workers; one
    that cannot listen refuses the node's start, as the node's own
    listeners do.
    """
    service = IService(node)
    if config.metrics is None:
        return service
    both = MultiService()
    service.setServiceParent(both)
    listener = MetricsListener(config, reactor, config.workers > 1, node.refuseToStart)
    listener.setServiceParent(both)
    return both
