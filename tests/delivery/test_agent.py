"""The delivery agent: its pool of parked connections, and the MX hosts it skips."""

from __future__ import annotations

from datetime import timedelta

from attrs import define
from twisted.internet.defer import ensureDeferred
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from smtpeter.delivery._agent import DeliveryAgent, _Once
from smtpeter.delivery._router import Hop, Router
from smtpeter.message import Envelope, Recipient
from smtpeter.testing import FakeResolver, mx, result


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


def _deliverTo(resolver, domain="example.org"):
    """Deliver to C{someone@domain} by MX (no smarthost): the outcome, and the reactor."""
    reactor = MemoryReactorClock()
    pool = DeliveryAgent(reactor, Router(resolver), "gw.test")
    envelope = Envelope("a@example.com", (Recipient(f"someone@{domain}"),))
    d = ensureDeferred(
        pool._deliverGroup(domain, envelope, list(envelope.recipients), b"Subject: x\r\n\r\nx\r\n")
    )
    return d, reactor


def test_mx_hosts_without_a_public_address_fail_permanently_with_no_connection():
    resolver = FakeResolver(
        mx={
            "example.org": [
                mx("example.org", 10, "mx1.example.org"),
                mx("example.org", 20, "mx2.example.org"),
            ]
        },
        a={"mx1.example.org": ["10.0.0.1"], "mx2.example.org": ["127.0.0.1"]},
        aaaa={"mx2.example.org": ["::1"]},
    )
    d, reactor = _deliverTo(resolver)
    [outcome] = result(d)
    assert reactor.tcpClients == []
    assert (outcome.status, outcome.code, outcome.enhanced) == ("permanent", 550, "5.4.4")
    assert outcome.text == "no public address for the MX hosts of example.org"


def test_an_internal_mx_is_skipped_and_only_the_public_address_connected_to():
    resolver = FakeResolver(
        mx={
            "example.org": [
                mx("example.org", 10, "inside.example.org"),
                mx("example.org", 20, "mx.example.org"),
            ]
        },
        a={
            "inside.example.org": ["169.254.169.254"],
            "mx.example.org": ["10.0.0.9", "93.184.215.14"],
        },
    )
    d, reactor = _deliverTo(resolver)
    assert [(host, port) for host, port, *_ in reactor.tcpClients] == [("93.184.215.14", 25)]
    factory = reactor.tcpClients[0][2]
    factory.clientConnectionFailed(None, Failure(ConnectionRefusedError("refused")))
    [outcome] = result(d)
    # A public host that cannot be reached now: retried later, as any such failure.
    assert (outcome.status, outcome.enhanced) == ("transient", "4.4.1")
    assert "cannot connect to mx.example.org:25" in outcome.text
