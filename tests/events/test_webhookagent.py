"""
The webhook client: it connects only to addresses the policy allows, after
resolving once (so DNS rebinding cannot turn it inward), and a 2xx answer is
a delivery however its body ends.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.web.error import SchemeNotSupported
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface.verify import verifyObject

from smtpeter.events import Destinations, RefusedDestination, parseNetwork, webhookAgent
from smtpeter.events._webhookagent import GuardedEndpoint, GuardedEndpoints
from smtpeter.events._webhooks import post

from .conftest import Hook, _ensure, _outcome, _result


class Resolver:
    """Answers each lookup with the next list of addresses, and counts lookups."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.lookups: list[str] = []

    def resolveHostName(
        self, receiver, hostName, portNumber=0, addressTypes=None, transportSemantics="TCP"
    ):
        self.lookups.append(hostName)
        receiver.resolutionBegan(None)
        for host in self.answers.pop(0):
            kind = IPv6Address if ":" in host else IPv4Address
            receiver.addressResolved(kind("TCP", host, portNumber))
        receiver.resolutionComplete()
        return receiver


def reactorAnswering(*answers: list[str]) -> MemoryReactorClock:
    reactor = MemoryReactorClock()
    reactor.nameResolver = Resolver(*answers)
    return reactor


def connect(reactor, destinations=None, host="hooks.example.com", port=443):
    endpoint = GuardedEndpoint(reactor, destinations or Destinations(), host, port, 10)
    return endpoint.connect(Factory.forProtocol(Protocol))


def connected(reactor) -> list[tuple[str, int]]:
    return [(host, port) for host, port, *_ in reactor.tcpClients]


def test_a_name_resolving_to_loopback_is_refused_without_connecting():
    reactor = reactorAnswering(["127.0.0.1"])
    d = connect(reactor)
    reason = _failure(d)
    assert reason.check(RefusedDestination)
    assert str(reason.value) == (
        "destination 127.0.0.1 is not allowed (loopback; see --webhook-allow-network)"
    )
    assert connected(reactor) == []


def test_only_the_allowed_addresses_of_a_name_are_connected_to():
    reactor = reactorAnswering(["127.0.0.1", "10.0.0.7", "93.184.215.14", "::1"])
    connect(reactor)
    reactor.advance(1)  # happy eyeballs would try the next address now: there is none
    assert connected(reactor) == [("93.184.215.14", 443)]


def test_dns_rebinding_each_connection_connects_to_what_it_resolved_and_checked():
    reactor = reactorAnswering(["93.184.215.14"], ["127.0.0.1"])
    connect(reactor)
    assert connected(reactor) == [("93.184.215.14", 443)]
    assert _failure(connect(reactor)).check(RefusedDestination)
    assert connected(reactor) == [("93.184.215.14", 443)]  # nothing more
    assert reactor.nameResolver.lookups == ["hooks.example.com"] * 2  # once per connection


def test_an_allowed_network_is_connected_to():
    reactor = reactorAnswering(["127.0.0.1"])
    connect(reactor, Destinations([parseNetwork("127.0.0.0/8")]), "localhost", 8080)
    assert connected(reactor) == [("127.0.0.1", 8080)]


def test_no_address_at_all_is_a_lookup_failure_not_a_refusal():
    reason = _failure(connect(reactorAnswering([])))
    assert not reason.check(RefusedDestination) and "no address for" in str(reason.value)


def test_endpoints_for_http_and_https_only():
    from twisted.web.client import URI

    factory = GuardedEndpoints(MemoryReactorClock(), Destinations(), 10)
    assert verifyObject(IAgentEndpointFactory, factory)
    assert isinstance(factory.endpointForURI(URI.fromBytes(b"http://h/")), GuardedEndpoint)
    tls = factory.endpointForURI(URI.fromBytes(b"https://h/"))
    assert tls._wrappedEndpoint.host == "h" and tls._wrappedEndpoint.port == 443
    try:
        factory.endpointForURI(URI.fromBytes(b"ftp://h/"))
    except SchemeNotSupported:
        pass
    else:
        raise AssertionError("ftp was given an endpoint")


def test_post_to_an_odd_spelling_of_loopback_reports_the_refusal_and_no_status():
    reactor = reactorAnswering(["127.0.0.1"])  # what getaddrinfo makes of 2130706433
    agent = webhookAgent(reactor, Destinations(), 10)
    d = _ensure(post(agent, reactor, Hook("http://2130706433:6379/"), "test", b"{}", "u", 10))
    assert _result(d) == (
        None,
        "destination 127.0.0.1 is not allowed (loopback; see --webhook-allow-network)",
    )
    assert connected(reactor) == []


def _failure(d) -> Failure:
    outcome = _outcome(d)
    assert isinstance(outcome, Failure), outcome
    return outcome
