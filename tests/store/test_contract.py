"""
One set of tests for the gateway's store, run against every backend: the
in-memory store and SQLite (with its real writer and reader threads). A
PostgreSQL backend gets the same suite by adding a class at the bottom.
"""

from __future__ import annotations

import threading

import pytest
from attrs import evolve
from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from smtpeter.events import DEFERRAL, DELIVERY, FAILURE, Event, IEventSink
from smtpeter.queue import Options
from smtpeter.store import (
    IAuthFailureStore,
    IDashboardSessionStore,
    IEventStore,
    IIdempotencyStore,
    ILoginStore,
    ILoginUsageStore,
    IQueueRequests,
    ISuppressionStore,
    LoginStore,
    MemoryStore,
    PostgreSQL,
    SQLiteStore,
    StoreError,
    openDatabase,
)
from smtpeter.store._apitokens import TokenStore
from smtpeter.store._engines import connect
from smtpeter.store._events import EventQuery, LinkQuery, MessageQuery
from smtpeter.store._queuerequests import QueueRequestStore
from smtpeter.store._stats import StatsQuery
from smtpeter.store._usage import UsageFull, UsageStore
from smtpeter.store._webhooks import WebhookStore
from smtpeter.testing import PumpedReactor, result

from .conftest import QID, message

OTHER = "FEDCBA98765432100000"


