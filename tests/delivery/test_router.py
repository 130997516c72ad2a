"""
Routing: smarthost, MX order, implicit MX, null MX, DNS failures (twisted.names answers),
and the addresses direct delivery may connect to.
"""

from __future__ import annotations

import ipaddress

import pytest
from twisted.internet.defer import ensureDeferred
from twisted.internet.error import DNSLookupError
from twisted.names import error as dnsError

from smtpeter.delivery import Hop, Router, deliveryPolicy
from smtpeter.delivery._router import NoAllowedAddress, RouteError
from smtpeter.testing import FakeResolver, mx, result

#: The documentation networks (RFC 5737, RFC 3849) are not public: allowed, as an
#: operator allows their own networks with --delivery-allow-network.
DOCUMENTATION = deliveryPolicy(
    [ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("2001:db8::/32")]
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
    router = Router(resolver, destinations=DOCUMENTATION)
    assert result(ensureDeferred(router.addresses(Hop("mx.test")))) == [
        "2001:db8::1",
        "192.0.2.1",
    ]


def test_address_literal_domain():
    router = Router(FakeResolver(), destinations=DOCUMENTATION)
    assert hops(router, "[192.0.2.9]") == [Hop("192.0.2.9")]
    assert hops(router, "[IPv6:2001:db8::9]") == [Hop("2001:db8::9")]


def addresses(router, hop):
    return result(ensureDeferred(router.addresses(hop)))


@pytest.mark.parametrize(
    "domain",
    [
        "[127.0.0.1]",
        "[IPv6:::1]",
        "[0.0.0.0]",
        "[169.254.169.254]",
        "[10.1.2.3]",
        "[IPv6:::ffff:127.0.0.1]",
        "[IPv6:fe80::1]",
        "[224.0.0.1]",
        "[240.0.0.1]",
    ],
)
def test_a_literal_that_is_not_public_fails_at_once(domain):
    with pytest.raises(RouteError) as error:
        hops(Router(FakeResolver()), domain)
    outcome = error.value.outcome
    assert (outcome.status, outcome.enhanced) == ("permanent", "5.4.4")
    assert outcome.text == (
        f"{domain.lower()} is not a public address; this gateway delivers only to public hosts"
    )


def test_a_public_literal_and_an_allowed_one_are_routed():
    assert hops(Router(FakeResolver()), "[93.184.215.14]") == [Hop("93.184.215.14")]
    allowed = Router(
        FakeResolver(), destinations=deliveryPolicy([ipaddress.ip_network("127.0.0.0/8")])
    )
    assert hops(allowed, "[127.0.0.1]") == [Hop("127.0.0.1")]
    with pytest.raises(RouteError):
        hops(allowed, "[IPv6:::1]")  # 127.0.0.0/8 allows no IPv6 address


def test_only_the_allowed_addresses_of_a_host_are_returned():
    resolver = FakeResolver(
        a={"mx.test": ["10.0.0.5", "93.184.215.14", "169.254.169.254"]},
        aaaa={"mx.test": ["::1", "2a00:1450:4001:80b::201a", "::ffff:127.0.0.1"]},
    )
    assert addresses(Router(resolver), Hop("mx.test")) == [
        "2a00:1450:4001:80b::201a",
        "93.184.215.14",
    ]
    allowed = Router(resolver, destinations=deliveryPolicy([ipaddress.ip_network("10.0.0.0/8")]))
    assert addresses(allowed, Hop("mx.test")) == [
        "2a00:1450:4001:80b::201a",
        "10.0.0.5",
        "93.184.215.14",
    ]


def test_a_host_with_only_internal_addresses_has_none_to_connect_to():
    resolver = FakeResolver(
        a={"mx.test": ["127.0.0.1", "192.168.1.1"]}, aaaa={"mx.test": ["fd00::1"]}
    )
    with pytest.raises(NoAllowedAddress):
        addresses(Router(resolver), Hop("mx.test"))
    with pytest.raises(NoAllowedAddress):
        addresses(Router(resolver), Hop("10.0.0.1"))  # an MX record naming an address
    with pytest.raises(DNSLookupError):  # no address at all: a DNS problem, not the policy
        addresses(Router(resolver), Hop("unknown.test"))


def test_the_smarthost_is_always_allowed():
    relay = Hop("127.0.0.1", 2525, smarthost=True)
    router = Router(FakeResolver(), relay)
    assert hops(router, "[127.0.0.1]") == [relay]
    assert addresses(router, relay) == ["127.0.0.1"]
    resolver = FakeResolver(a={"smart.internal": ["10.0.0.2"]})
    assert addresses(Router(resolver), Hop("smart.internal", 25, smarthost=True)) == ["10.0.0.2"]
