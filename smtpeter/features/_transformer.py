"""The chain, as the queue uses it: in a small thread pool, off the reactor."""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from zope.interface import implementer

from ..message import QueuedMessage
from ._chain import Chain, Copy, Prepared
from .interfaces import ITransformer

log = Logger()


@implementer(ITransformer)
class PassThrough:
    """No features: every recipient gets the message as it was queued."""

    def prepare(self, message: QueuedMessage, content: bytes) -> Deferred[Prepared]:
        return succeed(Prepared(message, [content]))

    def render(self, prepared: Prepared, index: int | None) -> Deferred[Copy]:
        return succeed(_plainCopy(prepared, index))


def _plainCopy(prepared: Prepared, index: int | None) -> Copy:
    message = prepared.message
    recipient = None if index is None else message.envelope.recipients[index].address
    return Copy(
        message.qid,
        index,
        recipient,
        message.envelope.sender,
        b"".join(prepared.pieces),
        prepared.publicUrl,
        {},
        {},
        None,
    )


@implementer(ITransformer)
class ThreadedChain:
    """
    L{Chain} in C{threadpool}. After preparing a message with tracked links
    the link list is recorded in C{store} (an L{IEventStore}) before the
    message goes anywhere, so that the click endpoint redirects only to what
    the message said; if that fails, so does the attempt, and it is retried.
    """

    def __init__(
        self,
        chain: Chain,
        reactor: IReactorFromThreads,
        threadpool,
        store=None,
    ) -> None:
        self.chain = chain
        self._reactor = reactor
        self._pool = threadpool
        self._store = store

    def prepare(self, message: QueuedMessage, content: bytes) -> Deferred[Prepared]:
        if not self.chain.active(message):
            return succeed(Prepared(message, [content]))
        d = deferToThreadPool(self._reactor, self._pool, self._prepare, message, content)
        return d.addCallback(self._recordLinks)

    def _prepare(self, message: QueuedMessage, content: bytes) -> Prepared:
        try:
            return self.chain.prepare(message, content)
        except Exception:
            log.failure("{qid}: the feature chain failed; sending unchanged", qid=message.qid)
            return Prepared(message, [content])

    def _recordLinks(self, prepared: Prepared):
        if not prepared.links or self._store is None:
            return prepared
        d = self._store.recordLinks(prepared.message.qid, prepared.links)
        return d.addCallback(lambda _: prepared)

    def render(self, prepared: Prepared, index: int | None) -> Deferred[Copy]:
        if not prepared.features:
            return succeed(_plainCopy(prepared, index))
        return deferToThreadPool(self._reactor, self._pool, self.chain.render, prepared, index)
