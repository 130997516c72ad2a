"""How often one tracked link is recorded (smtpeter.web._replays)."""

from __future__ import annotations

from twisted.internet.task import Clock

from smtpeter.web._replays import Replays


def test_each_key_up_to_the_limit_in_each_minute():
    clock = Clock()
    replays = Replays(clock, 2)
    assert [replays.recorded("a") for _ in range(3)] == [True, True, False]
    assert replays.recorded("b")
    clock.advance(60)
    assert replays.recorded("a")


def test_the_keys_remembered_are_bounded_the_least_recent_forgotten():
    replays = Replays(Clock(), 1, size=2)
    assert replays.recorded("a") and replays.recorded("b")
    assert not replays.recorded("a")  # a is now the most recent
    assert replays.recorded("c")  # b forgotten
    assert len(replays._seen) == 2
    assert replays.recorded("b") and not replays.recorded("c")


def test_0_is_no_limit():
    replays = Replays(Clock(), 0)
    assert all(replays.recorded("a") for _ in range(1000)) and not replays._seen
