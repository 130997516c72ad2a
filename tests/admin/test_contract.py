"""
One set of tests for L{IAdministration}, run against both implementations:
L{MemoryAdministration} (what the API's and the dashboard's unit tests use)
and L{ThreadedAdministration} (the gateway's database and spools, in its
thread). A backend on another engine gets the same suite with one more class
at the bottom.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from smtpeter.admin import IAdministration, MemoryAdministration, ThreadedAdministration
from smtpeter.events import Destinations, RefusedDestination
from smtpeter.message import Envelope, Options, QueuedMessage, Recipient
from smtpeter.process import DataDirectoryLock
from smtpeter.process._heartbeat import beat
from smtpeter.process._nodename import holdNodeName
from smtpeter.queue import SharedQueueDatabase, SpoolDatabase
from smtpeter.store import (
    Exists,
    Invalid,
    Missing,
    PostgreSQL,
    StoreError,
    UnknownFeature,
    openDatabase,
)
from smtpeter.testing import PumpedReactor

QID = "0123456789ABCDEF0123"
OTHER = "FEDCBA98765432100000"
CONTENT = b"Subject: hi\r\n\r\nhello\r\n"
#: A public address: no name to resolve, and a destination any gateway allows.
HOOK = "https://93.184.216.34/hook"


class AdministrationContract:
    """What every L{IAdministration} does."""

    def makeAdministration(self, tmp_path) -> IAdministration:
        raise NotImplementedError

    def enqueue(self, qid: str, held: bool = False) -> None:
        """Put a message from C{app} to two recipients in the queue."""
        raise NotImplementedError

    def finish(self, qid: str) -> None:
        """The message leaves the queue, delivered (its content kept as sent)."""
        raise NotImplementedError

    def wait(self, d):
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def administration(self, tmp_path):
        self.admin = self.makeAdministration(tmp_path)
        yield self.admin
        self.close()

    def close(self) -> None:
        pass

    def ok(self, d):
        result = self.wait(d)
        if hasattr(result, "raiseException"):
            result.raiseException()
        return result

    def refused(self, d, kind=StoreError):
        result = self.wait(d)
        assert hasattr(result, "check"), f"expected {kind.__name__}, got {result!r}"
        assert result.check(kind), result
        return result.value

    def test_provides_the_interface(self):
        assert verifyObject(IAdministration, self.admin)

    # Logins

    def test_login_lifecycle(self):
        made = self.ok(self.admin.createLogin("app", ["trackclicks"]))
        assert made["name"] == "app" and len(made["password"]) >= 16
        assert made["features"] == ["trackclicks"] and made["enabled"] and not made["hold"]
        listed = self.ok(self.admin.listLogins())
        assert [login["name"] for login in listed] == ["app"]
        assert "password" not in listed[0]
        changed = self.ok(
            self.admin.updateLogin("app", enable=["trackopens"], enabled=False, hold=True)
        )
        assert changed["features"] == ["trackclicks", "trackopens"]
        assert not changed["enabled"] and changed["hold"]
        replaced = self.ok(self.admin.updateLogin("app", features=["trackopens"]))
        assert replaced["features"] == ["trackopens"]
        assert self.ok(self.admin.login("app")) == replaced
        again = self.ok(self.admin.resetPassword("app"))
        assert again["password"] != made["password"]
        assert self.ok(self.admin.deleteLogin("app")) == {"name": "app", "deleted": True}
        assert self.ok(self.admin.listLogins()) == []

    def test_login_errors(self):
        self.ok(self.admin.createLogin("app"))
        self.refused(self.admin.createLogin("app"), Exists)
        assert self.refused(self.admin.createLogin("with space"), Invalid).field == "name"
        assert self.refused(self.admin.createLogin("x", ["nosuch"]), UnknownFeature)
        self.refused(self.admin.login("nobody"), Missing)
        self.refused(self.admin.updateLogin("nobody", enabled=True), Missing)
        self.refused(self.admin.deleteLogin("nobody"), Missing)
        bad = self.refused(self.admin.updateLogin("app", publicUrl="ftp://x"), Invalid)
        assert bad.field == "public_url"

    # Dashboard users

    def test_dashboard_users(self):
        made = self.ok(self.admin.createAdmin("ann"))
        assert made["role"] == "admin"
        self.ok(self.admin.createAdmin("vic", "viewer"))
        assert [u["name"] for u in self.ok(self.admin.listAdmins())] == ["ann", "vic"]
        session = self.ok(self.admin.checkAdmin("ann", made["password"]))
        assert session == {"name": "ann", "role": "admin", "generation": 1}
        lastLogin = {u["name"]: u["last_login"] for u in self.ok(self.admin.listAdmins())}
        assert lastLogin["ann"] is None  # checking a password notes no log-in
        self.ok(self.admin.noteAdminLogin("ann"))
        lastLogin = {u["name"]: u["last_login"] for u in self.ok(self.admin.listAdmins())}
        assert lastLogin["ann"] is not None and lastLogin["vic"] is None
        assert self.ok(self.admin.checkAdmin("ann", "wrong")) is None
        assert self.ok(self.admin.checkAdmin("nobody", "x")) is None
        reset = self.ok(self.admin.resetAdminPassword("ann"))
        assert self.ok(self.admin.adminSession("ann"))["generation"] == 2
        assert self.ok(self.admin.checkAdmin("ann", made["password"])) is None
        assert self.ok(self.admin.checkAdmin("ann", reset["password"]))["name"] == "ann"
        self.refused(self.admin.createAdmin("ann"), Exists)
        self.refused(self.admin.createAdmin("x", "god"))
        self.ok(self.admin.deleteAdmin("ann"))
        assert self.ok(self.admin.adminSession("ann")) is None
        self.refused(self.admin.deleteAdmin("ann"), Missing)

    # Tokens

    def test_tokens(self):
        made = self.ok(self.admin.createToken("reports"))
        assert made["scope"] == "read" and made["token"].startswith("spt_")
        self.ok(self.admin.createToken("ops", "admin"))
        listed = self.ok(self.admin.listTokens())
        assert [(t["name"], t["scope"]) for t in listed] == [("ops", "admin"), ("reports", "read")]
        assert made["token"] not in repr(listed)
        self.refused(self.admin.createToken("reports"), Exists)
        assert self.refused(self.admin.createToken("x", "root"), Invalid).field == "scope"
        assert self.refused(self.admin.createToken(" "), Invalid).field == "name"
        self.ok(self.admin.deleteToken("reports"))
        self.refused(self.admin.deleteToken("reports"), Missing)
        assert [t["name"] for t in self.ok(self.admin.listTokens())] == ["ops"]

    # Domains

    def test_domains(self):
        added = self.ok(self.admin.addDomain("Shop.Example", "s1"))
        assert added["domain"] == "shop.example" and added["selector"] == "s1"
        assert added["name"] == "s1._domainkey.shop.example" and "p=" in added["txt"]
        self.refused(self.admin.addDomain("shop.example"), Exists)
        rotated = self.ok(self.admin.rotateDomain("shop.example", "s2"))
        assert rotated["selector"] == "s2"
        shown = self.ok(self.admin.domain("shop.example"))
        assert shown["selector"] == "s2" and len(shown["keys"]) == 2
        assert len(self.ok(self.admin.listDomains())) == 2
        assert self.ok(self.admin.deleteDomain("shop.example")) == {
            "domain": "shop.example",
            "deleted": 2,
        }
        self.refused(self.admin.domain("shop.example"), Missing)
        assert self.refused(self.admin.addDomain("not a domain"), Invalid).field == "domain"
        # An address is no domain: no DKIM key, no sender domain of a login.
        assert self.refused(self.admin.addDomain("192.0.2.1"), Invalid).field == "domain"
        limits = {"senderDomains": ["192.0.2.1"]}
        refused = self.refused(self.admin.createLogin("app", limits=limits), Invalid)
        assert refused.field == "sender_domains"
        self.refused(self.admin.login("app"), Missing)  # not made half

    # Webhooks

    def test_webhooks(self):
        made = self.ok(self.admin.addWebhook(HOOK, ["delivery", "bounce"]))
        assert made["secret"] and made["url"] == HOOK
        [listed] = self.ok(self.admin.listWebhooks())
        assert listed["id"] == made["id"] and listed["deliveries"] == []
        assert "secret" not in listed
        assert self.ok(self.admin.enableWebhook(made["id"]))["id"] == made["id"]
        hook, body = self.ok(self.admin.webhookTest(made["id"]))
        assert hook.secret == made["secret"] and b'"type":"test"' in body
        assert self.ok(self.admin.deleteWebhook(made["id"])) == {"id": made["id"], "deleted": True}
        self.refused(self.admin.deleteWebhook(made["id"]), Missing)
        self.refused(self.admin.webhookTest(made["id"]), Missing)
        assert self.refused(self.admin.addWebhook(HOOK, ["nosuch"]), Invalid).field == "events"

    def test_webhook_to_an_internal_address_is_refused(self):
        result = self.wait(self.admin.addWebhook("http://127.0.0.1:8080/x", ["delivery"]))
        assert result.check(RefusedDestination)
        assert str(result.value).startswith("url: ")
        assert self.ok(self.admin.listWebhooks()) == []

    # The queue

    def test_an_empty_queue(self):
        assert self.ok(self.admin.queue()) == []
        assert self.ok(self.admin.heldMessages()) == []
        assert self.ok(self.admin.pendingActions()) == {}
        assert self.ok(self.admin.queued(QID)) is None
        assert self.ok(self.admin.held(QID)) is None
        assert self.ok(self.admin.sent(QID)) is None
        self.refused(self.admin.requestQueueAction(QID, "retry"), Missing)
        assert self.ok(self.admin.requestHeldAction(QID, "release")) is None

    def test_queue_listing_and_actions(self):
        self.enqueue(QID)
        self.enqueue(OTHER, held=True)
        entries = self.ok(self.admin.queue())
        assert [(e["qid"], e["held"]) for e in entries] == [(QID, False), (OTHER, True)]
        assert entries[0]["sender"] == "news@shop.example" and entries[0]["login"] == "app"
        assert [r["address"] for r in entries[0]["recipients"]] == ["a@x.example", "b@x.example"]
        assert {r["status"] for r in entries[0]["recipients"]} == {"pending"}
        assert self.ok(self.admin.heldMessages()) == [OTHER]
        assert self.ok(self.admin.queued(QID.lower()))["content"] == CONTENT
        assert self.ok(self.admin.held(QID)) is None
        assert self.ok(self.admin.held(OTHER)) == CONTENT
        assert self.ok(self.admin.held(OTHER, 7)) == CONTENT[:7]  # read no further
        assert self.ok(self.admin.held(QID, 7)) is None
        asked = self.ok(self.admin.requestQueueAction(QID.lower(), "retry"))
        assert asked == {"qid": QID, "action": "retry", "status": "requested"}
        assert self.ok(self.admin.requestHeldAction(QID, "release")) is None
        released = self.ok(self.admin.requestHeldAction(OTHER, "release"))
        assert released == {"qid": OTHER, "action": "release", "status": "requested"}
        assert self.ok(self.admin.pendingActions()) == {QID: "retry", OTHER: "release"}

    def test_nodes(self):
        self.enqueue(QID)
        self.enqueue(OTHER, held=True)
        found = self.ok(self.admin.nodes())
        assert (found["queued"], found["held"]) == (1, 1)
        [node] = found["nodes"]
        assert node["name"] == self.nodeName
        assert node["status"] == "up" and node["seen"] is not None
        assert node["workers"] == self.workers
        # The message due is held by worker 1 (the one that took it); the held one by nobody.
        assert node["claimed"] == 1 and node["claimed_by_worker"]["1"] == 1

    def test_sent_content(self):
        self.enqueue(QID)
        self.finish(QID)
        assert self.ok(self.admin.queue()) == []
        assert self.ok(self.admin.queued(QID)) is None
        assert self.ok(self.admin.sent(QID)) == CONTENT


class TestMemoryAdministration(AdministrationContract):
    nodeName = "memory"
    workers = 1

    def makeAdministration(self, tmp_path):
        return MemoryAdministration(Clock(), Destinations())

    def wait(self, d):
        # Every Deferred of the in-memory administration has fired already.
        results: list = []
        d.addBoth(results.append)
        assert results, "a MemoryAdministration Deferred that has not fired"
        return results[0]

    def enqueue(self, qid, held=False):
        self.admin.enqueue(
            qid, "news@shop.example", ("a@x.example", "b@x.example"), CONTENT, held=held
        )

    def finish(self, qid):
        self.admin.finish(qid)


class TestThreadedAdministration(AdministrationContract):
    nodeName = "a"
    workers = 1

    def makeAdministration(self, tmp_path):
        self.reactor = PumpedReactor()
        self.data = tmp_path / "data"
        self.data.mkdir()
        openDatabase(self.data / "smtpeter.sqlite").close()  # as the gateway's start does
        # The running gateway locks its data directory (this process, here).
        self.lock = DataDirectoryLock.acquire(self.data)
        admin = ThreadedAdministration(
            self.reactor, self.data / "smtpeter.sqlite", self.data, Destinations(), "a"
        )
        admin.start()
        self.spool = SpoolDatabase(self.data / "spool", keepSent=1)
        self.spool.open()
        return admin

    def close(self):
        self.admin.stop()
        self.spool.close()
        self.lock.release()

    def test_nodes_stopped(self):
        """A data directory whose gateway is not running: its node is down."""
        self.lock.release()
        [node] = self.ok(self.admin.nodes())["nodes"]
        assert (node["status"], node["seen"]) == ("down", None)

    def wait(self, d):
        return self.reactor.outcome(d)

    def enqueue(self, qid, held=False):
        envelope = Envelope(
            "news@shop.example", (Recipient("a@x.example"), Recipient("b@x.example"))
        )
        message = QueuedMessage(qid, envelope, Options(login="app", hold=held), 1000.0, CONTENT)
        assert self.spool.apply([("store", message)]) == [None]

    def finish(self, qid):
        assert self.spool.apply([("finish", qid, 2000.0)]) == [None]


class TestPostgreSQLAdministration(TestThreadedAdministration):
    """The same, the shared state and the queue on PostgreSQL."""

    @pytest.fixture(autouse=True)
    def administration(self, tmp_path, postgresDatabase):
        self.database = PostgreSQL(postgresDatabase)
        self.admin = self.makeAdministration(tmp_path)
        yield self.admin
        self.close()

    def makeAdministration(self, tmp_path):
        self.reactor = PumpedReactor()
        self.data = tmp_path / "data"
        self.data.mkdir()
        openDatabase(self.database).close()  # as the gateway's start does
        admin = ThreadedAdministration(self.reactor, self.database, self.data, Destinations())
        admin.start()
        uri = self.database.uri
        self.queue = SharedQueueDatabase(lambda: psycopg.connect(uri), "a/1", "a", 60.0, keepSent=1)
        # Node "a" runs (its name held, its first heartbeat written).
        self.nodeDB = holdNodeName(lambda: psycopg.connect(uri), "a")
        beat(self.nodeDB, "a", self.workers, timedelta(seconds=60))
        return admin

    def close(self):
        self.admin.stop()
        self.queue.close()
        self.nodeDB.close()

    def test_nodes_stopped(self):
        """A node not seen for 3 leases is down, and still listed."""
        self.nodeDB.execute("UPDATE nodes SET seen = now() - interval '181 seconds'")
        [node] = self.ok(self.admin.nodes())["nodes"]
        assert (node["name"], node["status"]) == ("a", "down")
        self.nodeDB.execute("UPDATE nodes SET seen = now() - interval '179 seconds'")
        [node] = self.ok(self.admin.nodes())["nodes"]
        assert node["status"] == "up"

    def test_nodes_of_a_cluster(self):
        """Each node's claims, by worker; a node long gone is no longer listed."""
        self.enqueue(QID)
        uri = self.database.uri
        other = SharedQueueDatabase(lambda: psycopg.connect(uri), "b/2", "b", 60.0, keepSent=1)
        otherDB = holdNodeName(lambda: psycopg.connect(uri), "b")
        try:
            beat(otherDB, "b", 2, timedelta(seconds=30))
            envelope = Envelope("news@shop.example", (Recipient("a@x.example"),))
            message = QueuedMessage(OTHER, envelope, Options(login="app"), 1000.0, CONTENT)
            assert other.apply([("store", message)]) == [None]
            found = self.ok(self.admin.nodes())
            byName = {n["name"]: n for n in found["nodes"]}
            assert sorted(byName) == ["a", "b"]
            assert byName["b"]["workers"] == 2
            assert byName["b"]["claimed_by_worker"] == {"1": 0, "2": 1}
            assert byName["a"]["claimed_by_worker"] == {"1": 1}
            assert (found["queued"], found["held"]) == (2, 0)
            # b's worker died: once its lease runs out, its message is nobody's.
            otherDB.execute("UPDATE queue_messages SET lease_until = 1 WHERE qid = %s", (OTHER,))
            byName = {n["name"]: n for n in self.ok(self.admin.nodes())["nodes"]}
            assert byName["b"]["claimed_by_worker"] == {"1": 0, "2": 0}
            assert byName["b"]["claimed"] == 0
            otherDB.execute("UPDATE nodes SET seen = now() - interval '8 days' WHERE name = 'b'")
            assert [n["name"] for n in self.ok(self.admin.nodes())["nodes"]] == ["a"]
        finally:
            other.close()
            otherDB.close()

    def enqueue(self, qid, held=False):
        envelope = Envelope(
            "news@shop.example", (Recipient("a@x.example"), Recipient("b@x.example"))
        )
        message = QueuedMessage(qid, envelope, Options(login="app", hold=held), 1000.0, CONTENT)
        assert self.queue.apply([("store", message)]) == [None]

    def finish(self, qid):
        assert self.queue.apply([("finish", qid, 2000.0)]) == [None]
