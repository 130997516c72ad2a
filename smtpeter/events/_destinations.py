"""
Where a webhook may be sent: public addresses, and the networks the
operator allows with C{--webhook-allow-network} (the classifier is the
runtime's L{AddressPolicy}, which direct delivery uses too).

The check that counts is on the address connected to, after resolution
(L{smtpeter.events._webhookagent}); L{Destinations.checkURL} refuses the
obvious at creation, with a clear answer, by resolving the name the way a
delivery will (C{getaddrinfo}, which also reads C{2130706433}, C{127.1},
C{0x7f.1} and C{0177.0.0.1} as 127.0.0.1).
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from attrs import field, frozen

from ..runtime import AddressPolicy, Network, classify, parseAddress
from ..runtime import parseNetwork as _parseNetwork

__all__ = [
    "OPTION",
    "Destinations",
    "RefusedDestination",
    "classify",
    "parseAddress",
    "parseNetwork",
]

#: The option that allows more networks (the gateway's, and C{smtpeter webhook add}'s).
OPTION = "--webhook-allow-network"


class RefusedDestination(ValueError):
    """A webhook URL whose host is, or resolves to, an address not allowed."""


def parseNetwork(text: str) -> Network:
    """C{10.0.0.0/8}, C{fd00::/8}, or one address; a C{ValueError} that says what to write."""
    return _parseNetwork(text, OPTION)


@frozen
class Destinations(AddressPolicy):
    """The webhook destinations policy: public addresses, and C{allowed}."""

    option: str = field(default=OPTION)

    def checkURL(self, url: str, resolve=socket.getaddrinfo) -> None:
        """
        Refuse a webhook URL whose host is an address not allowed, or a
        name that resolves (now, with C{resolve}) to no other address. A
        delivery connects only to the allowed addresses of what the name
        resolves to then, so a name that does not resolve yet, or also to
        an allowed address, is let through. Blocks on DNS.

        @raise RefusedDestination: saying which address and why.
        """
        try:
            parts = urlsplit(url.strip())
            host, port = parts.hostname, parts.port
        except ValueError:
            return  # not a URL at all: the store says so
        if not host:
            return
        literal = parseAddress(host)
        if literal is not None:
            why = self.refusal(literal)
            if why is not None:
                raise RefusedDestination(why)
            return
        if host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
            # RFC 6761: loopback, whatever this machine's resolver says today.
            found = [(None, None, None, None, (a, 0)) for a in ("127.0.0.1", "::1")]
        else:
            try:
                found = resolve(host, port or 443, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError):
                return
        refusals = [(a, self.refusal(a)) for a in dict.fromkeys(s[0] for *_, s in found)]
        if refusals and all(why is not None for _, why in refusals):
            address, why = refusals[0]
            raise RefusedDestination(f"{host} resolves to {address}: {why}")
