"""
Where mail for a domain goes: the smarthost if one is configured, else the
domain's MX hosts in preference order (RFC 5321 5.1), with the domain's own
A/AAAA records when it has no MX, and a permanent failure for a null MX
(RFC 7505) or a domain that does not exist. Lookups use twisted.names.

Without a smarthost, the recipient's domain says where the gateway
connects, and any login that may send chooses the domain: so only the
addresses the L{AddressPolicy} allows (public ones, and those of
C{--delivery-allow-network}) are returned to connect to, and an address
literal that is not allowed is refused. The smarthost is the operator's
choice and is always allowed.
"""

from __future__ import annotations

import ipaddress
import random

from attrs import frozen
from twisted.internet import error as netError
from twisted.logger import Logger
from twisted.names import dns
from twisted.names import error as dnsError

from ..config import default
from ..runtime import AddressPolicy
from ._outcome import Outcome

log = Logger()

#: The option that allows more networks for direct delivery.
OPTION = "--delivery-allow-network"


@frozen
class Hop:
    """A next hop: a host name (or IP) and port; C{smarthost} when configured."""

    host: str
    port: int = 25
    smarthost: bool = False


class RouteError(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.describe())
        self.outcome = outcome


class NoAllowedAddress(Exception):
    """A hop whose every address is one the delivery policy refuses."""


def deliveryPolicy(allowed=()) -> AddressPolicy:
    """Direct delivery's policy: public addresses, and the networks in C{allowed}."""
    return AddressPolicy(allowed, OPTION)


def notPublic(domain: str) -> Outcome:
    """
    The failure of a domain none of whose hosts has an address the policy
    allows, or of an address literal it refuses: permanent, since a retry
    would be refused the same way; it names nothing a host answered.
    """
    if domain.startswith("["):
        text = f"{domain} is not a public address; this gateway delivers only to public hosts"
    else:
        text = f"no public address for the MX hosts of {domain}"
    return Outcome.permanent(text, "route", enhanced="5.4.4")


def isAddress(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Router:
    """Resolves recipient domains to hops, and hop names to addresses."""

    def __init__(
        self,
        resolver,
        relay: Hop | None = None,
        mxPort: int = default("mxPort"),
        destinations: AddressPolicy | None = None,
    ) -> None:
        self.resolver = resolver
        self.relay = relay
        self.mxPort = mxPort
        #: Where direct delivery may connect (not the smarthost: it always may).
        self.destinations = destinations if destinations is not None else deliveryPolicy()

    def routeKey(self, domain: str) -> str:
        """Recipients with the same key can share one transaction."""
        return "relay" if self.relay is not None else domain.lower()

    async def hops(self, domain: str) -> list[Hop]:
        if self.relay is not None:
            return [self.relay]
        domain = domain.lower().rstrip(".")
        if domain.startswith("["):
            literal = domain[1:-1]
            literal = literal[5:] if literal.lower().startswith("ipv6:") else literal
            why = self.destinations.refusal(literal)
            if why is not None:
                log.info("not delivering to {domain}: {why}", domain=domain, why=why)
                raise RouteError(notPublic(domain))
            return [Hop(literal, self.mxPort)]
        try:
            answers, _, _ = await self.resolver.lookupMailExchange(domain)
        except dnsError.DNSNameError:
            raise RouteError(
                Outcome.permanent(f"domain {domain} does not exist", "DNS MX", enhanced="5.1.2")
            )
        except Exception as e:
            # Server failures, refusals and timeouts are not "no MX": falling
            # back to the A record then would bypass the domain's real MX.
            raise RouteError(
                Outcome.transient(f"MX lookup for {domain} failed: {e}", "DNS MX", enhanced="4.4.3")
            )
        records = [
            (a.payload.preference, str(a.payload.name).rstrip("."))
            for a in answers
            if a.type == dns.MX
        ]
        if not records:
            return [Hop(domain, self.mxPort)]  # implicit MX: the domain's A/AAAA
        if any(name in ("", ".") for _, name in records) and len(records) == 1:
            raise RouteError(
                Outcome.permanent(
                    f"{domain} does not accept mail (null MX)", "DNS MX", enhanced="5.1.10"
                )
            )
        # Random order among equal preferences spreads load (RFC 5321 5.1).
        records.sort(key=lambda r: (r[0], random.random()))
        return [Hop(name, self.mxPort) for _, name in records if name]

    async def addresses(self, hop: Hop) -> list[str]:
        """
        The IPv6 and IPv4 addresses to try for a hop, in that order: those
        the policy allows, unless the hop is the smarthost. Connect to these
        (not to the name again: it might resolve elsewhere the next time).

        @raise NoAllowedAddress: the hop has addresses, none allowed.
        @raise twisted.internet.error.DNSLookupError: it has none.
        """
        found = await self._resolve(hop)
        if hop.smarthost:
            return found
        allowed = []
        for address in found:
            why = self.destinations.refusal(address)
            if why is None:
                allowed.append(address)
            else:
                log.info("not delivering to {host}: {why}", host=hop.host, why=why)
        if not allowed:
            raise NoAllowedAddress(f"no allowed address for {hop.host}")
        return allowed

    async def _resolve(self, hop: Hop) -> list[str]:
        if isAddress(hop.host):
            return [hop.host]
        found: list[str] = []
        for lookup, kind in (
            (self.resolver.lookupIPV6Address, dns.AAAA),
            (self.resolver.lookupAddress, dns.A),
        ):
            try:
                answers, _, _ = await lookup(hop.host)
            except Exception:
                continue
            found += [
                a.payload.dottedQuad()
                if kind == dns.A
                else str(ipaddress.ip_address(a.payload.address))
                for a in answers
                if a.type == kind
            ]
        if not found:
            raise netError.DNSLookupError(f"no address for {hop.host}")
        return found
