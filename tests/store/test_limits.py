"""Per-login limits and sender domains: their words, the logins' columns, the usage table."""

from __future__ import annotations

import calendar

import pytest
from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from smtpeter.events import Event
from smtpeter.store import (
    EVENT_TYPES,
    EventQuery,
    ILoginUsageStore,
    Invalid,
    Limit,
    LoginStore,
    MemoryLoginUsage,
    SQLiteStore,
    UsageStore,
    inSenderDomains,
    openDatabase,
)
from smtpeter.store._limits import checkSenderDomains, parseLimit, window
from smtpeter.testing import PumpedReactor

NOON = calendar.timegm((2026, 12, 7, 12, 30, 15))


@pytest.fixture
def db(tmp_path):
    return openDatabase(tmp_path / "db.sqlite")


def test_limits_parse_and_refuse_with_the_field_named():
    assert parseLimit("100/minute", "rate", ("minute", "hour")) == Limit(100, "minute")
    assert parseLimit(" 5/HOUR ", "rate", ("minute", "hour")) == Limit(5, "hour")
    assert parseLimit("none", "rate", ("minute", "hour")) is None
    for bad in ("5/day", "0/minute", "-1/minute", "x/minute", "5", "1e3/minute", ""):
        with pytest.raises(Invalid) as error:
            parseLimit(bad, "rate", ("minute", "hour"))
        assert error.value.field == "rate" and "N/minute|N/hour" in error.value.reason


def test_windows_are_fixed_and_utc():
    assert window("minute", NOON) == (NOON - 15, NOON + 45)
    assert window("hour", NOON) == (NOON - 1815, NOON + 1785)
    day = calendar.timegm((2026, 12, 7, 0, 0, 0))
    assert window("day", NOON) == (day, day + 86400)
    assert window("month", NOON) == (
        calendar.timegm((2026, 12, 1, 0, 0, 0)),
        calendar.timegm((2027, 1, 1, 0, 0, 0)),
    )
    feb = calendar.timegm((2028, 2, 29, 23, 59, 59))
    assert window("month", feb)[1] == calendar.timegm((2028, 3, 1, 0, 0, 0))


def test_sender_domains_include_subdomains_and_not_lookalikes():
    domains = ("example.com",)
    assert inSenderDomains("a@example.com", domains)
    assert inSenderDomains("a@EXAMPLE.com.", domains)
    assert inSenderDomains("a@mail.example.com", domains)
    assert inSenderDomains('"x@evil.test"@example.com', domains)
    for outside in (
        "a@example.com.evil.test",
        "a@evil-example.com",
        "a@notexample.com",
        "a@example.co",
        "example.com",
        "@example.com",
        "a@example.com@evil.test",
    ):
        assert not inSenderDomains(outside, domains), outside
    assert checkSenderDomains(["Example.COM.", "example.com", "shop.test"]) == (
        "example.com",
        "shop.test",
    )
    assert checkSenderDomains(["example.com", "none"]) == ()
    with pytest.raises(Invalid) as error:
        checkSenderDomains(["not a domain"])
    assert error.value.field == "sender_domains"


def test_a_login_keeps_its_limits_and_domains(db):
    logins = LoginStore(db)
    record, _ = logins.create("app", [], rate="10/minute", senderDomains=["example.com"])
    assert record.rate == Limit(10, "minute") and record.quota is None
    assert record.senderDomains == ("example.com",)
    logins.setLimits("app", quota="1000/month", overQuota="hold")
    got = logins.get("app")
    assert (got.rate, got.quota, got.overQuota) == (
        Limit(10, "minute"),
        Limit(1000, "month"),
        "hold",
    )
    assert got.toJSON()["rate"] == "10/minute" and got.toJSON()["quota"] == "1000/month"
    logins.setLimits("app", rate="none", senderDomains=["none"])
    got = logins.get("app")
    assert got.rate is None and got.quota == Limit(1000, "month") and got.senderDomains == ()


def test_bad_limits_make_no_login(db):
    logins = LoginStore(db)
    for bad in ({"rate": "10/day"}, {"quota": "5/minute"}, {"overQuota": "drop"}):
        with pytest.raises(Invalid):
            logins.create("app", [], **bad)
        assert logins.get("app") is None
    logins.create("app", [])
    with pytest.raises(Invalid) as error:
        logins.setLimits("app", overQuota="drop")
    assert error.value.field == "over_quota"


def test_usage_adds_up_across_connections_and_is_purged(db, tmp_path):
    other = UsageStore(openDatabase(tmp_path / "db.sqlite"))
    usage = UsageStore(db)
    key = ("app", "minute", NOON - 15)
    assert usage.exchange({key: 3}, []) == {key: 3}
    assert other.exchange({key: 2}, [("app", "day", 0)]) == {key: 5, ("app", "day", 0): 0}
    shown = usage.usage("app", {"rate": Limit(10, "minute"), "quota": None}, NOON)
    assert shown == {
        "rate": {"limit": 10, "period": "minute", "used": 5, "resets": "2026-12-07T12:31:00.000Z"},
        "quota": None,
    }
    assert usage.purge(NOON + 39 * 86400) == 0
    assert usage.purge(NOON + 41 * 86400) == 1


def test_the_usage_stores_provide_the_interface(tmp_path):
    assert verifyObject(ILoginUsageStore, MemoryLoginUsage())
    store = SQLiteStore(tmp_path / "db.sqlite", Clock())
    assert verifyObject(ILoginUsageStore, store)


def test_two_workers_stores_exchange_through_the_database(tmp_path):
    reactor = PumpedReactor()
    one = SQLiteStore(tmp_path / "db.sqlite", reactor)
    two = SQLiteStore(tmp_path / "db.sqlite", reactor)
    one.start()
    two.start()
    try:
        key = ("app", "day", 0)
        assert reactor.wait(one.exchangeLoginUsage({}, [key])) == {key: 0}
        assert reactor.wait(one.exchangeLoginUsage({key: 4}, [])) == {key: 4}
        assert reactor.wait(two.exchangeLoginUsage({key: 1}, [key])) == {key: 5}
        assert reactor.wait(one.exchangeLoginUsage({}, [key])) == {key: 5}
    finally:
        one.stop()
        two.stop()


def test_a_refused_event_is_kept_and_listed_by_type(tmp_path):
    reactor = PumpedReactor()
    store = SQLiteStore(tmp_path / "db.sqlite", reactor)
    store.start()
    try:
        details = {"reason": "rate", "login": "app", "code": 451, "status": "4.7.1"}
        reactor.wait(store.record(Event("refused", "", "to@x.test", NOON, (), details)))
        [event] = reactor.wait(store.events(EventQuery(type="refused")))
        assert event.toJSON()["reason"] == "rate" and event.recipient == "to@x.test"
        assert "refused" in EVENT_TYPES
    finally:
        store.stop()
