"""
The administration seam: what the REST API's management endpoints and the
dashboard ask of the gateway (and the C{smtpeter} command, synchronously,
through L{Administration<smtpeter.admin.Administration>}). Two
implementations: L{ThreadedAdministration<smtpeter.admin.ThreadedAdministration>}
(the gateway's database, in a thread of its own) and
L{MemoryAdministration<smtpeter.admin.MemoryAdministration>} (for tests).
The contract tests in C{tests/admin/test_contract.py} run against both.

Every method returns a C{Deferred}; C{Deferred[T]} below names what it
fires with. Answers are JSON-able values (what the API sends). A failure is
a L{StoreError<smtpeter.store.StoreError>}: L{Missing<smtpeter.store.Missing>}
(nothing by that name), L{Exists<smtpeter.store.Exists>}, L{Invalid
<smtpeter.store.Invalid>} (naming the field) or a plain one for bad input;
a webhook to a destination not allowed fails with
L{RefusedDestination<smtpeter.events.RefusedDestination>}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred


class IAdministration(Interface):
    """Changes an administrator makes to a gateway, and what each answers."""

    destinations = Attribute(
        "The L{Destinations<smtpeter.events.Destinations>} a webhook may be sent to"
        " (the agent of test events uses it too)."
    )

    # SMTP logins

    def listLogins() -> Deferred[list[dict]]:
        """Deferred[list[dict]]: every login (no passwords), by name."""

    def login(name: str) -> Deferred[dict]:
        """Deferred[dict]: the login C{name}; L{Missing} if there is none."""

    def createLogin(
        name: str, features=(), hold: bool = False, limits: dict | None = None
    ) -> Deferred[dict]:
        """
        Deferred[dict]: the new login with its C{password}, the only time it
        is shown. C{limits}: as L{updateLogin}'s.
        """

    def updateLogin(
        name: str,
        features=None,
        enable=(),
        disable=(),
        enabled: bool | None = None,
        publicUrl: str | None = None,
        hold: bool | None = None,
        limits: dict | None = None,
    ) -> Deferred[dict]:
        """
        Deferred[dict]: the login after the change. C{features} replaces its
        set; C{enable}/C{disable} switch single ones; C{publicUrl} C{""}
        puts back the gateway's own. C{limits} changes those of its keys
        given: C{rate}, C{quota} (C{N/period} or C{none}), C{overQuota}
        (C{refuse}, C{hold}), C{senderDomains} (a list; empty: any sender).
        """

    def resetPassword(name: str) -> Deferred[dict]:
        """Deferred[dict]: the login with its new C{password}."""

    def deleteLogin(name: str) -> Deferred[dict]:
        """Deferred[dict]: C{{"name": name, "deleted": True}}."""

    # Dashboard users

    def listAdmins() -> Deferred[list[dict]]:
        """Deferred[list[dict]]: every dashboard user (no passwords)."""

    def createAdmin(name: str, role: str = "admin") -> Deferred[dict]:
        """Deferred[dict]: the user with its C{password}, shown only this once."""

    def checkAdmin(name: str, password: str) -> Deferred[dict | None]:
        """
        Deferred[dict | None]: the session fields (name, role, generation),
        if right. Only reads: the log-in is noted by L{noteAdminLogin}, once
        the throttle has accepted it.
        """

    def noteAdminLogin(name: str) -> Deferred[None]:
        """Deferred[None]: C{name} logged in now (its last log-in time)."""

    def adminSession(name: str) -> Deferred[dict | None]:
        """Deferred[dict | None]: the user's session fields, or C{None} if there is no such user."""

    def resetAdminPassword(name: str) -> Deferred[dict]:
        """Deferred[dict]: a new password; sessions signed with the old one stop working."""

    def deleteAdmin(name: str) -> Deferred[dict]:
        """Deferred[dict]: C{{"name": name, "deleted": True}}."""

    # API tokens

    def listTokens() -> Deferred[list[dict]]:
        """Deferred[list[dict]]: every token's name, scope and times (never the token)."""

    def createToken(name: str, scope: str = "read", login: str | None = None) -> Deferred[dict]:
        """
        Deferred[dict]: C{name}, C{scope}, C{login} (a send token's) and the
        C{token}, shown only this once.
        """

    def deleteToken(name: str) -> Deferred[dict]:
        """Deferred[dict]: C{{"name": name, "deleted": True}}."""

    # Sender domains (DKIM)

    def listDomains() -> Deferred[list[dict]]:
        """Deferred[list[dict]]: every key of every domain."""

    def domain(domain: str) -> Deferred[dict]:
        """Deferred[dict]: the domain's active key's DNS record and all its C{keys}."""

    def addDomain(domain: str, selector: str | None = None) -> Deferred[dict]:
        """Deferred[dict]: the new key's DNS record to publish."""

    def importDomainKey(domain: str, pem: bytes, selector: str) -> Deferred[dict]:
        """Deferred[dict]: the imported key's DNS record."""

    def rotateDomain(domain: str, selector: str | None = None) -> Deferred[dict]:
        """Deferred[dict]: the new active key's DNS record."""

    def deleteDomain(domain: str) -> Deferred[dict]:
        """Deferred[dict]: C{{"domain": domain, "deleted": N}} (N keys deleted)."""

    # Webhooks

    def listWebhooks(deliveries: int = 10) -> Deferred[list[dict]]:
        """Deferred[list[dict]]: every webhook with its latest C{deliveries} attempts."""

    def addWebhook(url: str, events) -> Deferred[dict]:
        """Deferred[dict]: the webhook with its signing C{secret}, the only time it is shown."""

    def deleteWebhook(id: int) -> Deferred[dict]:
        """Deferred[dict]: C{{"id": id, "deleted": True}}."""

    def enableWebhook(id: int) -> Deferred[dict]:
        """Deferred[dict]: the webhook, enabled again."""

    def webhookTest(id: int):
        """Deferred[tuple[Webhook, bytes]]: the webhook (to sign with) and a test event's body."""

    # The queue

    def queue() -> Deferred[list[dict]]:
        """
        Deferred[list[dict]]: every message not yet finished, oldest id first,
        each with C{held} and C{worker}: on SQLite, the worker whose spool
        keeps it; on PostgreSQL, C{owner} (C{"node/worker"}), C{node} and
        C{worker} name the worker whose claim on it holds now (C{None}: none).
        """

    def nodes() -> Deferred[dict]:
        """
        Deferred[dict]: C{nodes}, each node of the gateway (C{name}, C{host},
        C{pid}, C{started}, C{seen}: its last heartbeat, C{status}: C{up} or
        C{down} (not seen for 3 leases), C{workers}, C{claimed}: the messages
        its workers hold now, and C{claimed_by_worker}); C{queued} and
        C{held}, the messages in the queue due for delivery and held.
        On SQLite, one node: this one.
        """

    def queued(qid: str) -> Deferred[dict | None]:
        """Deferred[dict | None]: a message still queued or held, with its C{content}."""

    def held(qid: str, limit: int | None = None) -> Deferred[bytes | None]:
        """
        Deferred[bytes | None]: a held message's content (its first
        C{limit} bytes, read no further); C{None} if it is not held.
        """

    def sent(qid: str) -> Deferred[bytes | None]:
        """Deferred[bytes | None]: the content of a message that left the queue, while kept."""

    def heldMessages() -> Deferred[list[str]]:
        """Deferred[list[str]]: the queue ids of every message held now."""

    def pendingActions() -> Deferred[dict[str, str]]:
        """Deferred[dict[str, str]]: queue id -> the last action asked and not yet carried out."""

    def requestQueueAction(qid: str, action: str) -> Deferred[dict]:
        """
        Deferred[dict]: C{qid}, C{action}, C{"status": "requested"}; asks the
        node whose queue holds C{qid} to retry or delete it. L{Missing} if
        no queue holds it.
        """

    def requestHeldAction(qid: str, action: str) -> Deferred[dict | None]:
        """Deferred[dict | None]: L{requestQueueAction} for held mail; C{None} if not held."""
