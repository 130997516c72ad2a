"""
The gateway's store in memory: the same interfaces as L{SQLiteStore}, for
tests (and as the shape a second backend fills). The contract tests in
C{tests/store/test_contract.py} run against both.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable

from attrs import evolve
from twisted.internet.defer import fail, succeed
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from ..events import ATTEMPT, Delivery, Webhook, attempts, storedOutcome
from ..events.interfaces import IEventSink
from ._apitokens import PREFIX, READ, TokenRecord, tokenHash
from ._events import EventQuery, LinkQuery, MessageQuery, MessageRecord, StoredEvent, summary
from ._exceptions import Missing, StoreError
from ._idempotency import ABANDONED as IDEMPOTENCY_ABANDONED
from ._idempotency import KEPT as IDEMPOTENCY_KEPT
from ._idempotency import KeyState
from ._memorylogins import MemoryAuthFailures, MemoryLoginStore, MemoryLoginUsage
from ._memoryqueries import clickedLinks, countedSeries, matchingEvents, matchingMessages
from ._queuerequests import QueueRequest
from ._suppressions import UNSUBSCRIBED, Suppression, newEntry, normalise
from .interfaces import (
    IAuthFailureStore,
    IDashboardSessionStore,
    IEventStore,
    IIdempotencyStore,
    ILoginStore,
    ILoginUsageStore,
    IQueueRequests,
    ISuppressionStore,
)


@implementer(
    IEventSink,
    IEventStore,
    IIdempotencyStore,
    ILoginStore,
    ILoginUsageStore,
    IAuthFailureStore,
    ISuppressionStore,
    IQueueRequests,
    IDashboardSessionStore,
)
class MemoryStore:
    """Everything kept in dictionaries; every Deferred has fired when returned."""

    def __init__(self, clock: IReactorTime) -> None:
        self.clock = clock
        self.logins = MemoryLoginStore(clock)
        self.failures = MemoryAuthFailures()
        self.usage = MemoryLoginUsage()
        self.messages: dict[str, MessageRecord] = {}
        self.stored: list[StoredEvent] = []
        self.sentLinks: dict[str, list[str]] = {}
        self.tokens: dict[str, TokenRecord] = {}
        #: Changes to C{tokens}, as L{tokensMark} tells them.
        self.tokenChanges = 0
        self.webhooks: dict[int, Webhook] = {}
        self.deliveries: dict[int, tuple[Delivery, float]] = {}
        self._deliveryRows = 0
        self._webhookListeners: list[Callable[[], None]] = []
        #: Suppressions by lower-cased address and login (C{None}: the gateway's).
        self.suppressionList: dict[tuple[str, str | None], Suppression] = {}
        self.requests: dict[int, QueueRequest] = {}
        #: Dashboard sessions: id -> (user name, expiry).
        self.dashboardSessions: dict[str, tuple[str, float]] = {}
        #: (token, Idempotency-Key) -> its state.
        self.idempotencyKeys: dict[tuple[str, str], KeyState] = {}

    # Set-up, as the CLI does it for the SQLite store ------------------------------

    def addToken(self, name: str, scope: str = READ, login: str | None = None) -> str:
        token = PREFIX + secrets.token_urlsafe(32)
        self.tokens[tokenHash(token)] = TokenRecord(name, self.clock.seconds(), None, scope, login)
        self.tokenChanges += 1
        return token

    def deleteToken(self, name: str) -> None:
        """Set-up: the token C{name} is deleted (as by the CLI)."""
        self.tokens = {h: r for h, r in self.tokens.items() if r.name != name}
        self.tokenChanges += 1

    def addWebhook(self, url: str, events, secret: str = "whsec_test") -> Webhook:
        hook = Webhook(
            len(self.webhooks) + 1, url, tuple(events), secret, True, None, 0.0, None, None
        )
        self.webhooks[hook.id] = hook
        return hook

    # Writing -------------------------------------------------------------------------

    def _add(self, kind, when, qid, recipient, tags, details) -> StoredEvent:
        event = StoredEvent(
            len(self.stored) + 1, kind, when, qid, recipient, tuple(tags), dict(details)
        )
        self.stored.append(event)
        queued = 0
        for hook in self.webhooks.values():
            if hook.enabled and kind in hook.events:
                body = _body(event)
                self._deliveryRows += 1
                delivery = Delivery(
                    self._deliveryRows, hook, event.id, kind, body, when, 0, uuid.uuid4().hex
                )
                self.deliveries[delivery.id] = (delivery, self.clock.seconds())
                queued += 1
        if queued:
            for listener in self._webhookListeners:
                listener()
        return event

    def accepted(self, message):
        if message.qid in self.messages:
            return succeed([])
        envelope = message.envelope
        self.messages[message.qid] = MessageRecord(
            message.qid,
            message.received,
            envelope.sender,
            tuple(envelope.recipients),
            envelope.ret,
            envelope.envid,
            tuple(message.options.tags),
            message.options.toJSON(),
            message.isDSN,
            *summary(message).values(),
        )
        return succeed([self._add(*attempt) for attempt in attempts(message)])

    def record(self, event):
        if event.type == ATTEMPT:
            return succeed([])
        kind, details = storedOutcome(event)
        return succeed(
            [self._add(kind, event.time, event.qid, event.recipient, event.tags, details)]
        )

    def recordLinks(self, qid, links):
        self.sentLinks[qid] = list(links)
        return succeed(None)

    def recordClick(self, qid, recipient, tags, details, when):
        return succeed(self._add("click", when, qid, recipient, tags, details))

    def recordUnsubscribe(self, qid, recipient, login, tags, details, when):
        try:
            key = (normalise(recipient).lower(), login or None)
        except StoreError as e:
            return fail(e)
        entry = self.suppressionList.get(key)
        if entry is not None and (entry.expires is None or entry.expires > when):
            return succeed(None)
        self.suppress(recipient, UNSUBSCRIBED, when, None, qid, login)
        details = {**details, "login": login}
        return succeed(self._add("unsubscribe", when, qid, recipient, tags, details))

    def recordOpen(self, qid, recipient, tags, details, when):
        number = 1 + sum(
            1 for e in self.stored if e.type == "open" and e.qid == qid and e.recipient == recipient
        )
        details = {**details, "first": number == 1, "number": number}
        return succeed(self._add("open", when, qid, recipient, tags, details))

    def recordBounce(self, qid, recipient, tags, details, when):
        return succeed(self._add("bounce", when, qid, recipient, tags, details))

    def webhookSucceeded(self, delivery, now):
        self.deliveries.pop(delivery.id, None)
        hook = self.webhooks[delivery.webhook.id]
        self.webhooks[hook.id] = evolve(hook, lastSuccess=now, lastError=None)
        return succeed(None)

    def webhookFailed(self, delivery, error, nextAttempt):
        hook = evolve(self.webhooks[delivery.webhook.id], lastError=error)
        if nextAttempt is None:
            hook = evolve(hook, enabled=False, disabledReason=f"disabled: {error}")
            for id, (queued, _) in list(self.deliveries.items()):
                if queued.webhook.id == hook.id:
                    del self.deliveries[id]
        else:
            self.deliveries[delivery.id] = (
                evolve(delivery, attempts=delivery.attempts + 1),
                nextAttempt,
            )
        self.webhooks[hook.id] = hook
        return succeed(None)

    def whenWebhooksQueued(self, listener):
        self._webhookListeners.append(listener)

    def purge(self, before):
        now = self.clock.seconds()
        for key, entry in list(self.suppressionList.items()):
            if entry.expires is not None and entry.expires <= now:
                del self.suppressionList[key]
        kept = [e for e in self.stored if e.time >= before]
        removed = len(self.stored) - len(kept)
        self.stored[:] = kept
        for qid, record in list(self.messages.items()):
            if record.received < before:
                del self.messages[qid]
                self.sentLinks.pop(qid, None)
        return succeed(removed)

    # IQueueRequests ---------------------------------------------------------------

    def requestQueueAction(self, qid: str, action: str) -> QueueRequest:
        """Set-up, as the CLI and the API do it for the SQLite store."""
        request = QueueRequest(len(self.requests) + 1, qid, action, self.clock.seconds())
        self.requests[request.id] = request
        return request

    def queueRequests(self):
        return succeed(sorted(self.requests.values(), key=lambda r: r.id))

    def queueRequestDone(self, id):
        self.requests.pop(id, None)
        return succeed(None)

    def forgetQueueRequests(self, before):
        old = [id for id, r in self.requests.items() if r.created < before]
        for id in old:
            del self.requests[id]
        return succeed(len(old))

    # ISuppressionStore ----------------------------------------------------------------

    def suppressed(self, addresses, now, login=None):
        found = {}
        for address in addresses:
            for scope in (None, login) if login else (None,):
                entry = self.suppressionList.get((address.lower(), scope))
                if entry is not None and (entry.expires is None or entry.expires > now):
                    found[address] = entry
                    break
        return succeed(found)

    def suppressions(self, now, login=None):
        entries = [
            e
            for e in self.suppressionList.values()
            if (e.expires is None or e.expires > now) and (login is None or e.login == login)
        ]
        return succeed(sorted(entries, key=lambda e: (e.created, e.address, e.login or "")))

    def suppress(self, address, reason, now, expires, qid, login=None):
        try:
            entry = Suppression(newEntry(address), reason, now, expires, qid, login or None)
        except StoreError as e:
            return fail(e)
        self.suppressionList[entry.address.lower(), entry.login] = entry
        return succeed(entry)

    def unsuppress(self, address, login=None):
        try:
            key = normalise(address).lower()
        except StoreError as e:
            return fail(e)
        gone = [k for k in self.suppressionList if k[0] == key and (login is None or k[1] == login)]
        if not gone:
            scope = "" if login is None else f" for login {login}"
            return fail(Missing(f"{address} is not suppressed{scope}"))
        for k in gone:
            del self.suppressionList[k]
        return succeed(None)

    # Reading -------------------------------------------------------------------------

    def message(self, qid):
        return succeed(self.messages.get(qid))

    def links(self, qid):
        return succeed(list(self.sentLinks.get(qid, [])))

    def messageEvents(self, qid):
        return succeed([e for e in self.stored if e.qid == qid])

    def events(self, query: EventQuery):
        return succeed(matchingEvents(self.stored, query))

    def day(self, type, start, end, after, limit):
        return self.events(EventQuery(type=type, start=start, end=end, after=after, limit=limit))

    def searchMessages(self, query: MessageQuery):
        return succeed(matchingMessages(self.messages, self.stored, query))

    def topLinks(self, query: LinkQuery):
        return succeed(clickedLinks(self.stored, query))

    def stats(self, query):
        return succeed(countedSeries(self.messages, self.stored, query))

    def checkToken(self, token):
        return succeed(self.tokens.get(tokenHash(token)))

    def tokensMark(self) -> bytes:
        return str(self.tokenChanges).encode()

    def dueWebhooks(self, now, limit, skip=frozenset()):
        queued = sorted(self.deliveries.values(), key=lambda item: item[1])
        due = [
            delivery
            for delivery, when in queued
            if when <= now
            and delivery.id not in skip
            and self.webhooks[delivery.webhook.id].enabled
        ]
        return succeed(due[:limit])

    def ping(self):
        return succeed(None)

    # ILoginStore, IAuthFailureStore ------------------------------------------------------

    def authenticate(self, name, password):
        return self.logins.authenticate(name, password)

    def noteLoginUse(self, name):
        return self.logins.noteLoginUse(name)

    def sendingLogin(self, name):
        return self.logins.sendingLogin(name)

    # IIdempotencyStore ------------------------------------------------------------------

    def reserveIdempotencyKey(self, token, key, now):
        found = self.idempotencyKeys.get((token, key))
        if found is not None and not (
            found.created < now - IDEMPOTENCY_KEPT
            or (found.status is None and found.created < now - IDEMPOTENCY_ABANDONED)
        ):
            return succeed(found)
        self.idempotencyKeys[(token, key)] = KeyState(now, None, None)
        return succeed(None)

    def finishIdempotencyKey(self, token, key, status, body):
        found = self.idempotencyKeys.get((token, key))
        if found is not None:
            self.idempotencyKeys[(token, key)] = KeyState(found.created, status, body)
        return succeed(None)

    def freeIdempotencyKey(self, token, key):
        found = self.idempotencyKeys.get((token, key))
        if found is not None and found.status is None:
            del self.idempotencyKeys[(token, key)]
        return succeed(None)

    def count(self):
        return self.logins.count()

    def authBannedUntil(self, address, now):
        return self.failures.authBannedUntil(address, now)

    def settleAuthAttempt(self, address, now, window, limit, banFor, failed):
        return self.failures.settleAuthAttempt(address, now, window, limit, banFor, failed)

    def recordAuthFailure(self, address, now, window, limit, banFor):
        return self.failures.recordAuthFailure(address, now, window, limit, banFor)

    def exchangeLoginUsage(self, increments, keys):
        return self.usage.exchangeLoginUsage(increments, keys)

    def reserveLoginUsage(self, wants):
        return self.usage.reserveLoginUsage(wants)

    # IDashboardSessionStore -------------------------------------------------------------

    def startDashboardSession(self, id, name, expires, now):
        self.dashboardSessions = {
            i: (n, e) for i, (n, e) in self.dashboardSessions.items() if e > now
        }
        self.dashboardSessions[id] = (name, expires)
        return succeed(None)

    def dashboardSessionLive(self, id, now):
        found = self.dashboardSessions.get(id)
        return succeed(found is not None and found[1] > now)

    def endDashboardSession(self, id):
        self.dashboardSessions.pop(id, None)
        return succeed(None)


def _body(event: StoredEvent) -> bytes:
    return json.dumps(event.toJSON(), separators=(",", ":")).encode()
