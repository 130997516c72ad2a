"""
One gateway node's processes and their wiring: the service that runs a
whole gateway or one worker of it (L{GatewayService}), the listening
sockets the workers share and the balance of connections between them,
the data directory (its lock and what is made in it before serving), the
supervisor that starts and restarts the workers, the relay of the workers'
logs, the Prometheus endpoint (L{withMetrics}), the node's health checks,
and what a refused start owes twistd.

A worker process runs C{python -m smtpeter.process._worker} (see
L{Supervisor}); that module is not imported here. Nor is the gateway
itself (L{GatewayService}, which imports every package) until it is asked
for: the C{smtpeter} command needs only the data directory's functions, and
starts as fast as it did before this package existed.
"""

import importlib

from ._balance import Balance, LoadBoard
from ._datadir import (
    DataDirectoryLock,
    StartError,
    adoptOrphanedSpools,
    createDatabase,
    prepareDataDirectory,
    recordDashboardUrls,
    whyNotStarted,
)
from ._health import HealthCheck, diskSpace
from ._supervisor import Supervisor, WorkerProcess
from ._textlog import OwnTextLog
from ._twistd import TwistdRun, misplacedTwistdOption
from ._worklog import WorkerLogWriter, decodeLine

#: What is imported only when asked for, and from where.
_LATER = {
    "GatewayService": "._service",
    "WorkerRole": "._service",
    "AdoptedPortService": "._sharedport",
    "SharedPort": "._sharedport",
    "withMetrics": "._metrics",
    "nodeService": "._nodeservice",
}


def __getattr__(name: str):
    if name in _LATER:
        return getattr(importlib.import_module(_LATER[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "OwnTextLog",
    "AdoptedPortService",
    "Balance",
    "DataDirectoryLock",
    "GatewayService",
    "HealthCheck",
    "LoadBoard",
    "SharedPort",
    "StartError",
    "Supervisor",
    "TwistdRun",
    "WorkerLogWriter",
    "WorkerProcess",
    "WorkerRole",
    "adoptOrphanedSpools",
    "createDatabase",
    "decodeLine",
    "diskSpace",
    "misplacedTwistdOption",
    "nodeService",
    "prepareDataDirectory",
    "recordDashboardUrls",
    "whyNotStarted",
    "withMetrics",
]
