"""
Where a worker's queue lives, and what keeps it going: on one machine, a
spool of its own in the data directory (SQLite); on several nodes, its
hand on the queue they all share in PostgreSQL, with the services that
claim work and renew its leases, and the cluster's periodic work run by
one worker at a time.
"""

from __future__ import annotations

from twisted.application.internet import TimerService
from twisted.application.service import IService
from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IReactorCore, IReactorTime
from twisted.logger import Logger

from ..config import Config
from ..queue import SharedSpool, SQLiteSpool, connectQueue, spoolDirectory
from ..queue.manager import Claiming, QueueGauges, QueueManager, SharedQueueGauges
from ._duty import OncePerCluster, PostgresDuty

log = Logger()

#: How often the cluster's worker on duty looks for held mail kept too long.
HOLD_EXPIRY_EVERY = 60.0


def openSpool(config: Config, index: int, reactor) -> SQLiteSpool | SharedSpool:
    """Worker C{index}'s spool, started."""
    if config.postgresql is None:
        spool = SQLiteSpool(spoolDirectory(config.data, index), reactor, config.keepSent)
        spool.start()
        return spool
    uri = config.postgresql.uri
    shared = SharedSpool(
        lambda: connectQueue(uri),
        f"{config.node}/{index}",
        config.node,
        reactor,
        config.lease.total_seconds(),
        spoolDirectory(config.data, index) / "incoming",
        config.keepSent,
    )
    d = shared.start()
    d.addCallback(_released)
    d.addErrback(lambda f: log.failure("releasing what this worker held before failed", f))
    return shared


def queueServices(
    config: Config, queue: QueueManager, reactor: IReactorTime, sharedTasks: bool = True
) -> list[IService]:
    """
    What a worker runs for its queue beside the manager: its gauges, and
    claiming, on a shared queue. There the gauges are the whole cluster's,
    set by the node's worker that runs its shared tasks (C{sharedTasks})
    only, so that the node's workers do not add them up.
    """
    if config.postgresql is None:
        return [QueueGauges(queue, reactor)]
    claiming = Claiming(queue, reactor, config.lease.total_seconds())
    if not sharedTasks:
        return [claiming]
    return [SharedQueueGauges(queue.spool, reactor), claiming]


def oncePerCluster(
    config: Config,
    queue: QueueManager,
    reactor: IReactorCore,
    owner: str,
    duties: list[IService],
) -> list[IService]:
    """
    The cluster's periodic work (C{duties}: purges, ...): on one machine,
    as they are (the first worker runs them); on a shared queue, run by one
    worker of the whole cluster at a time, with the expiry of held mail.
    """
    if config.postgresql is None:
        return duties
    uri = config.postgresql.uri
    lease = PostgresDuty(reactor, lambda: connectQueue(uri), "periodic")
    lease.start()
    reactor.addSystemEventTrigger("after", "shutdown", lease.stop)
    duty = OncePerCluster(lease, owner, reactor, config.lease.total_seconds())
    expiry = TimerService(HOLD_EXPIRY_EVERY, _expireHeld, queue)
    expiry.setName("hold-expiry")
    for service in [*duties, expiry]:
        service.setServiceParent(duty)
    return [duty]


def _expireHeld(queue: QueueManager):
    d = ensureDeferred(queue.expireHeld())
    d.addCallback(_expired)
    d.addErrback(lambda f: log.failure("expiring held mail failed", f))
    return d


def _released(n: int) -> None:
    if n:
        log.info("released {n} message(s) this worker held before a restart", n=n)


def _expired(n: int) -> None:
    if n:
        log.info("dropped {n} held message(s) kept too long", n=n)
