"""
L{IAdministration} in memory, for tests of the REST API and the dashboard:
no thread, no file, and every Deferred has fired when it is returned (so a
test reads it with C{successResultOf}). The records live in a database of
its own in memory, through the same synchronous L{Administration} the
gateway's thread runs, so that every rule (names, features, scopes, DKIM
keys, webhook destinations) and every error is the same as the gateway's;
the queue is a dictionary the test fills with L{MemoryAdministration.enqueue}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock
from zope.interface import implementer

from ..events import Destinations
from ..store import connectMemory
from ..store._admins import ADMIN
from ..store._apitokens import READ
from ._administration import Administration
from .interfaces import IAdministration


class _MemoryQueue(Administration):
    """L{Administration} whose queue is the dictionaries of a L{MemoryAdministration}."""

    def __init__(self, memory: MemoryAdministration, **kw) -> None:
        super().__init__(**kw)
        self.memory = memory

    def queue(self) -> list[dict]:
        return [dict(entry) for _, entry in sorted(self.memory.entries.items())]

    def _queued(self, qid: str, content: bool = False):
        found = self.memory.entries.get(qid.upper())
        if found is None:
            return None
        return (self.memory.contents[found["qid"]] if content else None), dict(found)

    def sent(self, qid: str) -> bytes | None:
        return self.memory.sentContents.get(qid.upper())

    def heldMessages(self) -> list[str]:
        return sorted(qid for qid, entry in self.memory.entries.items() if entry["held"])


@implementer(IAdministration)
class MemoryAdministration:
    """
    The operations in memory. C{clock} (a L{Clock} unless given) dates
    what is made and asked; C{destinations} is where webhooks may go.
    """

    def __init__(
        self, clock: IReactorTime | None = None, destinations: Destinations | None = None
    ) -> None:
        self.clock = clock if clock is not None else Clock()
        self.destinations = destinations or Destinations()
        #: The queue: queue id -> its entry, as L{IAdministration.queue} lists it.
        self.entries: dict[str, dict] = {}
        #: Queue id -> the content of a message in the queue.
        self.contents: dict[str, bytes] = {}
        #: Queue id -> the content of a message that left the queue.
        self.sentContents: dict[str, bytes] = {}
        self._db = connectMemory()
        self._admin = _MemoryQueue(
            self, db=self._db, clock=self.clock.seconds, destinations=self.destinations
        )

    # Set-up, as the gateway's queue would have it -------------------------------------

    def enqueue(
        self,
        qid: str,
        sender: str = "sender@example.com",
        recipients: Iterable[str] = ("rcpt@example.org",),
        content: bytes = b"Subject: test\r\n\r\nhello\r\n",
        held: bool = False,
        login: str = "app",
        worker: int = 1,
    ) -> dict:
        """Put a message in the queue (held, with C{held}); its entry."""
        qid = qid.upper()
        entry = {
            "qid": qid,
            "held": held,
            "received": self.clock.seconds(),
            "sender": sender,
            "size": len(content),
            "dsn": {},
            "login": login,
            "worker": worker,
            "recipients": [
                {
                    "address": address,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt": None,
                    "last": "",
                }
                for address in recipients
            ],
        }
        self.entries[qid] = entry
        self.contents[qid] = content
        return entry

    def finish(self, qid: str) -> None:
        """The message C{qid} leaves the queue (delivered); its content is kept as sent."""
        qid = qid.upper()
        del self.entries[qid]
        self.sentContents[qid] = self.contents.pop(qid)

    def _answer(self, operation: Callable[..., object], *args: object) -> Deferred:
        """C{operation(administration, *args)} now, as a fired Deferred."""
        try:
            return succeed(operation(self._admin, *args))
        except Exception:
            return fail()

    # SMTP logins

    def listLogins(self) -> Deferred:
        return self._answer(_MemoryQueue.listLogins)

    def login(self, name: str) -> Deferred:
        return self._answer(_MemoryQueue.login, name)

    def createLogin(self, name: str, features=(), hold: bool = False) -> Deferred:
        return self._answer(_MemoryQueue.createLogin, name, features, hold)

    def updateLogin(
        self,
        name: str,
        features=None,
        enable=(),
        disable=(),
        enabled: bool | None = None,
        publicUrl: str | None = None,
        hold: bool | None = None,
    ) -> Deferred:
        return self._answer(
            _MemoryQueue.updateLogin, name, features, enable, disable, enabled, publicUrl, hold
        )

    def resetPassword(self, name: str) -> Deferred:
        return self._answer(_MemoryQueue.resetPassword, name)

    def deleteLogin(self, name: str) -> Deferred:
        return self._answer(_MemoryQueue.deleteLogin, name)

    # Dashboard users

    def listAdmins(self) -> Deferred:
        return self._answer(_MemoryQueue.listAdmins)

    def createAdmin(self, name: str, role: str = ADMIN) -> Deferred:
        return self._answer(_MemoryQueue.createAdmin, name, role)

    def checkAdmin(self, name: str, password: str) -> Deferred:
        return self._answer(_MemoryQueue.checkAdmin, name, password)

    def noteAdminLogin(self, name: str) -> Deferred:
        return self._answer(_MemoryQueue.noteAdminLogin, name)

    def adminSession(self, name: str) -> Deferred:
        return self._answer(_MemoryQueue.adminSession, name)

    def resetAdminPassword(self, name: str) -> Deferred:
        return self._answer(_MemoryQueue.resetAdminPassword, name)

    def deleteAdmin(self, name: str) -> Deferred:
        return self._answer(_MemoryQueue.deleteAdmin, name)

    # API tokens

    def listTokens(self) -> Deferred:
        return self._answer(_MemoryQueue.listTokens)

    def createToken(self, name: str, scope: str = READ) -> Deferred:
        return self._answer(_MemoryQueue.createToken, name, scope)

    def deleteToken(self, name: str) -> Deferred:
        return self._answer(_MemoryQueue.deleteToken, name)

    # Sender domains

    def listDomains(self) -> Deferred:
        return self._answer(_MemoryQueue.listDomains)

    def domain(self, domain: str) -> Deferred:
        return self._answer(_MemoryQueue.domain, domain)

    def addDomain(self, domain: str, selector: str | None = None) -> Deferred:
        return self._answer(_MemoryQueue.addDomain, domain, selector)

    def importDomainKey(self, domain: str, pem: bytes, selector: str) -> Deferred:
        return self._answer(_MemoryQueue.importDomainKey, domain, pem, selector)

    def rotateDomain(self, domain: str, selector: str | None = None) -> Deferred:
        return self._answer(_MemoryQueue.rotateDomain, domain, selector)

    def deleteDomain(self, domain: str) -> Deferred:
        return self._answer(_MemoryQueue.deleteDomain, domain)

    # Webhooks

    def listWebhooks(self, deliveries: int = 10) -> Deferred:
        return self._answer(_MemoryQueue.listWebhooks, deliveries)

    def addWebhook(self, url: str, events) -> Deferred:
        return self._answer(_MemoryQueue.addWebhook, url, events)

    def deleteWebhook(self, id: int) -> Deferred:
        return self._answer(_MemoryQueue.deleteWebhook, id)

    def enableWebhook(self, id: int) -> Deferred:
        return self._answer(_MemoryQueue.enableWebhook, id)

    def webhookTest(self, id: int) -> Deferred:
        return self._answer(_MemoryQueue.webhookTest, id)

    # The queue

    def queue(self) -> Deferred:
        return self._answer(_MemoryQueue.queue)

    def queued(self, qid: str) -> Deferred:
        return self._answer(_MemoryQueue.queued, qid)

    def held(self, qid: str) -> Deferred:
        return self._answer(_MemoryQueue.held, qid)

    def sent(self, qid: str) -> Deferred:
        return self._answer(_MemoryQueue.sent, qid)

    def heldMessages(self) -> Deferred:
        return self._answer(_MemoryQueue.heldMessages)

    def pendingActions(self) -> Deferred:
        return self._answer(_MemoryQueue.pendingActions)

    def requestQueueAction(self, qid: str, action: str) -> Deferred:
        return self._answer(_MemoryQueue.requestQueueAction, qid, action)

    def requestHeldAction(self, qid: str, action: str) -> Deferred:
        return self._answer(_MemoryQueue.requestHeldAction, qid, action)
