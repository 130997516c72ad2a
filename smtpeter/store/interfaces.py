"""Interfaces of the store: what the gateway asks of persistent state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Interface

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from ._apitokens import TokenRecord
    from ._events import FoundMessage, MessageRecord, StoredEvent
    from ._idempotency import KeyState
    from ._logins import LoginRecord
    from ._queuerequests import QueueRequest
    from ._suppressions import Suppression


class ILoginStore(Interface):
    """SMTP logins, as the running gateway sees them."""

    def authenticate(name: str, password: str) -> Deferred[LoginRecord | None]:
        """
        Check a name and password.

        @return: C{Deferred[LoginRecord | None]}: the login if the password
            is right and the login is enabled, else C{None}. Takes as long
            for an unknown name as for a wrong password.
        """

    def sendingLogin(name: str) -> Deferred[LoginRecord | None]:
        """
        The login a send token sends as (C{POST /v1/send}), read as
        L{authenticate} reads it (its changes in any process are seen).
        @return: C{Deferred[LoginRecord | None]}: C{None} if there is no
            such login or it is disabled.
        """

    def noteLoginUse(name: str) -> Deferred[None]:
        """
        Note that the login has just been used: call it only once the
        throttle has accepted the AUTH (a right password refused as
        banned is no use). @return: C{Deferred[None]}.
        """

    def count() -> Deferred[int]:
        """@return: C{Deferred[int]}, the number of logins."""


class IIdempotencyStore(Interface):
    """
    The REST send API's C{Idempotency-Key}s, shared by every worker and
    node (L{smtpeter.store._idempotency}); every method fires once its
    write is durable.
    """

    def reserveIdempotencyKey(token: str, key: str, now: float) -> Deferred[KeyState | None]:
        """
        C{Deferred[KeyState | None]}: C{None} if C{key} of C{token} is now
        reserved for the caller (who then answers and calls
        L{finishIdempotencyKey} or L{freeIdempotencyKey}), else the state of
        the reservation made before (its answer, or none yet).
        """

    def finishIdempotencyKey(token: str, key: str, status: int, body: str) -> Deferred[None]:
        """C{Deferred[None]}: keep the first answer to C{key}, for its retries."""

    def freeIdempotencyKey(token: str, key: str) -> Deferred[None]:
        """C{Deferred[None]}: the first request with C{key} failed unanswered: free it."""


class ILoginUsageStore(Interface):
    """
    What logins with limits have sent, per window, counted by every worker
    (and node) together: the database, or memory for one process and tests.
    A key is C{(login, period, start)} (L{smtpeter.store._usage}).
    """

    def exchangeLoginUsage(increments: dict, keys: list):
        """
        Add C{increments} (C{{key: recipients}}) to the shared counts, then
        read the totals of C{keys} and of the keys incremented, every
        process's included. @return: C{Deferred[dict[key, int]]}; it fires
        once the increments are durable.
        """

    def reserveLoginUsage(wants: list):
        """
        Take recipients from windows near their limits, atomically with
        every other process and node: C{wants} is a list of C{(key, want,
        limit)}; each window gives C{want}, or what is left of its limit if
        less, but at least one, all of them or none (their counts grow only
        while they stay within their limits, however many ask at once).

        @return: C{Deferred[dict[key, tuple[int, int]]]}: C{{key: (granted,
            total)}} for every key, granted and counted; or, if a window was
            full, only that window's C{{key: (0, total)}}, and nothing taken.
        """


class IAuthFailureStore(Interface):
    """
    Where failed AUTH attempts are counted: shared by every worker process
    (the database), or in memory for one process and for tests.
    """

    def authBannedUntil(address: str, now: float) -> Deferred[float | None]:
        """@return: C{Deferred[float | None]}, when the address's ban ends, if it is banned."""

    def settleAuthAttempt(
        address: str, now: float, window: float, limit: int, banFor: float, failed: bool
    ) -> Deferred[int | None]:
        """
        Count an attempt whose password was checked, before anyone acts on
        or is told what the check found, atomically with every other
        process's attempts: of any number at once, no more than C{limit}
        failures are counted before the address is banned.

        @return: C{Deferred[int | None]}: C{None} if the address is banned:
            refuse the attempt whatever the check found, and nothing is
            recorded. Else its failures within C{window}; if C{failed},
            this one is recorded and included (and the address banned until
            C{now + banFor} once it has C{limit} of them).
        """

    def recordAuthFailure(
        address: str, now: float, window: float, limit: int, banFor: float
    ) -> Deferred[int]:
        """
        Note a failure; ban the address until C{now + banFor} once it has
        C{limit} failures within C{window}. @return: C{Deferred[int]}, its
        failures within C{window}, this one included.
        """


