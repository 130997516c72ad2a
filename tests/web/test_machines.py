"""The machine-traffic rules, one by one (docs: smtpeter/web/_machines.py)."""

from __future__ import annotations

import pytest
from twisted.web.http_headers import Headers

from smtpeter.web._machines import MachineDetector

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def check(kind="click", method=b"GET", sentAt=0.0, now=100.0, detector=None, link=0, **headers):
    raw = {"User-Agent": [BROWSER]}
    raw.update({k.replace("_", "-"): [v] for k, v in headers.items()})
    return (detector or MachineDetector()).check(
        method, Headers(raw), kind, sentAt, now, "192.0.2.1", "Q", link
    )


def test_a_person_with_a_browser_is_not_a_machine():
    assert check() is None
    assert check("open") is None


@pytest.mark.parametrize(
    "agent, reason",
    [
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
            "image proxy (Gmail)",
        ),
        (
            "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
            "image proxy (Yahoo)",
        ),
        ("Mozilla/5.0 (compatible; BingPreview/1.0b)", "link scanner (Microsoft)"),
        ("Barracuda Sentinel (EE)", "link scanner (Barracuda)"),
        ("curl/8.5.0", "automated client"),
        ("python-requests/2.32", "automated client"),
        ("Googlebot/2.1", "automated client"),
        ("", "no User-Agent"),
    ],
)
def test_known_agents(agent, reason):
    assert check(User_Agent=agent) == reason


def test_head_and_announced_prefetch():
    assert check(method=b"HEAD") == "HEAD request"
    assert check(Sec_Purpose="prefetch;prerender") == "prefetch"
    assert check(X_Moz="prefetch") == "prefetch"


def test_apple_privacy_protection_counts_for_opens_only():
    assert check("open", User_Agent="Mozilla/5.0") == "privacy prefetch (Apple Mail)"
    assert check("click", User_Agent="Mozilla/5.0") is None


def test_too_soon_after_sending():
    assert check(sentAt=98.0, now=100.0) == "clicked within 5 seconds of sending"
    assert check(sentAt=94.0, now=100.0) is None
    assert check("open", sentAt=99.0, now=100.0) is None


def test_many_links_at_once_but_the_same_link_twice_is_a_person():
    detector = MachineDetector()
    assert check(detector=detector, link=0, now=100.0) is None
    assert check(detector=detector, link=0, now=100.5) is None
    assert check(detector=detector, link=1, now=101.0) == "several links clicked within 2 seconds"
    assert check(detector=detector, link=2, now=110.0) is None
