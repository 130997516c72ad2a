"""
The service twistd runs for a node (L{nodeService}): a supervisor of its
workers, or a whole gateway in one process, with its metrics endpoint
beside it.
"""

from __future__ import annotations

from twisted.application.service import IService

from ..config import Config
from ..runtime import freezeStartup
from ._metrics import withMetrics
from ._service import GatewayService
from ._supervisor import Supervisor
from ._textlog import OwnTextLog
from ._twistd import TwistdRun


def nodeService(config: Config, arguments: list[str], twistd: TwistdRun, reactor) -> IService:
    """
    The node of C{config}: with several workers, their supervisor (which
    starts each with C{arguments}, the options twistd was given); with
    one, the whole gateway in this process, writing its own text log when
    twistd's goes to standard output (L{OwnTextLog}). C{twistd} is the run
    that a refused start must tidy up after.
    """
    if config.workers > 1:
        supervisor = Supervisor(
            config,
            arguments,
            reactor,
            textOutput=twistd.logsTextToStandardOutput(),
            twistd=twistd,
        )
        return withMetrics(config, supervisor, reactor)
    reactor.callWhenRunning(freezeStartup, reactor)
    service = withMetrics(config, GatewayService(config, reactor, twistd=twistd), reactor)
    return OwnTextLog(service, reactor) if twistd.logsTextToStandardOutput() else service