class IDashboardSessionStore(Interface):
    """
    The dashboard's sessions, kept where every worker process sees them, so
    that logging out ends a session everywhere at once and for good.
    """

    def startDashboardSession(id: str, name: str, expires: float, now: float) -> Deferred[None]:
        """C{Deferred[None]}: a session C{id} of user C{name} lasts until C{expires}."""

    def dashboardSessionLive(id: str, now: float) -> Deferred[bool]:
        """C{Deferred[bool]}: the session was started, has not ended, and has not expired."""

    def endDashboardSession(id: str) -> Deferred[None]:
        """C{Deferred[None]}: the session is over (logged out), in every process."""


class ISuppressionStore(Interface):
    """
    The suppression list (L{Suppression<smtpeter.store._suppressions.
    Suppression>} entries), one per installation. Every method returns a
    C{Deferred}; writes fire once they are durable.
    """

    def suppressed(
        addresses: list[str], now: float, login: str | None = None
    ) -> Deferred[dict[str, Suppression]]:
        """
        C{Deferred[dict[str, Suppression]]}: the entries in force that stop
        C{login}'s mail to C{addresses} (the gateway's, else that login's).
        """

    def suppress(
        address: str,
        reason: str,
        now: float,
        expires: float | None,
        qid: str | None,
        login: str | None = None,
    ) -> Deferred[Suppression]:
        """
        C{Deferred[Suppression]}: suppress C{address} until C{expires}
        (C{None}: always), for C{login}'s mail (C{None}: the whole gateway's).
        """

    def unsuppress(address: str, login: str | None = None) -> Deferred[None]:
        """
        C{Deferred[None]}: take C{address} off the list (only C{login}'s
        entry, if named; else all of them); fails if it is not on it.
        """

    def suppressions(now: float, login: str | None = None) -> Deferred[list[Suppression]]:
        """C{Deferred[list[Suppression]]}: every entry in force (or C{login}'s), oldest first."""


class IQueueRequests(Interface):
    """
    Requests to retry or delete a queued message, shared by every worker
    through the database (L{QueueRequest<smtpeter.store._queuerequests.
    QueueRequest>}). Every method returns a C{Deferred}.
    """

    def queueRequests() -> Deferred[list[QueueRequest]]:
        """C{Deferred[list[QueueRequest]]}: the requests not yet carried out, oldest first."""

    def queueRequestDone(id: int) -> Deferred[None]:
        """C{Deferred[None]}: the request was carried out (or is moot): forget it."""

    def forgetQueueRequests(before: float) -> Deferred[int]:
        """C{Deferred[int]}: drop requests made before C{before} that nobody carried out."""


