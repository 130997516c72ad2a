"""
Sending events to webhooks.

A delivery row is written with its event, in the event log's transaction,
so nothing waits on a webhook: not a message, not a click. This service
POSTs what is due, each event on its own, signed:

    Smtpeter-Timestamp: 1795471088
    Smtpeter-Signature: v1=<hex HMAC-SHA256(secret, "1795471088." + body)>

and retries a failure (anything but 2xx, or no answer in 10 s) after 30 s,
doubling up to an hour, for a day (C{--webhook-retry}, C{--webhook-give-up}).
A delivery still failing then disables its webhook, with the reason shown
by C{smtpeter webhook list}.

A 2xx status is a delivery, whatever happens to the body after it (an
HTTP/1.0 receiver ends it by closing, which Twisted cannot tell from a cut
connection). At most L{MAX_ANSWER} bytes of any answer are read. Only
allowed destinations are connected to (L{smtpeter.events._destinations});
redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from io import BytesIO
from typing import cast

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredSemaphore, ensureDeferred
from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import FileBodyProducer, HTTPConnectionPool
from twisted.web.http_headers import Headers

from ..config import default
from ..runtime import WEBHOOK_BACKLOG, RepeatedErrors
from ._destinations import Destinations, RefusedDestination
from ._webhookagent import webhookAgent
from ._webhookvalues import Delivery

log = Logger()
#: Errors that come again and again (a damaged database): once a minute, counted.
repeated = RepeatedErrors(log)

USER_AGENT = b"smtpeter-webhooks/1"
#: The most of a receiver's answer that is read (and dropped); then it is hung up on.
MAX_ANSWER = 64 * 1024


class _Discard(Protocol):
    """Reads a response's body into nothing, up to a limit, and says when it is over."""

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.done: Deferred[None] = Deferred(lambda _: self._hangUp())

    def _hangUp(self) -> None:
        if self.transport is not None:  # the response's body: a push producer
            cast(IPushProducer, self.transport).stopProducing()

    def dataReceived(self, data: bytes) -> None:
        self.left -= len(data)
        if self.left < 0:
            self._hangUp()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        # Complete, cut short by us, or ended by a close with no length
        # (PotentialDataLoss): the answer is over in every case.
        if not self.done.called:
            self.done.callback(None)


def discardBody(response, reactor, timeout: float) -> Deferred[None]:
    """
    Read and drop at most L{MAX_ANSWER} bytes of C{response}'s body, for at
    most C{timeout} seconds; never fails.
    """
    reader = _Discard(MAX_ANSWER)
    response.deliverBody(reader)
    reader.done.addTimeout(timeout, reactor)
    return reader.done.addErrback(lambda _: None)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


async def post(agent, reactor, webhook, kind: str, body: bytes, uid: str, timeout: float):
    """
    POST one event to C{webhook}, signed. @return: C{(status, error)}: the
    HTTP status (C{None} without an answer) and what went wrong (C{None}
    for a 2xx answer). A destination the agent refuses is never connected
    to, so it has no status.
    """
    timestamp = int(reactor.seconds())
    headers = Headers(
        {
            b"content-type": [b"application/json"],
            b"user-agent": [USER_AGENT],
            b"smtpeter-event": [kind.encode()],
            b"smtpeter-webhook": [str(webhook.id).encode()],
            b"smtpeter-delivery": [uid.encode()],
            b"smtpeter-timestamp": [str(timestamp).encode()],
            b"smtpeter-signature": [sign(webhook.secret, timestamp, body).encode()],
        }
    )
    try:
        request = agent.request(
            b"POST", webhook.url.encode(), headers, FileBodyProducer(BytesIO(body))
        )
        request.addTimeout(timeout, reactor)
        response = await request
    except RefusedDestination as e:
        return None, str(e)[:300]
    except Exception as e:
        return None, f"{type(e).__name__}: {e}"[:300]
    # The status is the answer; the body only has to be out of the way.
    await discardBody(response, reactor, timeout)
    if not 200 <= response.code < 300:
        return response.code, f"HTTP {response.code}"
    return response.code, None


#: How long a test POST to a webhook may take.
TEST_TIMEOUT = 10.0


