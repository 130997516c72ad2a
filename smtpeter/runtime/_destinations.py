"""
Which addresses the gateway may connect to on someone else's say-so:
public addresses, and the networks the operator allows.

A webhook URL (chosen by an admin token or a dashboard login) and a
recipient's domain (chosen by any login that may send: its MX records, or
an address literal such as C{x@[127.0.0.1]}) name where the gateway
connects. Without a check they reach whatever the gateway can reach (the
machine itself, a cloud's metadata service, the office network), and
what those answer comes back in a test result, a deferral or a DSN. So
loopback, link-local, private (RFC 1918, RFC 4193), unspecified,
multicast, reserved and other non-public addresses are refused unless an
allowed network holds them. IPv6 forms that carry an IPv4 address
(C{::ffff:127.0.0.1}, 6to4 C{2002:7f00:1::}, NAT64 C{64:ff9b::7f00:1}) are
judged by that address too.

One L{AddressPolicy} per use, each naming the option that widens it
(C{--webhook-allow-network}, C{--delivery-allow-network}). The check that
counts is on the address connected to, after resolution.
"""

from __future__ import annotations

import ipaddress
import re
import socket

from attrs import field, frozen

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: Not public, but not (in every Python version) outside C{is_global}.
_ALSO_NOT_PUBLIC = (
    ipaddress.IPv4Network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.IPv6Network("fec0::/10"),  # site-local, deprecated
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64
)
#: What C{inet_aton} (and so C{getaddrinfo}) may read as an IPv4 address.
_NUMERIC = re.compile(r"[0-9a-fA-FxX.]+")


def parseAddress(text: str) -> Address | None:
    """
    C{text} (a URL's host, with or without brackets) as an address, in
    every spelling the system resolver takes as one (C{2130706433},
    C{127.1}, C{0x7f.0.0.1}, C{0177.0.0.1}); C{None} for a name.
    """
    text = text.strip().removeprefix("[").removesuffix("]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _NUMERIC.fullmatch(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            pass
    return None


def classify(address: Address) -> str | None:
    """
    Why C{address} is not a public destination (C{"loopback"},
    C{"private"}, ...), or C{None} if it is one.
    """
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(int(address))  # without a %scope
        if address.ipv4_mapped is not None:
            return classify(address.ipv4_mapped)
        if address in _NAT64:
            return classify(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            inner = classify(address.sixtofour)
            if inner is not None:
                return f"6to4 of {address.sixtofour}, {inner}"
        if address.is_site_local:
            return "site-local"
    for kind in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
        if getattr(address, "is_" + kind):
            return kind.replace("_", "-")
    if not address.is_global or any(address in n for n in _ALSO_NOT_PUBLIC):
        return "not public"
    return None


def parseNetwork(text: str, option: str) -> Network:
    """
    C{10.0.0.0/8}, C{fd00::/8}, or one address, given to C{option}; a
    C{ValueError} that says what to write.
    """
    try:
        return ipaddress.ip_network(text.strip().removeprefix("[").replace("]", ""))
    except ValueError as e:
        raise ValueError(
            f"{option} {text!r}: {e}; write a network such as 10.0.0.0/8, fd00::/8 or one address"
        ) from None


def _sameKind(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(int(address))
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
    return address


def _networks(networks: list[Network] | tuple[Network, ...]) -> tuple[Network, ...]:
    # (a typed converter: mypy cannot solve attrs' converter=tuple)
    return tuple(networks)


@frozen
class AddressPolicy:
    """
    Public addresses, and those in C{allowed}; C{option} is the option
    that allows more, named in every refusal.
    """

    allowed: tuple[Network, ...] = field(default=(), converter=_networks)
    option: str = ""

    def refusal(self, host: str | Address) -> str | None:
        """
        Why the gateway may not connect to C{host} (an address), in words
        for an operator's log or an error, or C{None} when it may.
        """
        address = parseAddress(host) if isinstance(host, str) else host
        if address is None:
            return f"destination {host} is not an address"
        plain = _sameKind(address)
        if any(plain.version == n.version and plain in n for n in self.allowed):
            return None
        why = classify(address)
        if why is None:
            return None
        shown = f"::ffff:{plain}" if plain is not address and plain.version == 4 else address
        see = f"; see {self.option}" if self.option else ""
        return f"destination {shown} is not allowed ({why}{see})"

    def allows(self, host: str | Address) -> bool:
        """Whether the gateway may connect to C{host} (an address)."""
        return self.refusal(host) is None
