"""
The words of per-login limits, written once: a rate or a quota of
recipients (L{Limit}, C{100/minute}, C{5000/day}), the windows they are
counted in (fixed windows, UTC: a minute, an hour, a calendar day or
month), what is done over a quota (L{OVER_QUOTA}), and sender domains
(L{checkSenderDomains}, L{inSenderDomains}).
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterable

from attrs import frozen

from ._domains import checkDomain
from ._exceptions import Invalid

#: The periods a rate is counted in, and those of a quota.
RATE_PERIODS = ("minute", "hour")
QUOTA_PERIODS = ("day", "month")
#: Over its quota a login's mail is refused (550 5.7.1), or accepted and held.
REFUSE, HOLD = "refuse", "hold"
OVER_QUOTA = (REFUSE, HOLD)
#: The word that lifts a limit, or clears the sender domains.
NONE = "none"
#: Most sender domains a login may have.
MAX_SENDER_DOMAINS = 100

_LIMIT = re.compile(r"([0-9]{1,9})/([a-z]+)")
_FIXED = {"minute": 60, "hour": 3600}


@frozen
class Limit:
    """At most C{count} recipients per C{period} (a fixed window, UTC)."""

    count: int
    period: str

    def __str__(self) -> str:
        return f"{self.count}/{self.period}"

    def window(self, now: float) -> tuple[int, int]:
        """The start and end (seconds since the epoch) of the window C{now} is in."""
        return window(self.period, now)


def window(period: str, now: float) -> tuple[int, int]:
    """The window of C{period} that C{now} is in: minute, hour, or UTC day or month."""
    length = _FIXED.get(period)
    if length is not None:
        start = int(now // length) * length
        return start, start + length
    if period == "day":
        start = int(now // 86400) * 86400
        return start, start + 86400
    if period == "month":
        year, month = time.gmtime(now)[:2]
        start = calendar.timegm((year, month, 1, 0, 0, 0))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return start, calendar.timegm((year, month, 1, 0, 0, 0))
    raise ValueError(f"no such period {period!r}")


def parseLimit(text: str | None, field: str, periods: tuple[str, ...]) -> Limit | None:
    """
    C{N/period} as a L{Limit}; C{none} (or C{None}) as no limit.
    @raise Invalid: naming C{field}, with what it must be.
    """
    if text is None:
        return None
    text = text.strip().lower()
    if text == NONE:
        return None
    match = _LIMIT.fullmatch(text)
    if match is None or match[2] not in periods or int(match[1]) < 1:
        shapes = "|".join(f"N/{p}" for p in periods)
        raise Invalid(field, f"{shapes} (N from 1 to 999999999) or {NONE} (got {text[:50]!r})")
    return Limit(int(match[1]), match[2])


def checkOverQuota(text: str) -> str:
    if text not in OVER_QUOTA:
        raise Invalid("over_quota", f"{' or '.join(OVER_QUOTA)} (got {str(text)[:50]!r})")
    return text


def checkSenderDomains(domains: Iterable[str]) -> tuple[str, ...]:
    """
    The domains, each checked and lower-cased, without repeats, in order;
    C{none} among them clears them all (what comes after it is kept).
    """
    chosen: list[str] = []
    for domain in domains:
        if domain.strip().lower() == NONE:
            chosen.clear()
            continue
        try:
            domain = checkDomain(domain)
        except Invalid as e:
            raise Invalid("sender_domains", e.reason) from e
        if domain not in chosen:
            chosen.append(domain)
    if len(chosen) > MAX_SENDER_DOMAINS:
        raise Invalid("sender_domains", f"at most {MAX_SENDER_DOMAINS} domains")
    return tuple(chosen)


def inSenderDomains(address: str, domains: Iterable[str]) -> bool:
    """
    Whether C{address}'s domain is one of C{domains} or under one
    (C{mail.example.com} is under C{example.com}; C{example.com.evil.test}
    and C{evil-example.com} are not).
    """
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return False
    domain = domain.rstrip(".").lower()
    return any(domain == d or domain.endswith("." + d) for d in domains)
