"""
Carrying out requests to retry or delete queued messages, made with the CLI
or the API (L{smtpeter.store._queuerequests}): every second each node reads
the requests and does those about messages in its own queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.application.service import Service
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from ...runtime import RepeatedErrors
from ...store import DELETE, RELEASE, RETRY

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

    from ...store import IQueueRequests
    from ._manager import QueueManager

log = Logger()
#: Errors that come again and again (a damaged database): once a minute, counted.
repeated = RepeatedErrors(log)

#: A request that no node carried out in this long is about a message that
#: finished meanwhile: it is dropped.
FORGET_AFTER = 60.0


class QueueRequests(Service):
    """Polls C{store} (an L{IQueueRequests}) for C{queue}'s messages."""

    # Twisted's Service declares name as None (no annotation), not str | None.
    name = "queue-requests"  # type: ignore[assignment]

    def __init__(
        self,
        store: IQueueRequests,
        queue: QueueManager,
        clock: IReactorTime,
        forgetsOld: bool,
        interval: float = 1.0,
    ) -> None:
        self.store = store
        self.queue = queue
        self.clock = clock
        self.forgetsOld = forgetsOld
        self._loop = LoopingCall(self._tick)
        self._loop.clock = clock
        self.interval = interval

    def startService(self) -> None:
        super().startService()
        self._loop.start(self.interval, now=False)

    def stopService(self):
        super().stopService()
        if self._loop.running:
            self._loop.stop()

    def _tick(self):
        d = ensureDeferred(self.poll())
        d.addErrback(lambda f: repeated.failure("reading queue requests failed", f))
        return d

    async def poll(self) -> None:
        for request in await self.store.queueRequests():
            if not await self.queue.take(request.qid):
                continue
            if request.action == RETRY:
                self.queue.retryNow(request.qid)
            elif request.action == RELEASE:
                self.queue.release(request.qid)
            elif request.action == DELETE and not await self.queue.delete(request.qid):
                continue  # an attempt is under way: at the next tick
            log.info("{qid}: {action} as requested", qid=request.qid, action=request.action)
            await self.store.queueRequestDone(request.id)
        if self.forgetsOld:
            await self.store.forgetQueueRequests(self.clock.seconds() - FORGET_AFTER)
