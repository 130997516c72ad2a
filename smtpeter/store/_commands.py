"""
What runs in the database's threads: the writer's commands (each called
with the writer's L{EventStore}, inside its transaction, returning a list:
the events it added, if any), and the readers' views of the other stores.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..events import attempts
from ..message import QueuedMessage
from . import _eventdays
from ._apitokens import TokenStore
from ._engines import begin, probe
from ._events import EventStore
from ._idempotency import IdempotencyStore
from ._logins import LoginStore
from ._queuerequests import QueueRequestStore
from ._suppressions import UNSUBSCRIBED, SuppressionStore
from ._usage import UsageStore
from ._webhooks import WebhookStore


def nothing(store: EventStore) -> list:
    """A place in the writer's queue: fires once what was queued before it is committed."""
    return []


class Accepted:
    """
    The message's row is sent ahead of the batch's other statements (its
    C{prepare}), so that on PostgreSQL whether each was new is read in one
    wait for the whole batch; its events (L{LaterEvent}s there) follow.
    """

    def __init__(self, message: QueuedMessage) -> None:
        self.message = message
        self._recorded: Callable[[], bool] | None = None

    def prepare(self, store: EventStore) -> None:
        self._recorded = store.sendMessage(self.message)

    def __call__(self, store: EventStore) -> list:
        recorded, self._recorded = self._recorded, None
        if not (recorded() if recorded is not None else store.addMessage(self.message)):
            return []
        return [store.sendEvent(*attempt) for attempt in attempts(self.message)]


class AddEvent:
    def __init__(self, kind, when, qid, recipient, tags, details) -> None:
        self.event = (kind, when, qid, recipient, tuple(tags), details)

    def __call__(self, store: EventStore) -> list:
        return [store.sendEvent(*self.event)]


class AddOpen:
    """An open, numbered: the writer is one thread, so counting and adding cannot interleave."""

    def __init__(self, when, qid, recipient, tags, details) -> None:
        self.when, self.qid, self.recipient = when, qid, recipient
        self.tags, self.details = tuple(tags), dict(details)

    def __call__(self, store: EventStore) -> list:
        number = store.countEvents("open", self.qid, self.recipient) + 1
        details = {**self.details, "first": number == 1, "number": number}
        return [store.addEvent("open", self.when, self.qid, self.recipient, self.tags, details)]


class RecordLinks:
    def __init__(self, qid: str, links: list[str]) -> None:
        self.qid, self.links = qid, list(links)

    def __call__(self, store: EventStore) -> list:
        store.recordLinks(self.qid, self.links)
        return []


class WebhookOutcome:
    def __init__(self, delivery, succeededAt, error, nextAttempt) -> None:
        self.delivery, self.succeededAt = delivery, succeededAt
        self.error, self.nextAttempt = error, nextAttempt

    def __call__(self, store: EventStore) -> list:
        hooks = store.view(WebhookStore)
        if self.error is None:
            hooks.succeeded(self.delivery, self.succeededAt)
        else:
            hooks.failed(self.delivery, self.error, self.nextAttempt)
        return []


class Purge:
    def __init__(self, before: float, now: float) -> None:
        self.before, self.now = before, now

    def __call__(self, store: EventStore) -> list:
        store.view(SuppressionStore).purge(self.now)
        store.view(UsageStore).purge(self.now)
        store.view(IdempotencyStore).purge(self.now)
        _eventdays.keepDays(store.db, self.now)
        return [store.purge(self.before)]


class Suppress:
    def __init__(self, *arguments) -> None:
        self.arguments = arguments

    def __call__(self, store: EventStore) -> list:
        return [store.view(SuppressionStore).add(*self.arguments)]


class Unsubscribe:
    """
    A recipient's unsubscribe: its suppression for the login and its event,
    in one transaction, once (again, while the entry is in force: nothing).
    """

    def __init__(self, qid, recipient, login, tags, details, when) -> None:
        self.qid, self.recipient, self.login = qid, recipient, login
        self.tags, self.details, self.when = tuple(tags), dict(details), when

    def __call__(self, store: EventStore) -> list:
        suppressions = store.view(SuppressionStore)
        if suppressions.scoped(self.recipient, self.login, self.when) is not None:
            return [None]
        suppressions.add(self.recipient, UNSUBSCRIBED, self.when, None, self.qid, self.login)
        details = {**self.details, "login": self.login}
        return [
            store.addEvent("unsubscribe", self.when, self.qid, self.recipient, self.tags, details)
        ]


class QueueRequestDone:
    def __init__(self, id: int) -> None:
        self.id = id

    def __call__(self, store: EventStore) -> list:
        return [store.view(QueueRequestStore).done(self.id)]


class ForgetQueueRequests:
    def __init__(self, before: float) -> None:
        self.before = before

    def __call__(self, store: EventStore) -> list:
        return [store.view(QueueRequestStore).forget(self.before)]


class Unsuppress:
    def __init__(self, address: str, login: str | None = None) -> None:
        self.address, self.login = address, login

    def __call__(self, store: EventStore) -> list:
        return [store.view(SuppressionStore).delete(self.address, self.login)]


class Call:
    """C{method} of the C{cls} store, in the writer's transaction."""

    def __init__(self, cls, method, *arguments) -> None:
        self.cls, self.method, self.arguments = cls, method, arguments

    def __call__(self, store: EventStore) -> list:
        return [self.method(store.view(self.cls), *self.arguments)]


class TokenUsed:
    def __init__(self, name: str, now: float) -> None:
        self.name, self.now = name, now

    def __call__(self, store: EventStore) -> list:
        store.view(TokenStore).touch(self.name, self.now)
        return []


class LoginUpdate:
    def __init__(self, update) -> None:
        self.update = update

    def __call__(self, store: EventStore) -> list:
        store.view(LoginStore).apply(self.update)
        return []


def inTransaction(method):
    """C{method} of a store, in a transaction of its own that takes the write lock at once."""

    def call(store, *args):
        db = store.db
        begin(db)
        try:
            result = method(store, *args)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.publish()
        return result

    call.__qualname__ = method.__qualname__
    return call


def view(cls, method):
    """C{method} of the C{cls} store on the reading thread's connection."""

    def call(store: EventStore, *args):
        return method(store.view(cls), *args)

    call.__qualname__ = method.__qualname__  # named for what it reads, in tracebacks too
    return call


def selectOne(store: EventStore) -> None:
    store.db.execute("SELECT 1").fetchone()


def probeFile(store: EventStore, path: Path) -> None:
    probe(path)
