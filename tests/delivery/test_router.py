"""Routing: smarthost, MX order, implicit MX, null MX, DNS failures (twisted.names answers)."""

from __future__ import annotations

import pytest
from twisted.internet.defer import ensureDeferred, fail, succeed
from twisted.names import dns
from twisted.names import error as dnsError

from smtpeter.delivery import Hop, Router
from smtpeter.delivery._router import RouteError

from ..queue.test_spool import result


def mx(name, preference, exchange):
    return dns.RRHeader(name, dns.MX, payload=dns.Record_MX(preference, exchange))


class FakeResolver:
    def __init__(self, mx=None, a=None, aaaa=None, error=None):
        self.mx, self.a, self.aaaa, self.error = mx or {}, a or {}, aaaa or {}, error

    def lookupMailExchange(self, name):
        if self.error is not None:
            return fail(self.error)
        return succeed((self.mx.get(name, []), [], []))

    def lookupAddress(self, name):
        return succeed(
            (
                [
                    dns.RRHeader(name, dns.A, payload=dns.Record_A(ip))
                    for ip in self.a.get(name, [])
                ],
                [],
                [],
            )
        )

    def lookupIPV6Address(self, name):
        return succeed(
            (
                [
                    dns.RRHeader(name, dns.AAAA, payload=dns.Record_AAAA(ip))
                    for ip in self.aaaa.get(name, [])
                ],
                [],
                [],
            )
        )


def hops(router, domain):
    return result(ensureDeferred(router.hops(domain)))


def test_smarthost_takes_everything():
    relay = Hop("smart.test", 587, smarthost=True)
    router = Router(FakeResolver(), relay)
    assert hops(router, "anything.example") == [relay]
    assert router.routeKey("a.example") == router.routeKey("b.example")


def test_mx_in_preference_order():
    resolver = FakeResolver(
        mx={
            "example.org": [
                mx("example.org", 20, "mx2.example.org"),
                mx("example.org", 10, "mx1.example.org"),
            ]
        }
    )
    assert hops(Router(resolver), "Example.ORG") == [Hop("mx1.example.org"), Hop("mx2.example.org")]


def test_no_mx_falls_back_to_the_domain_itself():
    assert hops(Router(FakeResolver()), "example.org") == [Hop("example.org")]


def test_null_mx_is_a_permanent_failure():
    resolver = FakeResolver(mx={"example.org": [mx("example.org", 0, "")]})
    with pytest.raises(RouteError) as error:
        hops(Router(resolver), "example.org")
    assert (error.value.outcome.status, error.value.outcome.enhanced) == ("permanent", "5.1.10")


def test_nonexistent_domain_is_permanent_and_timeout_transient():
    with pytest.raises(RouteError) as error:
        hops(Router(FakeResolver(error=dnsError.DNSNameError())), "nx.example")
    assert error.value.outcome.status == "permanent"
    with pytest.raises(RouteError) as error:
        hops(Router(FakeResolver(error=dnsError.DNSServerError())), "slow.example")
    assert (error.value.outcome.status, error.value.outcome.enhanced) == ("transient", "4.4.3")


def test_addresses_prefer_ipv6_then_ipv4():
    resolver = FakeResolver(a={"mx.test": ["192.0.2.1"]}, aaaa={"mx.test": ["2001:db8::1"]})
    assert result(ensureDeferred(Router(resolver).addresses(Hop("mx.test")))) == [
        "2001:db8::1",
        "192.0.2.1",
    ]


def test_address_literal_domain():
    assert hops(Router(FakeResolver()), "[192.0.2.9]") == [Hop("192.0.2.9")]
