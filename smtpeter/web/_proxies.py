"""
Who sent a request, when a reverse proxy (nginx, Caddy, HAProxy in HTTP
mode, a CDN) passes it on: the proxies named by C{--http-trusted-proxy}
are believed about the client (C{X-Forwarded-For}) and the scheme
(C{X-Forwarded-Proto}); anyone else's headers are ignored, since a
client can write any address there.
"""

from __future__ import annotations

import ipaddress

from attrs import field, frozen
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress
from twisted.web.http import combinedLogFormatter

from ..runtime import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The most hops of X-Forwarded-For looked at, from the right.
MAX_HOPS = 16


def _address(text: str) -> Address | None:
    """A hop of X-Forwarded-For (C{1.2.3.4}, C{1.2.3.4:80}, C{[::1]:80}, C{::1}), or C{None}."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        found = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _networks(networks) -> tuple[Network, ...]:
    # An IPv4-mapped network (::ffff:10.0.0.5, as a dual-stack listener
    # logs its IPv4 peers) as the IPv4 one: peers are compared as IPv4.
    return tuple(_plain(network) for network in networks)


def _plain(network: Network) -> Network:
    mapped = network.network_address
    if isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped is not None:
        if network.prefixlen >= 96:
            return ipaddress.ip_network(f"{mapped.ipv4_mapped}/{network.prefixlen - 96}")
    return network


@frozen
class TrustedProxies:
    """The networks of the reverse proxies whose forwarding headers are believed."""

    networks: tuple[Network, ...] = field(default=(), converter=_networks)

    def trusts(self, host: str | Address | None) -> bool:
        """Whether C{host} (a peer's address) is one of the proxies."""
        if not self.networks:
            return False  # (most gateways: no address read at all)
        found = _address(host) if isinstance(host, str) else host
        return found is not None and any(
            found.version == n.version and found in n for n in self.networks
        )

    def client(self, peer: str, forwardedFor: list[bytes]) -> str:
        """
        The client of a request from C{peer} with these C{X-Forwarded-For}
        fields: C{peer} itself unless it is a proxy; else, from the right,
        the first hop that is not a proxy (each proxy appends the address
        it was reached from, so what is left of that is the client's to
        make up). A hop that is no address stops the walk at the proxy that
        wrote it.
        """
        if not self.trusts(peer):
            return peer
        text = ",".join(value.decode("latin-1") for value in forwardedFor)
        client = peer
        for hop in reversed(text.split(",")[-MAX_HOPS:]):
            found = _address(hop)
            if found is None:
                break
            client = str(found)
            if not self.trusts(found):
                break
        return client

    def secure(self, peer: str, forwardedProto: list[bytes]) -> bool:
        """Whether a proxy (C{peer}) says its client came over HTTPS (the last proxy's word)."""
        if not forwardedProto or not self.trusts(peer):
            return False
        last = b",".join(forwardedProto).split(b",")[-1]
        return last.strip().lower() == b"https"


#: No proxy: every request is its connection's.
NO_PROXIES = TrustedProxies()


def _proxies(request) -> TrustedProxies:
    return getattr(getattr(request, "site", None), "proxies", NO_PROXIES)


def _peer(request) -> str:
    return getattr(request.getClientAddress(), "host", "") or ""


def clientAddress(request) -> str:
    """The address of C{request}'s client, as its site's trusted proxies say (L{TrustedProxies})."""
    peer = _peer(request)
    headers = request.requestHeaders.getRawHeaders(b"x-forwarded-for") or []
    return _proxies(request).client(peer, headers)


def isSecure(request) -> bool:
    """Whether C{request} came over HTTPS: to this site, or to a trusted proxy that says so."""
    if request.isSecure():
        return True
    headers = request.requestHeaders.getRawHeaders(b"x-forwarded-proto") or []
    return _proxies(request).secure(_peer(request), headers)


class _AsForwarded:
    """A request whose client address is L{clientAddress}'s (for the access log)."""

    def __init__(self, request) -> None:
        self._request = request

    def __getattr__(self, name: str):
        return getattr(self._request, name)

    def getClientAddress(self) -> IAddress:
        peer = self._request.getClientAddress()
        host = clientAddress(self._request)
        if host == getattr(peer, "host", ""):
            return peer  # its own (a UNIX socket's: logged as "-", not "")
        return IPv6Address("TCP", host, 0) if ":" in host else IPv4Address("TCP", host, 0)


def accessLogLine(timestamp: str, request) -> str:
    """Twisted's combined access log line, naming the client as the trusted proxies say."""
    return combinedLogFormatter(timestamp, _AsForwarded(request))