class IEventStore(Interface):
    """
    What the gateway's web side, webhooks and bounce intake ask of the
    database, as named methods. Every method returns a C{Deferred}; writes
    fire once they are durable. Implemented over SQLite
    (L{SQLiteStore<smtpeter.store.SQLiteStore>}) and in memory
    (L{MemoryStore<smtpeter.store.MemoryStore>}); the record of accepted
    messages and outcomes is L{IEventSink<smtpeter.events.IEventSink>}.
    """

    def message(qid: str) -> Deferred[MessageRecord | None]:
        """C{Deferred[MessageRecord | None]}: an accepted message's envelope, tags and options."""

    def links(qid: str) -> Deferred[list[str]]:
        """C{Deferred[list[str]]}: the links the message was sent with, in token order."""

    def messageEvents(qid: str) -> Deferred[list[StoredEvent]]:
        """C{Deferred[list[StoredEvent]]}: every event of a message, oldest first."""

    def events(query) -> Deferred[list[StoredEvent]]:
        """C{Deferred[list[StoredEvent]]}: the events an L{EventQuery} selects, by id."""

    def day(
        type: str, start: float, end: float, after: int, limit: int
    ) -> Deferred[list[StoredEvent]]:
        """
        C{Deferred[list[StoredEvent]]}: C{limit} events of C{type} in
        [start, end) after id C{after}.
        """

    def searchMessages(query) -> Deferred[list[FoundMessage]]:
        """
        C{Deferred[list[FoundMessage]]}: the messages a L{MessageQuery<smtpeter.
        store._events.MessageQuery>} selects, newest first, each with its
        recipients' states.
        """

    def topLinks(query) -> Deferred[list[dict]]:
        """
        C{Deferred[list[dict]]}: the links clicked most, as a L{LinkQuery<smtpeter.
        store._events.LinkQuery>} selects: C{{"url", "clicks", "recipients"}}.
        """

    def recordLinks(qid: str, links: list) -> Deferred[None]:
        """C{Deferred[None]}: keep the links a message is sent with (before it is sent)."""

    def recordClick(
        qid: str, recipient: str, tags, details: dict, when: float
    ) -> Deferred[StoredEvent]:
        """C{Deferred[StoredEvent]}: a click."""

    def recordOpen(
        qid: str, recipient: str, tags, details: dict, when: float
    ) -> Deferred[StoredEvent]:
        """
        C{Deferred[StoredEvent]}: an open, numbered among that recipient's
        opens (C{number}, and C{first} for the first), without races.
        """

    def recordBounce(
        qid: str, recipient: str, tags, details: dict, when: float
    ) -> Deferred[StoredEvent]:
        """C{Deferred[StoredEvent]}: a bounce."""

    def recordUnsubscribe(
        qid: str, recipient: str, login: str | None, tags, details: dict, when: float
    ) -> Deferred[StoredEvent | None]:
        """
        C{Deferred[StoredEvent | None]}: C{recipient} unsubscribed from
        C{login}'s mail (C{None}: a message without a login, so the whole
        gateway's): it is suppressed in that scope and an C{unsubscribe}
        event (its details with C{login}) recorded, in one transaction; or,
        if it was suppressed in that scope already, nothing (C{None}).
        """

    def checkToken(token: str) -> Deferred[TokenRecord | None]:
        """C{Deferred[TokenRecord | None]}: the REST API token's name and scope, if it is one."""

    def tokensMark() -> bytes:
        """
        C{bytes} (at once, not a Deferred): a value that changes whenever
        a token is made or deleted, by any process. Read it before
        L{checkToken}; what that answered holds while the mark stays.
        """

    def dueWebhooks(now: float, limit: int, skip):
        """C{Deferred[list[Delivery]]}: webhook deliveries due now, except the ids in C{skip}."""

    def webhookSucceeded(delivery, now: float) -> Deferred[None]:
        """C{Deferred[None]}: the delivery is done."""

    def webhookFailed(delivery, error: str, nextAttempt: float | None) -> Deferred[None]:
        """C{Deferred[None]}: retry at C{nextAttempt}; C{None} gives up and disables the webhook."""

    def whenWebhooksQueued(listener):
        """
        Call C{listener()} (in the reactor thread) after a write that queued
        webhook deliveries.
        """

    def stats(query) -> Deferred[dict]:
        """
        C{Deferred[dict]}: the hourly counters a L{StatsQuery<smtpeter.store.
        _stats.StatsQuery>} selects, as C{{"by", "series", "totals"}}.
        """

    def purge(before: float) -> Deferred[int]:
        """C{Deferred[int]}: forget events and messages older than C{before}; how many events."""

    def ping() -> Deferred[None]:
        """C{Deferred[None]}: fails if the store cannot be read."""
