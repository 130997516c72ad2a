"""
Checking what a sender domain has published against what the gateway needs:
the DKIM key's TXT record, an SPF record for the bounce domain that lets the
gateway send, the bounce domain's MX, and the click domain resolving. Each
record is looked up live (twisted.names, C{--dns-server}) and reported as
C{ok}, with what was found and, when it is not right, what to publish.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from twisted.names import dns
from twisted.names import error as dnsError


def _squeezed(text: str) -> str:
    return "".join(text.split()).rstrip(";")


async def _lookup(method, name: str, kind: int) -> tuple[list, str | None]:
    """The answers of C{kind} for C{name}, and a problem if the lookup failed."""
    try:
        answers, _, _ = await method(name)
    except dnsError.DNSNameError:
        return [], f"{name} does not exist in DNS"
    except Exception as e:  # a timeout, a refusal: say so rather than "missing"
        return [], f"the lookup of {name} failed: {type(e).__name__}"
    found = []
    for answer in answers:
        if answer.type != kind:
            continue
        payload = answer.payload
        if kind == dns.TXT:
            found.append(b"".join(payload.data).decode("utf-8", "replace"))
        elif kind == dns.MX:
            found.append(str(payload.name).rstrip(".").lower())
        elif kind == dns.CNAME:
            found.append(str(payload.name).rstrip(".").lower())
        elif kind == dns.A:
            found.append(payload.dottedQuad())
    return found, None


def _record(kind, name, type, expected, found, ok, problem, fix) -> dict:
    return {
        "kind": kind,
        "name": name,
        "type": type,
        "expected": expected,
        "found": found,
        "ok": ok,
        "problem": None if ok else (problem or fix),
    }


def recordsToPublish(domain: dict, hostname: str, bounceDomain: str, publicUrl: str) -> list:
    """
    The DNS records a sender domain needs, as C{{"kind", "name", "type",
    "value"}}: its DKIM key, the bounce domain's SPF policy and MX, and the
    click domain's CNAME. C{domain} is what L{Administration.domain
    <smtpeter.admin.Administration.domain>} answers.
    """
    click = urlsplit(publicUrl).hostname or ""
    return [
        {"kind": "dkim", "name": domain["name"], "type": "TXT", "value": domain["txt"]},
        {"kind": "spf", "name": bounceDomain, "type": "TXT", "value": f"v=spf1 a:{hostname} -all"},
        {"kind": "bounce", "name": bounceDomain, "type": "MX", "value": f"10 {hostname}"},
        {"kind": "click", "name": click, "type": "CNAME", "value": hostname},
    ]


async def checkDomain(resolver, domain: dict, hostname: str, bounceDomain: str, publicUrl: str):
    """
    Look the records of L{recordsToPublish} up. @return: C{{"domain", "ok",
    "records": [...]}}.
    """
    dkim, spf, _, click = recordsToPublish(domain, hostname, bounceDomain, publicUrl)
    records = []
    name, expected = dkim["name"], dkim["value"]
    found, problem = await _lookup(resolver.lookupText, name, dns.TXT)
    records.append(
        _record(
            "dkim",
            name,
            "TXT",
            expected,
            found,
            any(_squeezed(f) == _squeezed(expected) for f in found),
            problem if not found else None,
            f"publish TXT {name} with the value in 'expected' (the key differs or is missing)",
        )
    )
    found, problem = await _lookup(resolver.lookupText, bounceDomain, dns.TXT)
    policies = [f for f in found if f.lower().startswith("v=spf1")]
    records.append(
        _record(
            "spf",
            bounceDomain,
            "TXT",
            spf["value"],
            policies,
            any(f"a:{hostname}".lower() in p.lower().split() for p in policies),
            problem if not found else None,
            f'publish TXT {bounceDomain} "{spf["value"]}" (or add a:{hostname} to its SPF record),'
            " so that receivers accept mail whose envelope sender is under it",
        )
    )
    found, problem = await _lookup(resolver.lookupMailExchange, bounceDomain, dns.MX)
    records.append(
        _record(
            "bounce",
            bounceDomain,
            "MX",
            hostname,
            found,
            hostname.lower() in found,
            problem,
            f"publish MX {bounceDomain} 10 {hostname}, so that bounces reach the gateway",
        )
    )
    clickName = click["name"]
    cnames, _ = await _lookup(resolver.lookupCanonicalName, clickName, dns.CNAME)
    addresses, problem = await _lookup(resolver.lookupAddress, clickName, dns.A)
    records.append(
        _record(
            "click",
            clickName,
            "CNAME or A",
            hostname,
            cnames + addresses,
            bool(cnames or addresses),
            problem,
            f"publish CNAME {clickName} {hostname} (or A records of the gateway), so that"
            " tracked links work",
        )
    )
    return {
        "domain": domain["domain"],
        "ok": all(r["ok"] for r in records),
        "records": records,
    }
