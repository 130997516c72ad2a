"""The AUTH throttle and the cred checker."""

from __future__ import annotations

from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.task import Clock

from smtpeter.smtp import AuthThrottle, ISender, makePortal
from smtpeter.store import MemoryLoginStore

from ..queue.test_spool import result


def test_delays_grow_then_ban_then_forgiven():
    clock = Clock()
    throttle = AuthThrottle(clock)
    assert [throttle.recordFailure("192.0.2.1") for _ in range(4)] == [2, 4, 8, 15]
    assert not throttle.isBanned("192.0.2.1")
    throttle.recordFailure("192.0.2.1")
    assert throttle.isBanned("192.0.2.1") and not throttle.isBanned("192.0.2.2")
    clock.advance(600)
    assert not throttle.isBanned("192.0.2.1")
    clock.advance(1)
    assert throttle.recordFailure("192.0.2.1") == 2  # the window has passed


def test_many_addresses_do_not_grow_memory_without_bound():
    clock = Clock()
    throttle = AuthThrottle(clock, maxTracked=100)
    for i in range(100):
        throttle.recordFailure(f"10.0.{i // 256}.{i % 256}")
    clock.advance(601)
    throttle.recordFailure("192.0.2.9")
    assert len(throttle._failures) == 1


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
