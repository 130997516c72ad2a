"""
What the process that owns a node holds while it runs: the data
directory's lock and, on PostgreSQL, the node's name. The supervisor holds
them for its workers; a gateway of one process holds them itself. Taken and
let go of here, once for both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from twisted.internet.error import CannotListenError
from twisted.logger import Logger

from ..config import Config
from ..runtime import CertificateError, nameConnections
from ._datadir import (
    DataDirectoryLock,
    StartError,
    prepareDataDirectory,
    sayNotStarted,
    whyNotStarted,
)
from ._nodename import NodeName
from ._twistd import TwistdRun

log = Logger()


class NodeHolder:
    """
    A mixin for the process that owns the node: L{holdNode} as it starts,
    L{releaseNode} as it stops, L{refuseToStart} if it cannot.
    """

    #: The data directory's lock (its workers inherit it).
    dataLock: DataDirectoryLock | None = None
    #: This node's name on PostgreSQL (C{None} on SQLite).
    nodeName: NodeName | None = None
    #: The twistd run, told if the gateway refuses to start.
    twistd: TwistdRun
    #: The holder's own (both have them).
    config: Config
    reactor: Any

    def holdNode(self, config: Config):
        """
        Lock the data directory, make what the workers share in it, and hold
        the node's name. What was taken before a failure stays held for
        L{releaseNode} to let go of.
        @return: the server's TLS options.
        @raise StartError: the directory or the name is another gateway's,
            or the directory cannot be made ready.
        """
        self.dataLock = DataDirectoryLock.acquire(config.data)
        tlsOptions = prepareDataDirectory(config)
        nameConnections(f"smtpeter {config.node}")
        self.nodeName = NodeName.hold(config, self._nameLost)
        return tlsOptions

    def _nameLost(self, why: str) -> None:
        """In the heartbeat's thread: another node took this one's name; this one stops."""
        self.reactor.callFromThread(self._stopForName, why)

    def _stopForName(self, why: str) -> None:
        log.critical("node {name}: {why}", name=self.config.node, why=why)
        if self.reactor.running:
            self.reactor.stop()

    def releaseNode(self) -> None:
        """Let go of the name, then the directory: another gateway may have them."""
        if self.nodeName is not None:
            self.nodeName.release()
            self.nodeName = None
        if self.dataLock is not None:
            self.dataLock.release()
            self.dataLock = None

    def startOrRefuse(self, start: Callable[[], None]) -> None:
        """
        Call C{start}; if it fails, L{refuseToStart}: with its reason for
        what an operator can put right, and for anything else (a bug) with
        the traceback in the log, rather than run on half started.
        """
        try:
            start()
        except (OSError, CannotListenError, CertificateError, StartError) as e:
            self.refuseToStart(e)
        except Exception as e:
            log.failure("the gateway could not start")
            self.refuseToStart(
                StartError(f"{type(e).__name__}: {e} (a bug: the log has its traceback)")
            )

    def refuseToStart(self, error: Exception) -> NoReturn:
        """
        One clear line and a non-zero exit, not a traceback: say why, let go
        of what was held, and tell twistd (whose parent waits to hear).
        """
        why = whyNotStarted(error)
        sayNotStarted(why)
        self.releaseNode()
        self.twistd.refused(why)
        raise SystemExit(1)
