"""
Telling machines from people on the tracking endpoints.

Nothing is dropped: a request that looks automated is recorded like any
other, with C{machine: true} and the reason, so that reports can count
people and still see everything. The rules, checked in this order (the
first that matches is the reason given):

 1. a HEAD request (browsers send GET when a person clicks);
 2. a prefetch announced by the client (C{Purpose}, C{Sec-Purpose},
    C{X-Purpose} or C{X-Moz} saying prefetch or preview);
 3. no User-Agent at all;
 4. a User-Agent of a known mail image proxy (Gmail's GoogleImageProxy,
    Yahoo's mail proxy) or link scanner (Microsoft Safe Links and
    BingPreview, Barracuda, Mimecast, Proofpoint, Trend Micro, Symantec,
    Sophos, Forcepoint, Cisco), or of a generic automated client (bot,
    crawler, spider, curl, wget, python-requests, Go, Java, okhttp,
    headless browsers);
 5. Apple Mail Privacy Protection: it fetches images with the bare
    User-Agent C{Mozilla/5.0} (opens only);
 6. a click less than 5 seconds after the gateway accepted the message:
    faster than anyone reads mail, typical of scanners at the receiving
    end;
 7. a second, different link of the same message clicked from the same
    address within 2 seconds of another: scanners follow every link,
    people one at a time.
"""

from __future__ import annotations

import re
from collections import OrderedDict

_PREFETCH_HEADERS = (b"purpose", b"sec-purpose", b"x-purpose", b"x-moz")
_PROXIES = [
    (re.compile(p, re.I), reason)
    for p, reason in [
        (r"GoogleImageProxy|ggpht\.com", "image proxy (Gmail)"),
        (r"YahooMailProxy", "image proxy (Yahoo)"),
        (r"BingPreview|Microsoft Office|ms-office|SafeLinks", "link scanner (Microsoft)"),
        (r"Barracuda", "link scanner (Barracuda)"),
        (r"Mimecast", "link scanner (Mimecast)"),
        (r"Proofpoint", "link scanner (Proofpoint)"),
        (r"Trend ?Micro", "link scanner (Trend Micro)"),
        (r"Symantec|MessageLabs", "link scanner (Symantec)"),
        (r"Sophos", "link scanner (Sophos)"),
        (r"Forcepoint|Websense", "link scanner (Forcepoint)"),
        (r"Cisco|IronPort", "link scanner (Cisco)"),
        (
            r"bot\b|bot/|crawler|spider|curl/|wget/|python-requests|python-urllib|aiohttp|"
            r"Go-http-client|Java/|okhttp|libwww|HeadlessChrome|PhantomJS|httpclient",
            "automated client",
        ),
    ]
]
TOO_SOON = 5.0
BURST = 2.0


class MachineDetector:
    """Remembers recent clicks (a bounded number) for rule 7."""

    def __init__(self, remember: int = 10000) -> None:
        self._recent: OrderedDict = OrderedDict()
        self._remember = remember

    def check(
        self,
        method: bytes,
        headers,
        kind: str,
        sentAt: float | None,
        now: float,
        ip: str = "",
        qid: str = "",
        link: int | None = None,
    ) -> str | None:
        """
        The reason this request looks automated, or C{None}. C{headers} is
        a twisted.web C{Headers}; C{kind} is C{"click"} or C{"open"}.
        """
        reason = self._fromRequest(method, headers, kind)
        if kind == "click":
            burst = self._burst(ip, qid, link, now)
            if reason is None and sentAt is not None and now - sentAt < TOO_SOON:
                reason = "clicked within 5 seconds of sending"
            if reason is None and burst:
                reason = "several links clicked within 2 seconds"
        return reason

    def _fromRequest(self, method: bytes, headers, kind: str) -> str | None:
        if method == b"HEAD":
            return "HEAD request"
        for name in _PREFETCH_HEADERS:
            for value in headers.getRawHeaders(name, []):
                lowered = value.lower()
                if b"prefetch" in lowered or b"preview" in lowered:
                    return "prefetch"
        agent = (headers.getRawHeaders(b"user-agent") or [b""])[0].decode("latin-1").strip()
        if not agent:
            return "no User-Agent"
        for pattern, reason in _PROXIES:
            if pattern.search(agent):
                return reason
        if kind == "open" and agent == "Mozilla/5.0":
            return "privacy prefetch (Apple Mail)"
        return None

    def _burst(self, ip: str, qid: str, link, now: float) -> bool:
        key = (ip, qid)
        last = self._recent.pop(key, None)
        self._recent[key] = (now, link)
        if len(self._recent) > self._remember:
            self._recent.popitem(last=False)
        return last is not None and now - last[0] < BURST and last[1] != link
