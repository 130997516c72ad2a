"""The delivery agent's pool of parked connections."""

from __future__ import annotations

from datetime import timedelta

from attrs import define
from twisted.internet.task import Clock

from smtpeter.delivery._agent import DeliveryAgent, _Once
from smtpeter.delivery._router import Hop, Router


@define
class ParkedSession:
    usable: bool = True
    messages: int = 1
    quitted: bool = False

    async def quit(self) -> None:
        self.quitted = True


HOP = Hop("relay.test", 25, True)


def agent() -> tuple[DeliveryAgent, Clock]:
    clock = Clock()
    return DeliveryAgent(clock, Router(None, HOP), "gw.test", idleTime=timedelta(seconds=10)), clock


def test_parked_connections_close_after_idle_time_under_one_timer():
    pool, clock = agent()
    first, second = ParkedSession(), ParkedSession()
    pool._park(HOP, first)
    clock.advance(4)
    pool._park(HOP, second)
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(5.9)
    assert not first.quitted
    clock.advance(0.1)
    assert first.quitted and not second.quitted
    clock.advance(3.9)
    assert not second.quitted
    clock.advance(0.1)
    assert second.quitted and not clock.getDelayedCalls()


def test_a_connection_taken_again_is_not_closed_and_the_last_parked_is_taken():
    pool, clock = agent()
    old, recent = ParkedSession(), ParkedSession()
    pool._park(HOP, old)
    clock.advance(1)
    pool._park(HOP, recent)
    assert pool._takeIdle(HOP) is recent
    clock.advance(20)
    assert old.quitted and not recent.quitted
    assert pool._takeIdle(HOP) is None
    pool._park(HOP, recent)  # parked again later: a timer of its own
    clock.advance(10)
    assert recent.quitted


def test_stop_closes_what_is_parked_and_the_timer():
    pool, clock = agent()
    session = ParkedSession()
    pool._park(HOP, session)
    pool.stop()
    assert session.quitted and not clock.getDelayedCalls()


def test_a_connections_factory_gives_its_protocol_once_and_keeps_no_reference_to_it():
    protocol = object()
    factory = _Once(protocol)
    assert factory.buildProtocol(None) is protocol
    # A second connection (another address tried at once) gets none, and
    # the connection's protocol is not kept alive by its factory.
    assert factory.buildProtocol(None) is None
    assert not factory.noisy
