"""
The queue manager: accepts messages durably, then works on each until every
recipient is delivered or has failed for good.

It keeps the queue's timers and delivery slots, hands due messages to the
delivery agent through the feature chain, and carries out what
L{settle} decides about the outcomes (and about deletions, and held mail
kept too long: administrators' requests and held mail are
L{_adminrequests}'s). DSNs are written before the recipients' states, so a
crash can duplicate a DSN, never lose one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from attrs import define, evolve, field
from twisted.internet.defer import (
    Deferred,
    ensureDeferred,
)
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure
from zope.interface import implementer

from ...config import default
from ...delivery import dsn
from ...events import WARNING, Event, IEventSink
from ...features import PassThrough
from ...message import Envelope, Options, QueuedMessage
from ...runtime import RepeatedErrors
from ...smtp import LOCAL_ERROR, SMTPRefusal
from .. import ClaimLost, IQueue, ISpool, SpoolUnusable
from .._incoming import IncomingContent, Spilled
from .._spool import newQueueId
from ._adminrequests import AdminRequests
from ._entry import Entry, adopted
from ._sending import deliverCopies, suppress, suppressedOutcomes
from ._settlement import (
    EXPIRED,
    LOST,
    UNSUBSCRIBED,
    Attempt,
    RecipientState,
    Removal,
    RetryPolicy,
    Settlement,
    settle,
)
from ._slots import DeliverySlots

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

    from ...delivery import IDeliveryAgent
    from ...features.interfaces import ITransformer
    from ...store import ISuppressionStore

log = Logger()
#: Errors that come again and again (a damaged database): once a minute, counted.
repeated = RepeatedErrors(log)


@implementer(IQueue)
@define
class QueueManager(AdminRequests):
    spool: ISpool
    agent: IDeliveryAgent
    clock: IReactorTime
    hostname: str
    events: IEventSink
    retry: RetryPolicy = RetryPolicy()
    #: How many messages are being delivered at once; the rest that are due wait in line.
    concurrency: int = 32
    #: The feature chain (L{smtpeter.features.ITransformer}).
    transformer: ITransformer = field(factory=PassThrough)
    #: Per message, how many recipients' copies are rendered and sent at once.
    copiesAtOnce: int = 20
    #: The suppression list (an L{ISuppressionStore}), if there is one.
    suppressions: ISuppressionStore | None = None
    #: How long an address that failed as unknown stays suppressed (C{None}: always).
    suppressFor: timedelta | None = timedelta(days=default("suppressionDays"))
    #: How long held mail (hold mode) is kept before it is dropped.
    holdFor: timedelta = timedelta(days=default("holdDays"))
    #: Bytes of message content kept in memory for a first attempt, at most.
    #: Beyond it (a backlog), content is read back from the spool when sent.
    contentInMemory: int = 64 * 1024 * 1024
    entries: dict[str, Entry] = field(factory=dict, init=False)
    _slots: DeliverySlots[Entry] = field(init=False)
    _contentBytes: int = field(default=0, init=False)
    _stopping: bool = field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        self._slots = DeliverySlots(
            self.clock, lambda: self.concurrency, self._start, self._stillDue
        )

    # Accepting ------------------------------------------------------------

    def incoming(self) -> IncomingContent:
        return self.spool.incoming()

    def enqueue(
        self, envelope: Envelope, options: Options, content: bytes | Spilled
    ) -> Deferred[str]:
        return ensureDeferred(self._enqueue(envelope, options, content, False))

    def enqueueNotice(self, envelope: Envelope, content: bytes) -> Deferred[str]:
        """Queue a notice of ours (a forwarded bounce): no features, and never a DSN about it."""
        return ensureDeferred(self._enqueue(envelope, Options(), content, True))

    async def _enqueue(self, envelope: Envelope, options: Options, content, isDSN: bool) -> str:
        # content: bytes | Spilled, which QueuedMessage.content (typed bytes) holds while stored
        message = QueuedMessage(
            newQueueId(self.clock.seconds), envelope, options, self.clock.seconds(), content, isDSN
        )
        try:
            await self.spool.store(message)
        except SpoolUnusable:
            # The spool said so once, loudly; a line per message would bury it.
            raise SMTPRefusal(LOCAL_ERROR)
        except OSError as e:
            # The disk is full, or the spool unwritable: a known condition, one line.
            error = f"{e.strerror or e} ({e.filename or 'spool'})"
            repeated.emit(
                LogLevel.error,
                "could not store a message for <{sender}>: {error}",
                key=error,
                sender=envelope.sender,
                error=error,
            )
            raise SMTPRefusal(LOCAL_ERROR)
        except Exception:
            repeated.failure("could not store message")
            raise SMTPRefusal(LOCAL_ERROR)
        entry = Entry(evolve(message, content=b""), [RecipientState() for _ in envelope.recipients])
        # A large body, or one beyond the memory budget, is read back from
        # the spool when it is sent.
        if isinstance(content, bytes) and self._contentBytes < self.contentInMemory:
            entry.content = content
            self._contentBytes += len(content)
        self.entries[message.qid] = entry
        self._recorded(self.events.accepted(message))
        if options.hold:
            if self.shared:
                # Held mail in a shared queue is nobody's: stored unclaimed.
                self._forget(entry)
            else:
                self._hold(entry)
        else:
            self._schedule(entry, self.clock.seconds())
        return message.qid

    def resume(self) -> Deferred[int]:
        """Pick up everything on disk after a start. @return: C{Deferred[int]}, the count."""
        return ensureDeferred(self._resume())

    async def _resume(self) -> int:
        for message, saved in await self.spool.load():
            entry = adopted(message, saved)
            self.entries[message.qid] = entry
            # Recorded before a crash, or not: the log keeps the first.
            self._recorded(self.events.accepted(message))
            if not entry.pending:
                await self.spool.remove(message.qid)
                del self.entries[message.qid]
                continue
            if message.options.hold and not any(s.released for s in entry.states):
                self._hold(entry)
                continue
            self._schedule(entry, min(entry.states[i].nextAttempt for i in entry.pending))
        return len(self.entries)

    # Working ----------------------------------------------------------------

    def _schedule(self, entry: Entry, when: float) -> None:
        if self._stopping:
            return
        if entry.timer is not None and entry.timer.active():
            entry.timer.cancel()
        delay = when - self.clock.seconds()
        if delay > 0:
            entry.timer = self.clock.callLater(delay, self._due, entry)
        else:
            self._due(entry)

    def _due(self, entry: Entry) -> None:
        """Put the entry in line for a delivery slot."""
        entry.timer = None  # fired, if it was set: no cycle left for the GC to find
        if entry.ready or entry.running or entry.held or self._stopping:
            return
        self._slots.put(entry)

    def _stillDue(self, entry: Entry) -> bool:
        """Not dropped, held or being worked on since it was put in line."""
        return not (entry.running or entry.held or entry.message.qid not in self.entries)

    def _start(self, entry: Entry) -> Deferred[None]:
        entry.running = True

        def finished(result) -> None:
            entry.running = False
            if isinstance(result, Failure):
                qid = entry.message.qid
                if result.check(OSError):
                    # Its body unreadable (permissions, the disk): a known condition, one line.
                    why = result.value.strerror or str(result.value)
                    repeated.emit(
                        LogLevel.error,
                        "{qid}: cannot read it from the spool ({why}: {path});"
                        " trying again in a minute",
                        key=why,
                        qid=qid,
                        why=why,
                        path=result.value.filename,
                    )
                else:
                    log.failure("queue run of {qid} failed", result, qid=qid)
                self._schedule(entry, self.clock.seconds() + 60)

        return ensureDeferred(self._deliver(entry)).addBoth(finished)

    async def _deliver(self, entry: Entry) -> None:
        message = entry.message
        pending = entry.pending
        if not pending or self._stopping:
            return
        content = self._takeContent(entry)
        if content is None:
            try:
                content = await self.spool.readContent(message.qid)
            except FileNotFoundError as e:
                await self._contentGone(entry, e)
                return
        now = self.clock.seconds()
        if message.options.maxDeliverTime is not None and now >= message.options.maxDeliverTime:
            # Its sender said not after then (maxdelivertime): not attempted, failed.
            expired = Removal(EXPIRED, "not delivered before its maxdelivertime; not attempted")
            await self._carryOut(
                entry, settle(message, entry.states, expired, now, self.retry), content
            )
            return
        suppressed = await suppressedOutcomes(
            self.suppressions, message, pending, self.clock.seconds()
        )
        sending = [i for i in pending if i not in suppressed]
        sent = iter(await self._send(entry, content, sending) if sending else [])
        outcomes = {i: suppressed.get(i) or next(sent) for i in pending}
        unsubscribed = frozenset(i for i, o in suppressed.items() if o.state == UNSUBSCRIBED)
        attempt = Attempt(outcomes, frozenset(suppressed), unsubscribed)
        settlement = settle(message, entry.states, attempt, self.clock.seconds(), self.retry)
        await self._carryOut(entry, settlement, content)

    async def _contentGone(self, entry: Entry, error: FileNotFoundError) -> None:
        """
        The message's body is not in the spool. In a shared queue another
        worker finished it (this one's lease ran out): it is let go of. In
        a spool of this worker's own, someone deleted the file: it can never
        be delivered, so it fails now (reason C{lost}, DSNs without the
        original's headers) rather than be tried every minute for ever.
        """
        qid = entry.message.qid
        if self.shared:
            self._forget(entry)
            log.warn("{qid}: finished by another worker (this one's lease ran out)", qid=qid)
            return
        where = error.filename or "the spool"
        log.error("{qid}: its content is gone from {where}; failing it", qid=qid, where=where)
        lost = Removal(LOST, f"its content was deleted from the spool ({where}); not attempted")
        await self._carryOut(
            entry, settle(entry.message, entry.states, lost, self.clock.seconds(), self.retry), b""
        )

    async def _carryOut(self, entry: Entry, settlement: Settlement, content: bytes | None) -> None:
        """
        Do what L{settle} decided: record the events, suppress, queue the
        DSNs, then write the new states (or forget the message once no
        recipient is pending).
        """
        message = entry.message
        now = self.clock.seconds()
        for event in settlement.events:
            self._event(event.kind, message, event.recipient, event.details)
        for address in settlement.suppress:
            suppress(self.suppressions, message.qid, address, now, self.suppressFor)
        for reports in settlement.dsns:
            assert content is not None  # read back by the caller when there are DSNs
            envelope, body = dsn.buildDSN(self.hostname, message, content, reports, now)
            qid = await self._enqueue(envelope, Options(), body, True)
            log.info(
                "{qid}: {action} DSN queued as {dsnid}",
                qid=message.qid,
                action=reports[0].action,
                dsnid=qid,
            )
        for index, state in settlement.states.items():
            entry.states[index] = state
        if entry.pending:
            changed = {i: s.toJSON() for i, s in settlement.states.items()}
            due = min(entry.states[i].nextAttempt for i in entry.pending)
            if self.shared:
                # Given back, for whichever worker is free when it is due.
                self._forget(entry)
                await self._fenced(self.claiming.release(message.qid, changed, due))
                return
            await self.spool.recordStates(message.qid, changed)
            self._schedule(entry, due)
        else:
            # Finished: no state record needed, as a crash before the remove
            # only repeats deliveries (never loses one).
            self.entries.pop(message.qid, None)
            await self._fenced(self.spool.remove(message.qid))

    async def _fenced(self, d) -> None:
        """An outcome's write, which a shared queue refuses once another worker claimed it."""
        try:
            await d
        except ClaimLost as e:
            log.warn("{why}", why=str(e))

    def _takeContent(self, entry: Entry) -> bytes | None:
        """The content kept in memory for the first attempt, given up: later ones read the spool."""
        content, entry.content = entry.content, None
        if content is not None:
            self._contentBytes -= len(content)
        return content

    async def _send(self, entry: Entry, content: bytes, pending: list[int]) -> list:
        """
        Through the feature chain to the agent (L{deliverCopies}). What the
        chain could not do is a warning event for each recipient, at their
        first attempt.
        """
        message = entry.message
        prepared = await self.transformer.prepare(message, content)
        for text in prepared.warnings:
            for index in pending:
                if not entry.states[index].attempts:
                    address = message.envelope.recipients[index].address
                    self._event(WARNING, message, address, {"text": text})
        beforeDot = (lambda: self.claiming.holds(message.qid)) if self.shared else None
        return await deliverCopies(
            self.transformer,
            self.agent,
            message,
            prepared,
            pending,
            self.copiesAtOnce,
            beforeDot,
        )

    def _event(
        self, kind: str, message: QueuedMessage, recipient: str, details: dict[str, object]
    ) -> None:
        event = Event(
            kind,
            message.qid,
            recipient,
            self.clock.seconds(),
            message.options.tags,
            details,
            login=message.options.login,
        )
        self._recorded(self.events.record(event))

    def _recorded(self, d: Deferred[None]) -> None:
        d.addErrback(lambda f: repeated.failure("recording an event failed", f))

    def stop(self, grace: timedelta = timedelta(seconds=20)) -> Deferred[int]:
        """
        Start no more deliveries, and wait for those in flight to finish and
        record their outcomes, for at most C{grace}; what is still going then
        is made again at the next start (a recipient may get it twice).
        @return: C{Deferred[int]}, how many were still in flight.
        """
        self._stopping = True
        for entry in self.entries.values():
            if entry.timer is not None and entry.timer.active():
                entry.timer.cancel()
        d = self._slots.stop(grace)
        if self.shared:
            d.addCallback(lambda n: ensureDeferred(self._giveBackAll(n)))
        return d
