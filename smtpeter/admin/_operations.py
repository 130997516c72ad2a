"""
The operations of L{IAdministration} for the reactor: L{Operations} names
each one and hands the synchronous L{Administration} method of that name
to L{Operations._run}; L{ThreadedAdministration} runs them in a thread of
its own, on its own connection to the gateway's database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorThreads
from zope.interface import implementer

from ..events import Destinations
from ..runtime import DiskFull, PostgreSQL, Workers, isFull
from ..store import connect

# The defaults of the operations, as the synchronous ones name them.
from ._administration import ADMIN, READ, Administration
from .interfaces import IAdministration


class Operations:
    """
    Every operation of L{IAdministration}, by name: each hands L{_run} the
    synchronous L{Administration} method of the same name and its arguments
    (never a closure). Where and when that runs is the subclass's L{_run}.
    """

    def _run(self, operation: Callable[..., object], *args: object) -> Deferred:
        """C{Deferred} of C{operation(administration, *args)}."""
        raise NotImplementedError

    # SMTP logins

    def listLogins(self) -> Deferred:
        return self._run(Administration.listLogins)

    def login(self, name: str) -> Deferred:
        return self._run(Administration.login, name)

    def createLogin(
        self, name: str, features=(), hold: bool = False, limits: dict | None = None
    ) -> Deferred:
        return self._run(Administration.createLogin, name, features, hold, limits)

    def updateLogin(
        self,
        name: str,
        features=None,
        enable=(),
        disable=(),
        enabled: bool | None = None,
        publicUrl: str | None = None,
        hold: bool | None = None,
        limits: dict | None = None,
    ) -> Deferred:
        return self._run(
            Administration.updateLogin,
            name,
            features,
            enable,
            disable,
            enabled,
            publicUrl,
            hold,
            limits,
        )

    def resetPassword(self, name: str) -> Deferred:
        return self._run(Administration.resetPassword, name)

    def deleteLogin(self, name: str) -> Deferred:
        return self._run(Administration.deleteLogin, name)

    # Dashboard users

    def listAdmins(self) -> Deferred:
        return self._run(Administration.listAdmins)

    def createAdmin(self, name: str, role: str = ADMIN) -> Deferred:
        return self._run(Administration.createAdmin, name, role)

    def checkAdmin(self, name: str, password: str) -> Deferred:
        return self._run(Administration.checkAdmin, name, password)

    def noteAdminLogin(self, name: str) -> Deferred:
        return self._run(Administration.noteAdminLogin, name)

    def adminSession(self, name: str) -> Deferred:
        return self._run(Administration.adminSession, name)

    def resetAdminPassword(self, name: str) -> Deferred:
        return self._run(Administration.resetAdminPassword, name)

    def deleteAdmin(self, name: str) -> Deferred:
        return self._run(Administration.deleteAdmin, name)

    # API tokens

    def listTokens(self) -> Deferred:
        return self._run(Administration.listTokens)

    def createToken(self, name: str, scope: str = READ, login: str | None = None) -> Deferred:
        return self._run(Administration.createToken, name, scope, login)

    def deleteToken(self, name: str) -> Deferred:
        return self._run(Administration.deleteToken, name)

    # Sender domains

    def listDomains(self) -> Deferred:
        return self._run(Administration.listDomains)

    def domain(self, domain: str) -> Deferred:
        return self._run(Administration.domain, domain)

    def addDomain(self, domain: str, selector: str | None = None) -> Deferred:
        return self._run(Administration.addDomain, domain, selector)

    def importDomainKey(self, domain: str, pem: bytes, selector: str) -> Deferred:
        return self._run(Administration.importDomainKey, domain, pem, selector)

    def rotateDomain(self, domain: str, selector: str | None = None) -> Deferred:
        return self._run(Administration.rotateDomain, domain, selector)

    def deleteDomain(self, domain: str) -> Deferred:
        return self._run(Administration.deleteDomain, domain)

    # Webhooks

    def listWebhooks(self, deliveries: int = 10) -> Deferred:
        return self._run(Administration.listWebhooks, deliveries)

    def addWebhook(self, url: str, events) -> Deferred:
        return self._run(Administration.addWebhook, url, events)

    def deleteWebhook(self, id: int) -> Deferred:
        return self._run(Administration.deleteWebhook, id)

    def enableWebhook(self, id: int) -> Deferred:
        return self._run(Administration.enableWebhook, id)

    def webhookTest(self, id: int) -> Deferred:
        return self._run(Administration.webhookTest, id)

    # The queue

    def queue(self) -> Deferred:
        return self._run(Administration.queue)

    def nodes(self) -> Deferred:
        return self._run(Administration.nodes)

    def queued(self, qid: str) -> Deferred:
        return self._run(Administration.queued, qid)

    def held(self, qid: str, limit: int | None = None) -> Deferred:
        return self._run(Administration.held, qid, limit)

    def sent(self, qid: str) -> Deferred:
        return self._run(Administration.sent, qid)

    def heldMessages(self) -> Deferred:
        return self._run(Administration.heldMessages)

    def pendingActions(self) -> Deferred:
        return self._run(Administration.pendingActions)

    def requestQueueAction(self, qid: str, action: str) -> Deferred:
        return self._run(Administration.requestQueueAction, qid, action)

    def requestHeldAction(self, qid: str, action: str) -> Deferred:
        return self._run(Administration.requestHeldAction, qid, action)


@implementer(IAdministration)
class ThreadedAdministration(Operations):
    """
    The operations for the reactor: each runs in one thread of its own (with
    its own connection) and returns a C{Deferred} of what it answers.
    Start with L{start}; L{stop} ends the thread and closes the connection.
    Each method hands the thread the synchronous L{Administration} method of
    the same name and its arguments (never a closure), so what runs there is
    what L{Administration} documents.
    """

    def __init__(
        self,
        reactor: IReactorThreads,
        path: Path | PostgreSQL,
        data: Path | None = None,
        destinations: Destinations | None = None,
        node: str = "",
    ) -> None:
        self._node = node
        self._connections: list[sqlite3.Connection] = []
        #: Where webhooks may be sent (for the agent of test events, too).
        self.destinations = destinations or Destinations()
        self._path = path
        self._data = data
        self._worker = Workers(reactor, 1, "smtpeter-admin", self._connect)

    def _connect(self) -> Administration:
        """The thread's own connection, and the operations on it (run in the thread)."""
        db = connect(self._path)
        self._connections.append(db)
        return Administration(db, data=self._data, destinations=self.destinations, node=self._node)

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        for db in self._connections:
            db.close()

    def _run(self, operation: Callable[..., object], *args: object) -> Deferred:
        """C{operation(administration, *args)} in the thread."""
        return self._worker.run(operation, *args).addErrback(self._diskFull)

    def _diskFull(self, failure):
        """SQLite's C{database or disk is full}, as the L{DiskFull} of the database's disk."""
        if isFull(failure.value) and isinstance(self._path, Path):
            raise DiskFull(self._path.parent)
        return failure