async def sendTest(admin, agent, reactor, id: int) -> dict:
    """
    POST a signed test event to webhook C{id} now (for the API and the
    dashboard), and say what its receiver answered.
    """
    hook, body = await admin.webhookTest(id)
    uid = "test-" + secrets.token_hex(8)
    status, error = await post(agent, reactor, hook, "test", body, uid, TEST_TIMEOUT)
    return {
        "id": hook.id,
        "url": hook.url,
        "delivered": error is None,
        "status": status,
        "error": error,
    }


class WebhookDispatcher(Service):
    name = "webhooks"  # type: ignore[assignment]  # Twisted leaves Service.name untyped: None

    def __init__(
        self,
        events,
        reactor: IReactorTime,
        retryInitial: float = default("webhookRetry").total_seconds(),
        retryMax: float = default("webhookRetryMax").total_seconds(),
        giveUp: float = default("webhookGiveUp").total_seconds(),
        concurrency: int = 10,
        timeout: float = 10.0,
        destinations: Destinations | None = None,
    ) -> None:
        self.events = events
        self.reactor = reactor
        self.retryInitial = retryInitial
        self.retryMax = retryMax
        self.giveUp = giveUp
        self.timeout = timeout
        self._slots = DeferredSemaphore(concurrency)
        self._inFlight: set[int] = set()
        self._polling = False
        self._again = False
        pool = HTTPConnectionPool(reactor, persistent=True)
        pool.maxPersistentPerHost = concurrency
        self.agent = webhookAgent(reactor, destinations or Destinations(), timeout, pool)
        self._pool = pool
        self._loop = LoopingCall(self.poll)
        self._loop.clock = reactor

    def startService(self) -> None:
        super().startService()
        self.events.whenWebhooksQueued(self._queued)
        self._loop.start(min(1.0, self.retryInitial), now=True)

    def stopService(self):
        super().stopService()
        if self._loop.running:
            self._loop.stop()
        return self._pool.closeCachedConnections()

    def _queued(self) -> None:
        # Poll at once only when a write queued deliveries: a click batch
        # with no webhook wanting it costs no query. Deliveries queued by
        # other worker processes go out at the next tick of the loop.
        if self.running:
            self.poll()

    def poll(self) -> None:
        if self._polling:
            self._again = True
            return
        self._polling = True
        d = ensureDeferred(self._poll())
        d.addErrback(lambda f: repeated.failure("webhook poll failed", f))

        def done(_):
            self._polling = False
            if self._again and self.running:
                self._again = False
                self.poll()

        d.addBoth(done)

    async def _poll(self) -> None:
        now = self.reactor.seconds()
        skip = frozenset(self._inFlight)
        due = await self.events.dueWebhooks(now, 100, skip)
        WEBHOOK_BACKLOG.set(len(due) + len(skip))
        for delivery in due:
            if delivery.id in self._inFlight:
                continue
            self._inFlight.add(delivery.id)
            d = self._slots.run(self._send, delivery)
            d.addErrback(lambda f: repeated.failure("webhook delivery failed", f))
            d.addBoth(lambda _, i: self._inFlight.discard(i), delivery.id)

    async def _send(self, delivery: Delivery) -> None:
        _, error = await post(
            self.agent,
            self.reactor,
            delivery.webhook,
            delivery.type,
            delivery.body,
            delivery.uid,
            self.timeout,
        )
        now = self.reactor.seconds()
        if error is None:
            await self.events.webhookSucceeded(delivery, now)
            return
        delay = min(self.retryInitial * 2**delivery.attempts, self.retryMax)
        nextAttempt = now + delay if now + delay - delivery.created <= self.giveUp else None
        await self.events.webhookFailed(delivery, error, nextAttempt)
        if nextAttempt is None:
            log.warn(
                "webhook {id} ({url}) disabled: event {event} undelivered after {n} attempts;"
                " last error: {error}",
                id=delivery.webhook.id,
                url=delivery.webhook.url,
                event=delivery.event,
                n=delivery.attempts + 1,
                error=error,
            )
        else:
            log.info(
                "webhook {id}: event {event} failed ({error}); retrying in {delay:.0f} s",
                id=delivery.webhook.id,
                event=delivery.event,
                error=error,
                delay=delay,
            )
