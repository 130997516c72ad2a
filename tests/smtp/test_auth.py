"""The AUTH throttle and the cred checker."""

from __future__ import annotations

import pytest
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from smtpeter.runtime import clientKey
from smtpeter.smtp import AuthThrottle, ISender, makePortal
from smtpeter.store import (
    IAuthFailureStore,
    MemoryAuthFailures,
    MemoryLoginStore,
    SQLiteStore,
    openDatabase,
)
from smtpeter.testing import PumpedReactor, result


class AuthFailureStoreContract:
    """Every IAuthFailureStore, through the throttle's policy."""

    def makeStore(self, tmp_path):
        raise NotImplementedError

    def wait(self, d):
        return result(d)

    def test_interface(self, tmp_path):
        assert verifyObject(IAuthFailureStore, self.makeStore(tmp_path))

    def test_delays_grow_then_ban_then_forgiven(self, tmp_path):
        clock = Clock()
        throttle = AuthThrottle(clock, store=self.makeStore(tmp_path))

        def fail(address="192.0.2.1"):
            return self.wait(ensureDeferred(throttle.recordFailure(address)))

        def banned(address="192.0.2.1"):
            return self.wait(ensureDeferred(throttle.isBanned(address)))

        assert [fail() for _ in range(4)] == [2, 4, 8, 15]
        assert not banned()
        fail()
        assert banned() and not banned("192.0.2.2")
        clock.advance(600)
        assert not banned()
        clock.advance(1)
        assert fail() == 2  # the window has passed

    def test_a_second_throttle_on_the_same_store_counts_the_same_failures(self, tmp_path):
        # Two worker processes: attempts spread over both are counted once.
        clock = Clock()
        store = self.makeStore(tmp_path)
        first, second = AuthThrottle(clock, store=store), AuthThrottle(clock, store=store)
        delays = [
            self.wait(ensureDeferred(throttle.recordFailure("192.0.2.1")))
            for throttle in (first, second, first, second, first)
        ]
        assert delays == [2, 4, 8, 15, 15]
        assert self.wait(ensureDeferred(second.isBanned("192.0.2.1")))

    def test_no_more_failures_are_told_than_the_limit_however_many_come_at_once(self, tmp_path):
        clock = Clock()
        store = self.makeStore(tmp_path)
        # Two workers' throttles on one store, 40 attempts at once; the
        # right password comes last.
        first, second = AuthThrottle(clock, store=store), AuthThrottle(clock, store=store)
        pending = [
            ensureDeferred((first, second)[i % 2].settle("192.0.2.1", succeeded=i == 39))
            for i in range(40)
        ]
        delays = [self.wait(d) for d in pending]
        assert delays[:5] == [2, 4, 8, 15, 15]
        assert delays[5:] == [None] * 35  # the right password too
        assert self.wait(ensureDeferred(first.isBanned("192.0.2.1")))

    def test_right_passwords_at_once_take_no_place(self, tmp_path):
        clock = Clock()
        store = self.makeStore(tmp_path)
        throttle = AuthThrottle(clock, store=store)
        pending = [ensureDeferred(throttle.settle("192.0.2.1", True)) for _ in range(40)]
        assert [self.wait(d) for d in pending] == [0.0] * 40
        assert self.wait(ensureDeferred(throttle.settle("192.0.2.1", False))) == 2

    def test_an_ipv6_64_and_an_ipv4_mapped_address_are_each_one_client(self, tmp_path):
        throttle = AuthThrottle(Clock(), store=self.makeStore(tmp_path))

        def settle(address, scope=""):
            return self.wait(ensureDeferred(throttle.settle(address, False, scope=scope)))

        # Five failures from five addresses of one /64 ban the whole /64.
        for i in range(1, 6):
            settle(f"2001:db8:1:2::{i:x}")
        assert self.wait(ensureDeferred(throttle.isBanned("2001:db8:1:2:ffff::9")))
        assert not self.wait(ensureDeferred(throttle.isBanned("2001:db8:1:3::1")))
        # An IPv4 address is one client whether it comes mapped or not.
        for address in ("192.0.2.5", "::ffff:192.0.2.5") * 2 + ("::FFFF:c000:205",):
            settle(address)
        assert self.wait(ensureDeferred(throttle.isBanned("192.0.2.5")))
        # The dashboard's log-ins count apart from SMTP's.
        assert not self.wait(ensureDeferred(throttle.isBanned("192.0.2.5", scope="dashboard")))
        for _ in range(5):
            settle("::ffff:192.0.2.6", scope="dashboard")
        assert self.wait(ensureDeferred(throttle.isBanned("192.0.2.6", scope="dashboard")))
        assert not self.wait(ensureDeferred(throttle.isBanned("192.0.2.6")))


@pytest.mark.parametrize(
    "host, key",
    [
        ("192.0.2.1", "192.0.2.1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::ffff:c000:201", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::1", "::/64"),
        ("/tmp/smtp.sock", "/tmp/smtp.sock"),
        ("", ""),
    ],
)
def test_client_key(host, key):
    assert clientKey(host) == key


class TestMemoryAuthFailures(AuthFailureStoreContract):
    def makeStore(self, tmp_path):
        return MemoryAuthFailures()

    def test_many_addresses_do_not_grow_memory_without_bound(self, tmp_path):
        store = MemoryAuthFailures(maxTracked=100)
        for i in range(100):
            store.recordAuthFailure(f"10.0.{i // 256}.{i % 256}", 0.0, 600, 5, 600)
        store.recordAuthFailure("192.0.2.9", 601.0, 600, 5, 600)
        assert len(store._failures) == 1


class TestSQLiteAuthFailures(AuthFailureStoreContract):
    """The database, through its real writer and reader threads."""

    @pytest.fixture(autouse=True)
    def logs(self):
        self.opened = []
        yield
        for log in self.opened:
            log.stop()

    def makeStore(self, tmp_path):
        reactor = PumpedReactor()
        log = SQLiteStore(tmp_path / "db.sqlite", reactor)
        log.start()
        self.opened.append(log)
        self.wait = reactor.wait
        return log

    def test_only_what_still_counts_is_kept(self, tmp_path):
        log = self.makeStore(tmp_path)
        for i in range(100):
            self.wait(log.recordAuthFailure(f"10.0.0.{i}", 0.0, 600, 1, 600))
        self.wait(log.recordAuthFailure("192.0.2.9", 1201.0, 600, 5, 600))
        db = openDatabase(tmp_path / "db.sqlite")
        assert db.execute("SELECT count(*) FROM auth_failures").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM auth_bans").fetchone() == (0,)


def test_portal_gives_the_login_and_its_features():
    store = MemoryLoginStore()
    store.add("app", "pw", ["trackclicks"])
    portal = makePortal(store)
    interface, avatar, _ = result(portal.login(UsernamePassword(b"app", b"pw"), None, ISender))
    assert interface is ISender
    assert (avatar.login, avatar.features) == ("app", {"trackclicks"})
    failure = []
    portal.login(UsernamePassword(b"app", b"no"), None, ISender).addErrback(failure.append)
    assert failure[0].check(UnauthorizedLogin)
