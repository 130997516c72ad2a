"""
How many connections each client address holds open on a set of
listeners, and whether one more is allowed: the SMTP listeners share one
count, every HTTP site keeps its own. A client is its L{clientKey}.
"""

from __future__ import annotations

import ipaddress
from collections import Counter


def clientKey(host: str) -> str:
    """
    Who a client is, for every limit kept per client address (the AUTH and
    dashboard log-in throttle, connections per address): an IPv4 address
    as it is; an IPv4-mapped IPv6 one (C{::ffff:192.0.2.1}) as that IPv4
    address; any other IPv6 address as its /64 (C{2001:db8:1:2::/64}), as
    one holder gets a whole /64 and could otherwise try from 2**64
    addresses. Anything else (a UNIX socket's path) as it is.
    """
    try:
        ip = ipaddress.ip_address(host.partition("%")[0])  # without a zone (fe80::1%eth0)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class ConnectionsPerAddress(Counter):
    """Open connections per client (L{clientKey}); a client with none is not kept."""

    def enter(self, address: str, limit: int) -> bool:
        """
        Count one more connection from C{address}'s client; whether it is
        within C{limit}. Counted either way: every L{enter} has its L{leave}.
        """
        key = clientKey(address)
        self[key] += 1
        return self[key] <= limit

    def leave(self, address: str) -> None:
        """Count one connection from C{address}'s client less."""
        key = clientKey(address)
        self[key] -= 1
        if self[key] <= 0:
            del self[key]


__all__ = ["ConnectionsPerAddress", "clientKey"]