class StoreContract:
    """What every backend of the gateway's store does."""

    def makeStore(self, tmp_path):
        """The store; set C{self.wait} to a function that waits for a Deferred."""
        raise NotImplementedError

    def addLogin(self, store, name: str, enabled: bool = True) -> str:
        raise NotImplementedError

    def addToken(self, store, name: str, scope: str = "read", login=None) -> str:
        raise NotImplementedError

    def addWebhook(self, store, url: str, events) -> int:
        raise NotImplementedError

    def request(self, store, qid: str, action: str):
        """A request made as the CLI and the API make it."""
        raise NotImplementedError

    @pytest.fixture
    def store(self, tmp_path):
        store = self.makeStore(tmp_path)
        yield store
        if hasattr(store, "stop"):
            store.stop()

    def test_interfaces(self, store):
        for interface in (
            IEventSink,
            IEventStore,
            ILoginStore,
            IAuthFailureStore,
            ISuppressionStore,
            IQueueRequests,
            IDashboardSessionStore,
            ILoginUsageStore,
            IIdempotencyStore,
        ):
            assert verifyObject(interface, store)

    def test_login_usage_adds_up_and_reads_back(self, store):
        day, minute = ("app", "day", 0), ("app", "minute", 60)
        assert self.wait(store.exchangeLoginUsage({}, [day])) == {day: 0}
        assert self.wait(store.exchangeLoginUsage({day: 3}, [])) == {day: 3}
        assert self.wait(store.exchangeLoginUsage({day: 2, minute: 1}, [day])) == {
            day: 5,
            minute: 1,
        }
        assert self.wait(store.exchangeLoginUsage({}, [("other", "day", 0)])) == {
            ("other", "day", 0): 0
        }

    def test_login_usage_reservations_stay_within_their_limits(self, store):
        day, minute, tomorrow = ("app", "day", 0), ("app", "minute", 60), ("app", "day", 86400)
        assert self.wait(store.reserveLoginUsage([(day, 4, 10)])) == {day: (4, 4)}
        both = [(day, 4, 10), (minute, 2, 3)]
        assert self.wait(store.reserveLoginUsage(both)) == {day: (4, 8), minute: (2, 2)}
        # What is left, if less than wanted.
        assert self.wait(store.reserveLoginUsage(both)) == {day: (2, 10), minute: (1, 3)}
        # A full window: nothing is taken from the others either.
        wants = [(tomorrow, 1, 5), (minute, 1, 3)]
        assert self.wait(store.reserveLoginUsage(wants)) == {minute: (0, 3)}
        assert self.wait(store.exchangeLoginUsage({}, [tomorrow])) == {tomorrow: 0}
        # Handed back (a negative increment), it can be taken again.
        assert self.wait(store.exchangeLoginUsage({day: -3}, [])) == {day: 7}
        assert self.wait(store.reserveLoginUsage([(day, 5, 10)])) == {day: (3, 10)}

    def test_an_accepted_message_is_recorded_once_with_an_attempt_per_recipient(self, store):
        first = self.wait(store.accepted(message()))
        assert [(e.type, e.recipient) for e in first] == [
            ("attempt", "a@x.test"),
            ("attempt", "b@x.test"),
        ]
        assert first[0].details["features"] == ["trackclicks"]
        assert self.wait(store.accepted(message())) == []
        record = self.wait(store.message(QID))
        assert record.sender == "news@shop.test" and record.tags == ("spring",)
        assert record.recipient(1).notify == ("NEVER",) and record.recipient(2) is None
        assert record.options["features"] == ["trackclicks"]
        assert self.wait(store.message(OTHER)) is None

    def test_a_message_record_keeps_what_search_needs(self, store):
        content = (
            b"From: =?utf-8?q?Gr=C3=BC=C3=9Fe?= <news@shop.test>\r\n"
            b"Subject: =?utf-8?q?Sp=C3=A4ter?=\r\n sale\r\n\r\nSubject: not this one\r\n"
        )
        self.wait(store.accepted(evolve(message(), content=content)))
        record = self.wait(store.message(QID))
        assert (record.subject, record.fromHeader) == ("Später sale", "Grüße <news@shop.test>")
        assert (record.size, record.login) == (len(content), "shop")

    def test_outcomes_deferrals_as_temporary_failures(self, store):
        self.wait(store.record(Event(DEFERRAL, QID, "a@x.test", 5.0, (), {"code": 451})))
        self.wait(store.record(Event(FAILURE, QID, "a@x.test", 6.0, (), {"code": 550})))
        self.wait(store.record(Event(DELIVERY, QID, "b@x.test", 7.0, (), {"code": 250})))
        events = self.wait(store.messageEvents(QID))
        assert [(e.type, e.details.get("permanent"), e.details["code"]) for e in events] == [
            ("failure", False, 451),
            ("failure", True, 550),
            ("delivery", None, 250),
        ]

    def test_queries_filter_by_each_field_and_page_with_the_cursor(self, store):
        self.wait(store.accepted(message()))
        self.wait(store.accepted(message(OTHER, tags=("autumn",))))
        for qid in (QID, OTHER):
            self.wait(store.record(Event(DELIVERY, qid, "A@X.test", 2000.0, ("t2",), {})))

        def found(**filters):
            events = self.wait(store.events(EventQuery(**filters)))
            return [(e.type, e.qid[:4], e.recipient) for e in events]

        assert found(tag="autumn") == [
            ("attempt", "FEDC", "a@x.test"),
            ("attempt", "FEDC", "b@x.test"),
        ]
        assert found(email="a@x.TEST", type="delivery") == [
            ("delivery", "0123", "A@X.test"),
            ("delivery", "FEDC", "A@X.test"),
        ]
        assert found(messageid=OTHER, start=1500.0) == [("delivery", "FEDC", "A@X.test")]
        assert len(found(end=1500.0)) == 4
        first = self.wait(store.events(EventQuery(limit=3)))
        rest = self.wait(store.events(EventQuery(after=first[-1].id, limit=3)))
        assert len(first) == 3 and len(rest) == 3
        assert {e.id for e in first}.isdisjoint(e.id for e in rest)
        day = self.wait(store.day("delivery", 1500.0, 2500.0, 0, 1))
        assert [e.qid for e in day] == [QID]
        assert [e.qid for e in self.wait(store.day("delivery", 1500.0, 2500.0, day[0].id, 5))] == [
            OTHER
        ]

    def test_links_are_kept_per_message(self, store):
        self.wait(store.recordLinks(QID, ["https://a.example/", "https://b.example/x"]))
        assert self.wait(store.links(QID)) == ["https://a.example/", "https://b.example/x"]
        assert self.wait(store.links(OTHER)) == []

    def test_clicks_bounces_and_numbered_opens(self, store):
        click = self.wait(store.recordClick(QID, "a@x.test", ("t",), {"link": 1}, 10.0))
        assert (click.type, click.tags, click.details["link"], click.time) == (
            "click",
            ("t",),
            1,
            10.0,
        )
        bounce = self.wait(store.recordBounce(QID, "b@x.test", (), {"class": "hard"}, 11.0))
        assert bounce.type == "bounce" and bounce.details["class"] == "hard"
        opens = [
            self.wait(store.recordOpen(QID, recipient, (), {"ip": "192.0.2.1"}, 12.0 + i))
            for i, recipient in enumerate(["a@x.test", "a@x.test", "b@x.test", "a@x.test"])
        ]
        assert [(o.details["first"], o.details["number"]) for o in opens] == [
            (True, 1),
            (False, 2),
            (True, 1),
            (False, 3),
        ]
        assert opens[0].details["ip"] == "192.0.2.1"
        assert [e.type for e in self.wait(store.events(EventQuery(type="open")))] == ["open"] * 4

    def test_api_tokens(self, store):
        token = self.addToken(store, "reporting")
        found = self.wait(store.checkToken(token))
        assert (found.name, found.scope) == ("reporting", "read")
        admin = self.wait(store.checkToken(self.addToken(store, "ops", "admin")))
        assert (admin.name, admin.scope) == ("ops", "admin")
        assert self.wait(store.checkToken(token + "x")) is None
        assert self.wait(store.checkToken("")) is None

    def test_send_tokens_name_their_login(self, store):
        self.addLogin(store, "app")
        found = self.wait(store.checkToken(self.addToken(store, "sender", "send", "app")))
        assert (found.name, found.scope, found.login) == ("sender", "send", "app")
        reader = self.wait(store.checkToken(self.addToken(store, "reader")))
        assert reader.login is None

    def test_the_sending_login_is_an_enabled_one(self, store):
        self.addLogin(store, "app")
        self.addLogin(store, "off", enabled=False)
        assert self.wait(store.sendingLogin("app")).name == "app"
        assert self.wait(store.sendingLogin("off")) is None
        assert self.wait(store.sendingLogin("nobody")) is None

    def test_idempotency_keys(self, store):
        assert self.wait(store.reserveIdempotencyKey("t", "k1", 1000.0)) is None
        pending = self.wait(store.reserveIdempotencyKey("t", "k1", 1001.0))
        assert (pending.created, pending.status, pending.body) == (1000.0, None, None)
        # another token's key of the same name is its own
        assert self.wait(store.reserveIdempotencyKey("u", "k1", 1001.0)) is None
        self.wait(store.finishIdempotencyKey("t", "k1", 202, '{"a": 1}'))
        done = self.wait(store.reserveIdempotencyKey("t", "k1", 1002.0))
        assert (done.status, done.body) == (202, '{"a": 1}')
        self.wait(store.freeIdempotencyKey("t", "k1"))  # answered: kept
        assert self.wait(store.reserveIdempotencyKey("t", "k1", 1003.0)).status == 202
        # 24 hours later the key is new again
        assert self.wait(store.reserveIdempotencyKey("t", "k1", 1000.0 + 86401)) is None
        # a first attempt that failed frees its key
        assert self.wait(store.reserveIdempotencyKey("t", "k2", 1000.0)) is None
        self.wait(store.freeIdempotencyKey("t", "k2"))
        assert self.wait(store.reserveIdempotencyKey("t", "k2", 1001.0)) is None
        # one abandoned unanswered (its process gone) is taken over after 10 minutes
        assert self.wait(store.reserveIdempotencyKey("t", "k2", 1300.0)).status is None
        assert self.wait(store.reserveIdempotencyKey("t", "k2", 1602.0)) is None

    def test_webhook_deliveries_are_queued_with_their_events(self, store):
        hook = self.addWebhook(store, "https://hooks.example/in", ["click"])
        queued = []
        store.whenWebhooksQueued(lambda: queued.append(True))
        self.wait(store.recordOpen(QID, "a@x.test", (), {}, 1.0))  # not wanted
        assert not queued
        click = self.wait(store.recordClick(QID, "a@x.test", (), {}, 2.0))
        assert queued
        [delivery] = self.wait(store.dueWebhooks(1e12, 10, frozenset()))
        assert (delivery.webhook.id, delivery.event, delivery.type) == (hook, click.id, "click")
        assert b'"type":"click"' in delivery.body
        assert self.wait(store.dueWebhooks(1e12, 10, frozenset({delivery.id}))) == []
        self.wait(store.webhookFailed(delivery, "HTTP 500", 5e12))
        assert self.wait(store.dueWebhooks(1e12, 10, frozenset())) == []
        [again] = self.wait(store.dueWebhooks(6e12, 10, frozenset()))
        assert again.id == delivery.id and again.attempts == 1
        assert again.uid == delivery.uid  # the same delivery id on every retry
        self.wait(store.webhookSucceeded(again, 3.0))
        assert self.wait(store.dueWebhooks(1e13, 10, frozenset())) == []

    def test_delivery_ids_are_never_used_twice(self, store):
        self.addWebhook(store, "https://hooks.example/in", ["click"])
        seen = set()
        for n in range(6):
            self.wait(store.recordClick(QID, "a@x.test", (), {}, 2.0 + n))
            [delivery] = self.wait(store.dueWebhooks(1e12, 10, frozenset()))
            assert delivery.uid not in seen
            seen.add(delivery.uid)
            self.wait(store.webhookSucceeded(delivery, 3.0 + n))  # its row goes away
        assert len(seen) == 6 and all(len(uid) == 32 for uid in seen)

    def test_a_webhook_that_gives_up_is_disabled(self, store):
        self.addWebhook(store, "https://hooks.example/in", ["click"])
        self.wait(store.recordClick(QID, "a@x.test", (), {}, 2.0))
        self.wait(store.recordClick(QID, "a@x.test", (), {}, 3.0))
        first, second = self.wait(store.dueWebhooks(1e12, 10, frozenset()))
        self.wait(store.webhookFailed(first, "HTTP 500", None))
        assert self.wait(store.dueWebhooks(1e12, 10, frozenset())) == []
        self.wait(store.recordClick(QID, "a@x.test", (), {}, 4.0))
        assert self.wait(store.dueWebhooks(1e12, 10, frozenset())) == []

    def test_purge_forgets_old_events_and_messages(self, store):
        self.wait(store.accepted(message()))  # received at 1000
        self.wait(store.recordLinks(QID, ["https://a.example/"]))
        self.wait(store.record(Event(DELIVERY, QID, "a@x.test", 3000.0, ("x",))))
        assert self.wait(store.purge(2000.0)) == 2
        assert [e.type for e in self.wait(store.events(EventQuery()))] == ["delivery"]
        assert [e.type for e in self.wait(store.events(EventQuery(tag="x")))] == ["delivery"]
        assert self.wait(store.message(QID)) is None
        assert self.wait(store.links(QID)) == []

    def test_ping(self, store):
        assert self.wait(store.ping()) is None

    def test_logins(self, store):
        password = self.addLogin(store, "app")
        self.addLogin(store, "off", enabled=False)
        assert self.wait(store.authenticate("app", password)).name == "app"
        assert self.wait(store.authenticate("app", password + "x")) is None
        assert self.wait(store.authenticate("nobody", password)) is None
        assert self.wait(store.authenticate("off", "off-password")) is None
        assert self.wait(store.count()) == 2

    def test_auth_failures_add_up_and_ban(self, store):
        assert self.wait(store.authBannedUntil("192.0.2.1", 0.0)) is None
        counts = [
            self.wait(store.recordAuthFailure("192.0.2.1", float(t), 600, 3, 60)) for t in range(3)
        ]
        assert counts == [1, 2, 3]
        assert self.wait(store.authBannedUntil("192.0.2.1", 10.0)) == 62.0
        assert self.wait(store.authBannedUntil("192.0.2.2", 10.0)) is None
        assert self.wait(store.authBannedUntil("192.0.2.1", 62.0)) is None
        assert self.wait(store.recordAuthFailure("192.0.2.1", 700.0, 600, 3, 60)) == 1

    def test_auth_attempts_are_counted_before_their_outcome_is_told(self, store):
        def settle(failed, now=0.0, address="192.0.2.1"):
            return self.wait(store.settleAuthAttempt(address, now, 600, 3, 60, failed))

        assert settle(False) == 0  # a success records nothing
        assert [settle(True) for _ in range(3)] == [1, 2, 3]
        # The limit is reached: whatever the check found, refused, recorded nowhere.
        assert settle(False, 1.0) is None
        assert settle(True, 1.0) is None
        assert self.wait(store.authBannedUntil("192.0.2.1", 1.0)) == 60.0
        assert settle(False, 1.0, "192.0.2.2") == 0
        # The ban over, a success is told again (the failures still count).
        assert settle(False, 60.0) == 3
        assert settle(True, 601.0) == 1

    def test_dashboard_sessions_end_one_by_one_or_expire(self, store):
        self.wait(store.startDashboardSession("one", "boss", 100.0, 0.0))
        self.wait(store.startDashboardSession("two", "boss", 100.0, 0.0))
        assert self.wait(store.dashboardSessionLive("one", 50.0))
        self.wait(store.endDashboardSession("one"))
        assert not self.wait(store.dashboardSessionLive("one", 50.0))
        assert self.wait(store.dashboardSessionLive("two", 50.0))  # the user's other one
        assert not self.wait(store.dashboardSessionLive("two", 100.0))  # expired
        assert not self.wait(store.dashboardSessionLive("never", 50.0))
        self.wait(store.endDashboardSession("never"))  # ending twice is no error
        self.wait(store.startDashboardSession("three", "boss", 300.0, 200.0))
        assert self.wait(store.dashboardSessionLive("three", 250.0))

    def test_the_suppression_list(self, store):
        first = self.wait(store.suppress("Reader@Example.ORG", "hard bounce", 10.0, None, QID))
        assert (first.address, first.reason, first.qid) == (
            "Reader@example.org",
            "hard bounce",
            QID,
        )
        self.wait(store.suppress("<later@x.test>", "complaint", 20.0, 100.0, None))
        found = self.wait(store.suppressed(["reader@example.org", "later@x.test", "no@x.test"], 50))
        assert set(found) == {"reader@example.org", "later@x.test"}  # case does not matter
        assert found["later@x.test"].expires == 100.0
        assert set(self.wait(store.suppressed(["later@x.test"], 100.0))) == set()  # expired
        listed = self.wait(store.suppressions(50.0))
        assert [e.address for e in listed] == ["Reader@example.org", "later@x.test"]
        assert [e.address for e in self.wait(store.suppressions(100.0))] == ["Reader@example.org"]
        self.wait(
            store.suppress("reader@example.org", "added by an administrator", 30.0, None, None)
        )
        [again] = self.wait(store.suppressed(["READER@example.org"], 50.0)).values()
        assert again.reason == "added by an administrator"  # the newest entry wins
        self.wait(store.unsuppress("reader@EXAMPLE.org"))
        assert self.wait(store.suppressed(["reader@example.org"], 50.0)) == {}
        with pytest.raises(StoreError, match="is not suppressed"):
            self.wait(store.unsuppress("reader@example.org"))
        with pytest.raises(StoreError, match="is not an email address"):
            self.wait(store.suppress("nobody", "x", 1.0, None, None))

    def test_suppressions_scoped_to_a_login(self, store):
        """A one-click unsubscribe stops one login's mail; bounces stop everyone's."""
        entry = self.wait(
            store.suppress("Reader@Example.ORG", "unsubscribed", 10.0, None, QID, "app")
        )
        assert (entry.login, entry.toJSON()["login"]) == ("app", "app")
        assert set(self.wait(store.suppressed(["reader@example.org"], 50.0, "app"))) == {
            "reader@example.org"
        }
        assert self.wait(store.suppressed(["reader@example.org"], 50.0, "other")) == {}
        assert self.wait(store.suppressed(["reader@example.org"], 50.0)) == {}  # no login
        # Twice is one entry (the newest).
        self.wait(store.suppress("reader@example.org", "unsubscribed", 20.0, None, QID, "app"))
        [only] = self.wait(store.suppressions(50.0))
        assert (only.login, only.created) == ("app", 20.0)
        # A gateway-wide entry for the same address sits beside it, and wins.
        self.wait(store.suppress("reader@example.org", "hard bounce", 30.0, None, None))
        listed = self.wait(store.suppressions(50.0))
        assert [(e.login, e.reason) for e in listed] == [
            ("app", "unsubscribed"),
            (None, "hard bounce"),
        ]
        assert listed[1].toJSON()["login"] is None
        assert [e.login for e in self.wait(store.suppressions(50.0, "app"))] == ["app"]
        assert self.wait(store.suppressions(50.0, "other")) == []
        for login in ("app", "other", None):
            [found] = self.wait(store.suppressed(["reader@example.org"], 50.0, login)).values()
            assert found.reason == "hard bounce"
        # Deleting one scope leaves the other; without a login, every scope goes.
        self.wait(store.unsuppress("reader@example.org", "app"))
        assert [e.login for e in self.wait(store.suppressions(50.0))] == [None]
        with pytest.raises(StoreError, match="is not suppressed for login app"):
            self.wait(store.unsuppress("reader@example.org", "app"))
        self.wait(store.suppress("reader@example.org", "unsubscribed", 40.0, None, QID, "app"))
        self.wait(store.suppress("reader@example.org", "unsubscribed", 40.0, None, QID, "b"))
        self.wait(store.unsuppress("READER@example.org"))
        assert self.wait(store.suppressions(50.0)) == []
        assert self.wait(store.suppressed(["reader@example.org"], 50.0, "app")) == {}

    def test_an_unsubscribe_is_one_event_and_one_scoped_entry(self, store):
        hook = self.addWebhook(store, "https://hooks.example/in", ["unsubscribe"])
        self.wait(store.accepted(message()))
        event = self.wait(
            store.recordUnsubscribe(QID, "A@x.test", "app", ("spring",), {"one_click": True}, 60.0)
        )
        assert (event.type, event.recipient, event.tags) == ("unsubscribe", "A@x.test", ("spring",))
        assert event.details == {"one_click": True, "login": "app"}
        again = store.recordUnsubscribe(QID, "a@x.test", "app", ("spring",), {}, 70.0)
        assert self.wait(again) is None  # posted twice: nothing more
        [entry] = self.wait(store.suppressions(80.0))
        assert (entry.address, entry.login, entry.reason, entry.qid) == (
            "A@x.test",
            "app",
            "unsubscribed",
            QID,
        )
        stored = self.wait(store.events(EventQuery(type="unsubscribe")))
        assert [e.id for e in stored] == [event.id]
        [delivery] = self.wait(store.dueWebhooks(1e12, 10, frozenset()))  # once, not twice
        assert (delivery.webhook.id, delivery.event, delivery.type) == (
            hook,
            event.id,
            "unsubscribe",
        )
        # Mail without a login: the whole gateway's.
        self.wait(store.recordUnsubscribe(QID, "b@x.test", None, (), {}, 90.0))
        assert [e.login for e in self.wait(store.suppressions(95.0))] == ["app", None]

    def test_events_before_their_message_s_record_count_for_its_login(self, store):
        """
        Another worker's writer may record a message after this one wrote
        an event of it (an unsubscribe, a click): that event counts for the
        login it names, and the message's later events for its own.
        """
        self.wait(store.recordUnsubscribe(QID, "a@x.test", "shop", (), {}, 3600 * 10 + 1))
        self.wait(store.recordClick(QID, "a@x.test", (), {}, 3600 * 10 + 2))
        content = b"From: Shop <news@Shop.test>\r\nSubject: x\r\n\r\nbody\r\n"
        self.wait(store.accepted(evolve(message(), content=content, received=3600.0 * 10)))
        self.wait(store.record(Event(DELIVERY, QID, "a@x.test", 3600 * 10 + 5, (), {})))
        self.wait(store.recordClick(QID, "a@x.test", (), {}, 3600 * 10 + 6))
        shop = self.wait(store.stats(StatsQuery(0, 86400, "day", login="shop")))["totals"]
        assert (shop["unsubscribed"], shop["accepted"], shop["delivered"]) == (1, 2, 1)
        assert shop["clicked"] >= 1  # the later click; the earlier one too where counted late
        byDomain = self.wait(store.stats(StatsQuery(0, 86400, "day", domain="shop.test")))
        assert byDomain["totals"]["delivered"] == 1

    def test_hourly_counters(self, store):
        content = b"From: Shop <news@Shop.test>\r\nSubject: x\r\n\r\nbody\r\n"
        self.wait(store.accepted(evolve(message(), content=content, received=3600.0 * 10)))
        self.wait(store.record(Event(DELIVERY, QID, "a@x.test", 3600 * 10 + 5, ("spring",), {})))
        self.wait(store.record(Event(DEFERRAL, QID, "b@x.test", 3600 * 11 + 5, ("spring",), {})))
        self.wait(store.recordClick(QID, "a@x.test", ("spring",), {}, 3600 * 12 + 1))
        self.wait(store.recordBounce(QID, "b@x.test", ("spring",), {"class": "hard"}, 3600 * 13))
        byHour = self.wait(store.stats(StatsQuery(3600 * 10, 3600 * 14)))
        assert [b["counts"] for b in byHour["series"]] == [
            {"accepted": 2, "delivered": 1},
            {"deferred": 1},
            {"clicked": 1},
            {"bounced:hard": 1},
        ]
        assert byHour["series"][0]["timestamp"] == 36000
        assert byHour["totals"]["accepted"] == 2
        byDay = self.wait(store.stats(StatsQuery(0, 86400, "day")))
        assert byDay["series"] == [
            {
                "timestamp": 0,
                "counts": {
                    "accepted": 2,
                    "delivered": 1,
                    "deferred": 1,
                    "clicked": 1,
                    "bounced:hard": 1,
                },
            }
        ]
        filtered = self.wait(store.stats(StatsQuery(0, 86400, "day", login="shop", tag="spring")))
        assert filtered["totals"] == {
            "accepted": 2,
            "delivered": 1,
            "deferred": 1,
            "clicked": 1,
            "bounced:hard": 1,
        }
        assert self.wait(store.stats(StatsQuery(0, 86400, "day", domain="shop.test")))["totals"]
        assert self.wait(store.stats(StatsQuery(0, 86400, "day", domain="x.test")))["totals"] == {}
        assert self.wait(store.stats(StatsQuery(0, 86400, "day", tag="autumn")))["totals"] == {}

    def test_message_search(self, store):
        third = "00000000000000000003"
        for qid, received, login, subject, tags in (
            (QID, 100.0, "shop", "Spring 50% sale", ("spring",)),
            (OTHER, 200.0, "crm", "Your invoice", ("billing",)),
            (third, 300.0, "shop", "Autumn_sale", ()),
        ):
            content = f"From: Shop <news@Shop.test>\r\nSubject: {subject}\r\n\r\nx\r\n".encode()
            accepted = evolve(
                message(qid, tags, ("a@x.test", f"{qid[:2].lower()}@y.test")),
                received=received,
                content=content,
                options=Options(frozenset(), tags, login),
            )
            self.wait(store.accepted(accepted))
        self.wait(store.record(Event(DELIVERY, QID, "a@x.test", 101.0, ("spring",), {})))
        failure = {"code": 550, "permanent": True}
        self.wait(store.record(Event(FAILURE, OTHER, "a@x.test", 201.0, ("billing",), failure)))
        self.wait(store.record(Event(DEFERRAL, third, "a@x.test", 301.0, (), {"code": 451})))
        self.wait(store.recordClick(QID, "a@x.test", ("spring",), {}, 102.0))

        def search(**filters) -> list[str]:
            return [f.record.qid for f in self.wait(store.searchMessages(MessageQuery(**filters)))]

        assert search() == [third, OTHER, QID]
        assert search(login="shop") == [third, QID]
        assert search(subject="50%") == [QID]  # LIKE's wildcards match only themselves
        assert search(subject="g_5") == []  # "_" is not a wildcard either
        assert search(subject="autumn_") == [third]
        assert search(recipient="FE@Y") == [OTHER]
        assert search(sender="shop.TEST") == [third, OTHER, QID]
        assert search(sender="nobody") == []
        assert search(tag="billing") == [OTHER] and search(tag="bill") == []
        assert search(messageid=QID) == [QID]
        assert search(start=150.0, end=300.0) == [OTHER]
        assert search(status="delivered") == [QID]
        assert search(status="failed") == [OTHER]
        assert search(status="deferred") == [third]
        assert search(status="queued") == []
        assert search(limit=2) == [third, OTHER]
        assert search(before=(200.0, OTHER)) == [QID]
        found = self.wait(store.searchMessages(MessageQuery(messageid=QID)))[0]
        assert found.record.subject == "Spring 50% sale"
        assert found.recipients["a@x.test"]["status"] == "delivered"
        assert found.recipients["a@x.test"]["clicks"] == 1
        assert "01@y.test" not in found.recipients  # no outcome yet: queued

    def test_held_mail_is_its_own_status_until_an_outcome(self, store):
        held = evolve(message(OTHER), options=Options(frozenset(), (), "dev", hold=True))
        self.wait(store.accepted(message()))
        self.wait(store.accepted(held))

        def search(status) -> list[str]:
            found = self.wait(store.searchMessages(MessageQuery(status=status)))
            return [f.record.qid for f in found]

        assert search("held") == [OTHER]
        assert search("queued") == [OTHER, QID]  # the spool tells released mail apart
        failure = {"code": 550, "permanent": True, "reason": "deleted"}
        for recipient in ("a@x.test", "b@x.test"):
            self.wait(store.record(Event(FAILURE, OTHER, recipient, 201.0, (), failure)))
        assert search("held") == [] and search("failed") == [OTHER]

    def test_top_links(self, store):
        self.wait(store.accepted(message()))
        for recipient, url, when in (
            ("a@x.test", "https://a.example/", 10.0),
            ("a@x.test", "https://a.example/", 11.0),
            ("b@x.test", "https://a.example/", 12.0),
            ("a@x.test", "https://b.example/", 13.0),
            ("a@x.test", "https://c.example/", 500.0),
        ):
            self.wait(store.recordClick(QID, recipient, ("spring",), {"destination": url}, when))
        self.wait(
            store.recordClick(QID, "a@x.test", ("autumn",), {"destination": "https://d/"}, 14)
        )
        assert self.wait(store.topLinks(LinkQuery(0, 100, "spring"))) == [
            {"url": "https://a.example/", "clicks": 3, "recipients": 2},
            {"url": "https://b.example/", "clicks": 1, "recipients": 1},
        ]
        everything = self.wait(store.topLinks(LinkQuery(0, 1000, limit=2)))
        assert [f["url"] for f in everything] == ["https://a.example/", "https://b.example/"]
        assert self.wait(store.topLinks(LinkQuery(0, 100, "winter"))) == []

    def test_queue_requests(self, store):
        first = self.request(store, QID, "retry")
        second = self.request(store, OTHER, "delete")
        listed = self.wait(store.queueRequests())
        assert [(r.id, r.qid, r.action) for r in listed] == [
            (first.id, QID, "retry"),
            (second.id, OTHER, "delete"),
        ]
        self.wait(store.queueRequestDone(first.id))
        assert [r.id for r in self.wait(store.queueRequests())] == [second.id]
        assert self.wait(store.forgetQueueRequests(second.created + 1)) == 1
        assert self.wait(store.queueRequests()) == []


