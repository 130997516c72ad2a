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

import json
import sqlite3
import time
from collections.abc import Callable

from ..events import Destinations, RefusedDestination
from ..store import ADMIN_ROLE as ADMIN
from ..store import READ_SCOPE as READ
from ..store import (
    AdminStore,
    DomainStore,
    Hint,
    LoginStore,
    Missing,
    NoSuchDomain,
    QueueRequestStore,
    TokenStore,
    UsageStore,
    WebhookStore,
    isoTime,
    isShared,
)
from ._nodes import localNodes, sharedNodes
from ._sharedqueue import sharedEntries, sharedEntry, sharedHeld, sharedSent
from ._spools import queueEntries, queueEntry, readingSpool, sentContent, workerSpools

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
        node: str = "",
    ) -> None:
        self.db = db
        #: This node's name (--node; "": the host name), which the nodes on SQLite show.
        self.node = node
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
        return [self._withUsage(r) for r in self.logins.list()]

    def login(self, name: str) -> dict:
        return self._withUsage(self.logins.require(name))

    def _withUsage(self, record) -> dict:
        """The login's fields and C{usage}: what it has used of its limits now."""
        limits = {"rate": record.rate, "quota": record.quota}
        usage = UsageStore(self.db).usage(record.name, limits, self.clock())
        return {**record.toJSON(), "usage": usage}

    def createLogin(
        self, name: str, features=(), hold: bool = False, limits: dict | None = None
    ) -> dict:
        """The login, with its password: the only time anyone sees it."""
        record, password = self.logins.create(name, list(features), hold, **(limits or {}))
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
        limits: dict | None = None,
    ) -> dict:
        """
        Change a login: C{features} replaces its set, C{enable}/C{disable}
        switch single ones; C{enabled}; C{publicUrl} (C{""} for the
        gateway's); C{hold} (hold mode); C{limits}, the keys of
        L{LoginStore.setLimits} given (rate, quota, overQuota, senderDomains).
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
        if limits:
            record = self.logins.setLimits(name, **limits)
        return self._withUsage(record)

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

    def createToken(self, name: str, scope: str = READ, login: str | None = None) -> dict:
        """The token itself is in the answer only this once."""
        record, token = self.tokens.create(name, scope, login)
        return {"name": record.name, "token": token, "scope": record.scope, "login": record.login}

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
        """
        Every message not yet finished, in every worker's spool (on
        PostgreSQL, in the shared queue), oldest id first.
        """
        if isShared(self.db):
            return sharedEntries(self.db)
        return queueEntries(self.data)

    def nodes(self) -> dict:
        """The gateway's nodes, each with its heartbeat, workers and claims; the queue's counts."""
        if isShared(self.db):
            return sharedNodes(self.db, isoTime)
        return localNodes(self.data, self.node, self.clock(), isoTime)

    def _queued(
        self, qid: str, content: bool = False, limit: int | None = None
    ) -> tuple[bytes | None, dict] | None:
        """
        The queue entry of C{qid} (and its content, or its first C{limit}
        bytes, if asked and it is still there) from the spool that holds
        it; reads that message only.
        """
        if isShared(self.db):
            return sharedEntry(self.db, qid.upper(), content, limit)
        for worker, spool in workerSpools(self.data):
            with readingSpool(spool.path):
                found = spool.inspectOne(qid.upper())
                if found is None:
                    continue
                entry = queueEntry(*found, worker)
                try:
                    return spool.readContent(entry["qid"], limit) if content else None, entry
                except OSError:  # finished (and removed) just now
                    return None
        return None

    def held(self, qid: str, limit: int | None = None) -> bytes | None:
        """
        The content of a held message (as the spool keeps it), or its first
        C{limit} bytes; C{None} if it is not held. The content of one that
        is only queued is not read to say so (C{GET /v1/messages/{id}} asks
        this of every message).
        """
        found = self._queued(qid)
        if found is None or not found[1]["held"]:
            return None
        found = self._queued(qid, content=True, limit=limit)
        return found[0] if found is not None and found[1]["held"] else None

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
        if isShared(self.db):
            return sharedSent(self.db, qid.upper())
        return sentContent(self.data, qid) if self.data else None

    def heldMessages(self) -> list[str]:
        """The queue ids of every message held now (hold mode, not released), in every spool."""
        if isShared(self.db):
            return sharedHeld(self.db)
        found: list[str] = []
        for _, spool in workerSpools(self.data):
            with readingSpool(spool.path):
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
