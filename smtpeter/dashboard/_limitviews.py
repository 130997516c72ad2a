"""
A login's limits and sender domains on its dashboard page: what it has
used of its rate and quota now, each sender domain beside its DKIM state,
and the fields that change them.
"""

from __future__ import annotations

import re

from twisted.web.template import Tag

from ..store import NONE, OVER_QUOTA
from ._forms import arg
from ._html import field, link, path, select, status, tags

_OVER_QUOTA_TEXT = {"refuse": "refuse its recipients (550 5.7.1)", "hold": "hold its mail"}


def _usage(record: dict, name: str) -> Tag | str:
    used = (record.get("usage") or {}).get(name)
    if used is None:
        return "none"
    resets = used["resets"][11:16]
    text = f"{used['used']} of {used['limit']} recipients this {used['period']}"
    if name == "quota" and record["over_quota"] == "hold":
        text += "; then its mail is held"
    return tags.span(text, " ", tags.small(f"(counts again from {resets} UTC)"))


def dkimState(domain: str, keys: list[dict]) -> Tag:
    """Whether mail from C{domain} is signed: by its own key, or its nearest parent's."""
    signing = {k["domain"]: k for k in keys if k["active"]}
    labels = domain.split(".")
    for i in range(len(labels) - 1):
        key = signing.get(".".join(labels[i:]))
        if key is not None:
            whose = "" if i == 0 else f" of {key['domain']}"
            return tags.span(
                status("signing"),
                " DKIM selector ",
                tags.code(key["selector"]),
                whose,
                " · ",
                link(path("domains", key["domain"]), "records"),
            )
    return tags.span(status("unsigned"), " no DKIM key: ", link("/domains", "add one"))


def limitFacts(record: dict, keys: list[dict]) -> list:
    """The C{dt}/C{dd} pairs of the login's limits, usage and sender domains."""
    domains = record["sender_domains"]
    return [
        tags.dt("Rate"),
        tags.dd(_usage(record, "rate")),
        tags.dt("Quota"),
        tags.dd(_usage(record, "quota")),
        tags.dt("Sender domains"),
        tags.dd(
            tags.ul(class_="plain")(
                *(tags.li(tags.code(d), " (and under it) ", dkimState(d, keys)) for d in domains)
            )
            if domains
            else "any sender"
        ),
    ]


def limitFields(record: dict) -> list:
    """The form's fields for the login's limits and sender domains."""
    return [
        field(
            "Rate (N/minute or N/hour; empty: none)",
            "rate",
            record["rate"] or "",
            placeholder="100/minute",
        ),
        field(
            "Quota (N/day or N/month; empty: none)",
            "quota",
            record["quota"] or "",
            placeholder="10000/month",
        ),
        select(
            "Over the quota",
            "over_quota",
            [(v, _OVER_QUOTA_TEXT[v]) for v in OVER_QUOTA],
            record["over_quota"],
        ),
        field(
            "Sender domains (space-separated, subdomains included; empty: any sender)",
            "sender_domains",
            " ".join(record["sender_domains"]),
            placeholder="example.com",
        ),
    ]


def limitChanges(request) -> dict:
    """
    The limits the login's form sends, for L{updateLogin<smtpeter.admin.
    IAdministration>}; a field the form did not send is left as it is.
    """
    sent = {
        "rate": lambda: arg(request, "rate") or NONE,
        "quota": lambda: arg(request, "quota") or NONE,
        "overQuota": lambda: arg(request, "over_quota"),
        "senderDomains": lambda: [
            d for d in re.split(r"[\s,]+", arg(request, "sender_domains")) if d
        ],
    }
    names = {"overQuota": "over_quota", "senderDomains": "sender_domains"}
    return {k: read() for k, read in sent.items() if names.get(k, k).encode() in request.args}
