"""
Administration: every change an administrator makes to a gateway (SMTP
logins, sender domains, API tokens, webhooks, the suppression list), and
what each answers, as JSON-able values. The C{smtpeter} command, the REST
API's C{/v1} management endpoints and the dashboard all call these; there is
no second implementation. An L{Administration} works on one database
connection, synchronously; L{ThreadedAdministration} runs one in a thread
of its own for the reactor. Errors are L{StoreError}s:
L{Missing<smtpeter.store._exceptions.Missing>} (nothing by that name),
L{Exists<smtpeter.store._exceptions.Exists>}, or a plain one for bad input.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorThreads
from zope.interface import implementer

from ..events import Destinations, RefusedDestination
from ..queue import SPOOL_FILE, SpoolDatabase
from ..queue._spool import SentArchive, readQueueFile, sentDirectory, spoolDirectories
from ..runtime import DiskFull, Workers, isFull
from ..store import LoginStore, connect
from ..store._admins import ADMIN, AdminStore
from ..store._apitokens import READ, TokenStore
from ..store._domains import DomainStore
from ..store._events import isoTime
from ..store._exceptions import Hint, Missing, NoSuchDomain
from ..store._queuerequests import QueueRequestStore
from ..store._webhooks import WebhookStore
from .interfaces import IAdministration

#: What a new DKIM key's answer holds: the record to publish.
_DNS_FIELDS = ("domain", "selector", "name", "txt")


class Administration:
    """
    The operations, on one connection to the gateway's database (and, for
    the queue, its data directory C{data}). A webhook is added only for a
    destination C{destinations} allows.
    """

    def __init__(
        self,
        db: sqlite3.Connection,
        clock: Callable[[], float] = time.time,
        data=None,
        destinations: Destinations | None = None,
    ) -> None:
        self.db = db
        self.destinations = destinations or Destinations()
        self.clock = clock
        self.data = data
        self.logins = LoginStore(db, clock)
        self.domains = DomainStore(db)
        self.tokens = TokenStore(db)
        self.webhooks = WebhookStore(db)
        self.requests = QueueRequestStore(db)
        self.admins = AdminStore(db, clock)

    # SMTP logins ----------------------------------------------------------------

    def listLogins(self) -> list[dict]:
        return [r.toJSON() for r in self.logins.list()]

    def login(self, name: str) -> dict:
        return self.logins.require(name).toJSON()

    def createLogin(self, name: str, features=(), hold: bool = False) -> dict:
        """The login, with its password: the only time anyone sees it."""
        record, password = self.logins.create(name, list(features), hold)
        return {"name": record.name, "password": password, **_loginFields(record)}

    def updateLogin(
        self,
        name: str,
        features=None,
        enable=(),
        disable=(),
        enabled: bool | None = None,
        publicUrl: str | None = None,
        hold: bool | None = None,
    ) -> dict:
        """
        Change a login: C{features} replaces its set, C{enable}/C{disable}
        switch single ones; C{enabled}; C{publicUrl} (C{""} for the
        gateway's); C{hold} (hold mode).
        """
        record = self.logins.require(name)
        if features is not None:
            features = list(features)
            enable = [*features, *enable]
            disable = [*(record.features - set(features)), *disable]
        if enable or disable or publicUrl is not None:
            record = self.logins.update(name, enable, disable, publicUrl)
        if enabled is not None:
            record = self.logins.setEnabled(name, enabled)
        if hold is not None:
            record = self.logins.setHold(name, hold)
        return record.toJSON()

    def resetPassword(self, name: str) -> dict:
        record, password = self.logins.resetPassword(name)
        return {"name": record.name, "password": password, **_loginFields(record)}

    def deleteLogin(self, name: str) -> dict:
        self.logins.delete(name)
        return {"name": name, "deleted": True}

    # Dashboard users ------------------------------------------------------------

    def listAdmins(self) -> list[dict]:
        return [u.toJSON() for u in self.admins.list()]

    def createAdmin(self, name: str, role: str = ADMIN) -> dict:
        """The user and the password, shown only this once."""
        user, password = self.admins.create(name, role)
        return {"name": user.name, "password": password, "role": user.role}

    def checkAdmin(self, name: str, password: str) -> dict | None:
        """The user's session fields (name, role, generation) if the password is right."""
        return _session(self.admins.check(name, password))

    def noteAdminLogin(self, name: str) -> None:
        """Record the user's log-in: only once the throttle has accepted it."""
        self.admins.noteLogin(name)

    def adminSession(self, name: str) -> dict | None:
        """The user's session fields, or C{None} if there is no such user (any more)."""
        return _session(self.admins.get(name))

    def resetAdminPassword(self, name: str) -> dict:
        """A new password; sessions signed with the old one stop working."""
        user, password = self.admins.resetPassword(name)
        return {"name": user.name, "password": password, "role": user.role}

    def deleteAdmin(self, name: str) -> dict:
        self.admins.delete(name)
        return {"name": name, "deleted": True}

    # API tokens -----------------------------------------------------------------

    def listTokens(self) -> list[dict]:
        return [r.toJSON() for r in self.tokens.list()]

    def createToken(self, name: str, scope: str = READ) -> dict:
        """The token itself is in the answer only this once."""
        record, token = self.tokens.create(name, scope)
        return {"name": record.name, "token": token, "scope": record.scope}

    def deleteToken(self, name: str) -> dict:
        self.tokens.delete(name)
        return {"name": name, "deleted": True}

    # Sender domains (DKIM) --------------------------------------------------------

    def listDomains(self) -> list[dict]:
        return [k.toJSON() for k in self.domains.list()]

    def domain(self, domain: str) -> dict:
        """The domain's signing key and its retired ones, with their DNS records."""
        keys = [k.toJSON() for k in self.domains.list() if k.domain == domain.lower()]
        if not keys:
            raise NoSuchDomain(domain)
        active = next((k for k in keys if k["active"]), keys[0])
        return {**{f: active[f] for f in _DNS_FIELDS}, "keys": keys}

    def addDomain(self, domain: str, selector: str | None = None) -> dict:
        """A new key; the answer holds the DNS record to publish."""
        return _dns(self.domains.add(domain, selector))

    def importDomainKey(self, domain: str, pem: bytes, selector: str) -> dict:
        return _dns(self.domains.importKey(domain, pem, selector))

    def rotateDomain(self, domain: str, selector: str | None = None) -> dict:
        return _dns(self.domains.rotate(domain, selector))

    def deleteDomain(self, domain: str) -> dict:
        return {"domain": domain, "deleted": self.domains.delete(domain)}

    # Webhooks ----------------------------------------------------------------------

    def listWebhooks(self, deliveries: int = 10) -> list[dict]:
        """Every webhook, with its latest C{deliveries} delivery attempts."""
        return [
            {**h.toJSON(), "deliveries": self.webhooks.history(h.id, deliveries)}
            for h in self.webhooks.list()
        ]

    def addWebhook(self, url: str, events) -> dict:
        """
        The webhook with its signing secret: the only time it is shown.
        Resolves the URL's host name (blocking) to refuse one that leads to
        an address not allowed, with L{RefusedDestination}.
        """
        try:
            self.destinations.checkURL(url)
        except RefusedDestination as e:
            raise RefusedDestination(f"url: {e}") from None
        hook = self.webhooks.add(url, list(events))
        return {**hook.toJSON(), "secret": hook.secret}

    def deleteWebhook(self, id: int) -> dict:
        self.webhooks.delete(id)
        return {"id": id, "deleted": True}

    def enableWebhook(self, id: int) -> dict:
        return self.webhooks.enable(id).toJSON()

    def webhookTest(self, id: int):
        """The webhook (with its secret, to sign with) and a test event's body for it."""
        hook = self.webhooks.get(id)
        now = self.clock()
        body = {
            "id": 0,
            "type": "test",
            "time": isoTime(now),
            "timestamp": now,
            "webhook": hook.id,
            "text": "a test event from smtpeter: the signature and this URL work",
        }
        return hook, json.dumps(body, separators=(",", ":")).encode()

    # The queue -------------------------------------------------------------------

    def queue(self) -> list[dict]:
        """Every message not yet finished, in every worker's spool, oldest id first."""
        return queueEntries(self.data)

    def _queued(self, qid: str, content: bool = False) -> tuple[bytes | None, dict] | None:
        """
        The queue entry of C{qid} (and its content, if asked and it is
        still there) from the spool that holds it; reads that message only.
        """
        for worker, spool in _spools(self.data):
            with _reading(spool.path):
                found = spool.inspectOne(qid.upper())
                if found is None:
                    continue
                entry = _entry(*found, worker)
                try:
                    return spool.readContent(entry["qid"]) if content else None, entry
                except OSError:  # finished (and removed) just now
                    return None
        return None

    def held(self, qid: str) -> bytes | None:
        """The content of a held message (as the spool keeps it), or C{None} if it is not held."""
        found = self.queued(qid)
        return found["content"] if found is not None and found["held"] else None

    def queued(self, qid: str) -> dict | None:
        """
        A message still in a spool (queued or held): its queue entry, with
        its C{content} as the spool keeps it; C{None} once it is gone.
        """
        found = self._queued(qid, content=True)
        if found is None:
            return None
        return {**found[1], "content": found[0]}

    def sent(self, qid: str) -> bytes | None:
        """The content of a message that left the queue, while its spool keeps it."""
        if not self.data:
            return None
        for _, spool in _spools(self.data):
            with _reading(spool.path):
                content = spool.sent(qid.upper())
            if content is not None:
                return content
        # Kept as a file by an earlier version.
        path = SentArchive(sentDirectory(self.data), 0).find(qid.upper())
        if path is None:
            return None
        try:
            return readQueueFile(path)[1]
        except (OSError, ValueError):
            return None

    def heldMessages(self) -> list[str]:
        """The queue ids of every message held now (hold mode, not released), in every spool."""
        found: list[str] = []
        for _, spool in _spools(self.data):
            with _reading(spool.path):
                found += spool.held()
        return sorted(found)

    def pendingActions(self) -> dict[str, str]:
        """
        The requests to the queue not yet carried out: queue id -> the last
        action asked (retry, delete, release). A node carries them out within
        a second; until then the dashboard shows what was asked, not the
        state it replaces.
        """
        return {r.qid: r.action for r in self.requests.list()}

    def requestQueueAction(self, qid: str, action: str) -> dict:
        """
        Ask the node whose queue holds C{qid} to retry it now or delete it
        (within a second, if the gateway runs).
        """
        qid = qid.upper()
        if self._queued(qid) is None:
            raise Missing(f"no message {qid} in the queue", hint=Hint("list", "queue"))
        return self._request(qid, action)

    def requestHeldAction(self, qid: str, action: str) -> dict | None:
        """L{requestQueueAction} for held mail only: C{None} if C{qid} is not held."""
        found = self._queued(qid)
        if found is None or not found[1].get("held"):
            return None
        return self._request(found[1]["qid"], action)

    def _request(self, qid: str, action: str) -> dict:
        self.requests.add(qid, action, self.clock())
        return {"qid": qid, "action": action, "status": "requested"}


def queueEntries(data: Path) -> list[dict]:
    """What C{smtpeter queue list} shows: each message, its worker, each recipient's state."""
    entries = []
    for worker, spool in _spools(data):
        with _reading(spool.path):
            entries += _spoolEntries(spool, worker)
    entries.sort(key=lambda entry: entry["qid"])
    return entries


class UnusableSpool(Exception):
    """A worker's spool database that cannot be read: its C{path}, and C{why}."""

    def __init__(self, path: Path, why: sqlite3.Error) -> None:
        super().__init__(f"{path}: {why}")
        self.path = path
        self.why = why


@contextlib.contextmanager
def _reading(path: Path):
    """Errors of the spool database at C{path} as L{UnusableSpool}, which names it."""
    try:
        yield
    except sqlite3.Error as e:
        raise UnusableSpool(path, e) from e


def _spools(data: Path):
    """
    Each worker's spool that has a database, read-only: C{(worker, spool)},
    closed after. Read it inside C{_reading(spool.path)}.
    """
    for worker, root in spoolDirectories(data):
        with _reading(root / SPOOL_FILE):
            spool = SpoolDatabase.reading(root)
        if spool is None:
            continue
        try:
            yield worker, spool
        finally:
            spool.close()


def _spoolEntries(spool: SpoolDatabase, worker: int) -> list[dict]:
    return [_entry(meta, states, worker) for meta, states in spool.inspect()]


def _entry(meta: dict, states: dict[int, dict], worker: int) -> dict:
    """One message as C{queue list} shows it, from its spool metadata and states."""
    recipients = []
    for index, recipient in enumerate(meta["envelope"]["recipients"]):
        state = states.get(index, {})
        recipients.append(
            {
                "address": recipient["address"],
                "status": state.get("status", "pending"),
                "attempts": state.get("attempts", 0),
                "next_attempt": state.get("next"),
                "last": state.get("last", ""),
            }
        )
    released = any(s.get("released") for s in states.values())
    return {
        "qid": meta["qid"],
        "held": bool(meta["options"].get("hold")) and not released,
        "received": meta["received"],
        "sender": meta["envelope"]["sender"],
        "size": meta["size"],
        "dsn": meta["dsn"],
        "login": meta["options"]["login"],
        "worker": worker,
        "recipients": recipients,
    }


def _session(user) -> dict | None:
    if user is None:
        return None
    return {"name": user.name, "role": user.role, "generation": user.generation}


def _loginFields(record) -> dict:
    fields = record.toJSON()
    del fields["name"]
    return fields


def _dns(key) -> dict:
    record = key.toJSON()
    return {f: record[f] for f in _DNS_FIELDS}


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

    def createLogin(self, name: str, features=(), hold: bool = False) -> Deferred:
        return self._run(Administration.createLogin, name, features, hold)

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
        return self._run(
            Administration.updateLogin, name, features, enable, disable, enabled, publicUrl, hold
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

    def createToken(self, name: str, scope: str = READ) -> Deferred:
        return self._run(Administration.createToken, name, scope)

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

    def queued(self, qid: str) -> Deferred:
        return self._run(Administration.queued, qid)

    def held(self, qid: str) -> Deferred:
        return self._run(Administration.held, qid)

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
        path: Path,
        data: Path | None = None,
        destinations: Destinations | None = None,
    ) -> None:
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
        return Administration(db, data=self._data, destinations=self.destinations)

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
        if isFull(failure.value):
            raise DiskFull(Path(self._path).parent)
        return failure
