"""Who sent a request behind a reverse proxy (smtpeter.web._proxies)."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from twisted.internet.address import UNIXAddress
from twisted.internet.task import Clock
from twisted.logger import formatEvent, globalLogPublisher
from twisted.web.http import combinedLogFormatter
from twisted.web.resource import Resource
from twisted.web.test.requesthelper import DummyRequest

from smtpeter.web import BoundedSite, TrustedProxies
from smtpeter.web._proxies import MAX_HOPS, accessLogLine

from .conftest import connect

PROXIES = TrustedProxies((ip_network("10.0.0.0/8"), ip_network("2001:db8::/32")))


@pytest.mark.parametrize(
    "peer, forwarded, client",
    [
        # Not a proxy: its own address, whatever it writes.
        ("192.0.2.7", [b"203.0.113.9"], "192.0.2.7"),
        # A proxy: the address it appended, the rightmost.
        ("10.0.0.1", [b"203.0.113.9"], "203.0.113.9"),
        ("10.0.0.1", [b"198.51.100.1, 203.0.113.9"], "203.0.113.9"),
        ("10.0.0.1", [b"198.51.100.1", b"203.0.113.9"], "203.0.113.9"),  # two fields
        # A chain of proxies: the first hop from the right that is none.
        ("10.0.0.1", [b"203.0.113.9, 10.2.3.4, 10.9.9.9"], "203.0.113.9"),
        # Every hop a proxy: the leftmost.
        ("10.0.0.1", [b"10.1.1.1, 10.2.2.2"], "10.1.1.1"),
        # No header, or one that names nobody: the proxy itself.
        ("10.0.0.1", [], "10.0.0.1"),
        ("10.0.0.1", [b"unknown"], "10.0.0.1"),
        ("10.0.0.1", [b"203.0.113.9, _hidden"], "10.0.0.1"),
        # Ports, brackets, IPv6, an IPv4-mapped peer.
        ("10.0.0.1", [b"203.0.113.9:51234"], "203.0.113.9"),
        ("10.0.0.1", [b"[2001:db9::7]:443"], "2001:db9::7"),
        ("2001:db8::1", [b"2001:db9::7"], "2001:db9::7"),
        ("::ffff:10.0.0.1", [b"203.0.113.9"], "203.0.113.9"),
        ("10.0.0.1", [b"::ffff:203.0.113.9"], "203.0.113.9"),
    ],
)
def test_the_client_is_what_a_trusted_proxy_says(peer, forwarded, client):
    assert PROXIES.client(peer, forwarded) == client


def test_a_proxy_named_as_an_ipv4_mapped_address_is_trusted():
    """
    A dual-stack listener logs an IPv4 peer as ::ffff:10.0.0.5; named so,
    the proxy was never trusted (its peers are compared as IPv4).
    """
    named = TrustedProxies((ip_network("::ffff:10.0.0.5"), ip_network("::ffff:10.1.0.0/112")))
    for peer in ("::ffff:10.0.0.5", "10.0.0.5", "10.1.2.3"):
        assert named.trusts(peer) and named.client(peer, [b"203.0.113.9"]) == "203.0.113.9"
    assert not named.trusts("10.0.0.6") and not named.trusts("10.2.0.1")


def test_a_long_chain_is_read_only_so_far():
    chain = ", ".join(["203.0.113.9"] + ["10.0.0.2"] * (MAX_HOPS + 5))
    assert PROXIES.client("10.0.0.1", [chain.encode()]) == "10.0.0.2"


def test_https_as_the_last_proxy_says_and_only_a_proxy():
    assert PROXIES.secure("10.0.0.1", [b"https"])
    assert PROXIES.secure("10.0.0.1", [b"http, HTTPS"])
    assert not PROXIES.secure("10.0.0.1", [b"https, http"])
    assert not PROXIES.secure("10.0.0.1", [])
    assert not PROXIES.secure("192.0.2.7", [b"https"])
    assert not TrustedProxies().secure("10.0.0.1", [b"https"])


class Limited(BoundedSite):
    maxConnectionsPerAddress = 2


def test_a_proxy_is_not_held_to_the_connections_per_address():
    site = Limited(Resource(), reactor=Clock())
    site.limit(2, 30.0, PROXIES)
    held = [connect(site, "10.0.0.1") for _ in range(5)]
    assert all(transport.value() == b"" for _, transport in held)
    connect(site), connect(site)
    assert connect(site)[1].value().startswith(b"HTTP/1.1 429")  # 192.0.2.7 still is


def test_a_proxy_whose_request_is_too_slow_is_named_in_the_log():
    """Not counted, its connection was logged as that of None."""
    clock = Clock()
    site = Limited(Resource(), reactor=clock)
    site.limit(2, 30.0, PROXIES)
    events: list = []
    globalLogPublisher.addObserver(events.append)
    try:
        channel, transport = connect(site, "10.0.0.1")
        channel.dataReceived(b"GET / HTTP/1.1\r\n")
        clock.advance(31)
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert transport.value().startswith(b"HTTP/1.1 408 ")
    said = [formatEvent(e) for e in events if "took over" in e.get("log_format", "")]
    assert said == ["closing the connection of 10.0.0.1: its request took over 30.0 s"]


def test_the_access_log_names_a_unix_sockets_client_as_twisted_does():
    """A UNIX socket's client has no address: "-", not an empty one."""
    request = DummyRequest([b"x"])
    request.uri, request.clientproto, request.code, request.sentLength = b"/x", b"HTTP/1.1", 200, 0
    request.client = UNIXAddress(None)
    assert accessLogLine("T", request) == combinedLogFormatter("T", request)
    assert accessLogLine("T", request).startswith('"-" - - T "GET /x HTTP/1.1" 200')