class TestMemoryStore(StoreContract):
    def makeStore(self, tmp_path):
        self.wait = result
        return MemoryStore(Clock())

    def addLogin(self, store, name, enabled=True):
        store.logins.add(name, f"{name}-password", enabled=enabled)
        return f"{name}-password"

    def addToken(self, store, name, scope="read", login=None):
        return store.addToken(name, scope, login)

    def addWebhook(self, store, url, events):
        return store.addWebhook(url, events).id

    def request(self, store, qid, action):
        return store.requestQueueAction(qid, action)


class TestSQLiteStore(StoreContract):
    def makeStore(self, tmp_path):
        self.path = tmp_path / "db.sqlite"
        reactor = PumpedReactor()
        store = SQLiteStore(self.path, reactor)
        store.start()
        self.wait = reactor.wait
        return store

    def addLogin(self, store, name, enabled=True):
        logins = LoginStore(openDatabase(self.path))
        _, password = logins.create(name, [])
        logins.setEnabled(name, enabled)
        return password

    def addToken(self, store, name, scope="read", login=None):
        return TokenStore(openDatabase(self.path)).create(name, scope, login)[1]

    def addWebhook(self, store, url, events):
        return WebhookStore(openDatabase(self.path)).add(url, events).id

    def request(self, store, qid, action):
        return QueueRequestStore(openDatabase(self.path)).add(qid, action, 1000.0)

    def test_racing_workers_reservations_never_exceed_the_limit(self, store):
        """Four workers' stores, each with its thread, asking at once: the limit, exactly."""
        reactor = PumpedReactor()
        workers = [SQLiteStore(self.path, reactor) for _ in range(4)]
        for worker in workers:
            worker.start()
        try:
            key, other = ("app", "minute", 60), ("app", "day", 0)
            asked = [
                worker.reserveLoginUsage([(key, n % 3 + 1, 50), (other, 1, 1000)])
                for n in range(30)
                for worker in workers
            ]
            answers = [reactor.wait(d) for d in asked]
            granted = sum(answer[key][0] for answer in answers)
            assert granted == 50
            taken = len([answer for answer in answers if answer[key][0]])
            assert sum(answer.get(other, (0,))[0] for answer in answers) == taken
            assert max(answer[key][1] for answer in answers) == 50
            # The refused ones took nothing from the other window either.
            totals = self.wait(store.exchangeLoginUsage({}, [key, other]))
            assert totals == {key: 50, other: taken}
        finally:
            for worker in workers:
                worker.stop()

    def test_racing_workers_auth_failures_are_told_no_more_than_the_limit(self, store):
        """The AUTH and dashboard throttles' count: 20 failures at once on four workers' stores."""
        reactor = PumpedReactor()
        workers = [SQLiteStore(self.path, reactor) for _ in range(4)]
        for worker in workers:
            worker.start()
        try:
            asked = [
                worker.settleAuthAttempt("192.0.2.9", 1.0, 600, 5, 60, True)
                for _ in range(5)
                for worker in workers
            ]
            counts = [reactor.wait(d) for d in asked]
            assert sorted(c for c in counts if c is not None) == [1, 2, 3, 4, 5]
            assert counts.count(None) == 15
        finally:
            for worker in workers:
                worker.stop()

    def test_racing_connections_without_the_write_lock_never_exceed_the_limit(self, store):
        """The statement itself refuses to go over (a writer that took no lock, as a guard)."""
        key, limit = ("app", "hour", 3600), 200
        granted: list[int] = []

        def take() -> None:
            usage = UsageStore(connect(self.path))
            try:
                while True:
                    [(n, total)] = usage.reserve([(key, 3, limit)]).values()
                    assert total <= limit
                    granted.append(n)
            except UsageFull:
                pass
            finally:
                usage.db.close()

        threads = [threading.Thread(target=take) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sum(granted) == limit
        assert self.wait(store.exchangeLoginUsage({}, [key])) == {key: limit}


class TestPostgreSQLStore(TestSQLiteStore):
    """The same store, threads and SQL on PostgreSQL (the tests' own server, a schema each)."""

    @pytest.fixture(autouse=True)
    def usePostgreSQL(self, postgresDatabase):
        self.database = PostgreSQL(postgresDatabase)

    def makeStore(self, tmp_path):
        reactor = PumpedReactor()
        store = SQLiteStore(self.database, reactor)
        store.start()
        self.path = self.database
        self.wait = reactor.wait
        return store
