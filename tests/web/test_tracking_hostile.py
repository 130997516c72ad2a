"""
Security regressions of the tracking endpoints: what a click or an open
keeps of its request is bounded, and so is how often one link is recorded. Anyone who has a link (every recipient)
can send it as often as they like, each time with 16 KiB of headers and a
16 KiB request line; kept whole, each such open was a 15 KB event.
"""

from __future__ import annotations

import json

from prometheus_client import REGISTRY
from twisted.internet.task import Clock

from smtpeter.features import TokenSigner
from smtpeter.queue import Envelope, Options, QueuedMessage, Recipient
from smtpeter.store import EventQuery, MemoryStore
from smtpeter.testing import result, serveHTTP
from smtpeter.web import makeSite
from smtpeter.web._tracking import MAX_HEADER, MAX_HEADERS, MAX_URL

QID = "0123456789ABCDEF0123"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def site(limit: int = 20):
    clock = Clock()
    clock.advance(1_800_000_000)
    events = MemoryStore(clock)
    signer = TokenSigner(b"k" * 32)
    envelope = Envelope("app@example.com", (Recipient("ann@example.org"),))
    events.accepted(QueuedMessage(QID, envelope, Options(login="app"), clock.seconds(), b""))
    events.recordLinks(QID, ["https://shop.example.com/deal"])
    clock.advance(60)
    return makeSite(events, signer, None, clock, trackLimit=limit), events, signer, clock


def bloated() -> dict[str, str]:
    """60 header fields of 150 characters, a User-Agent of 2,000: about 11 KiB."""
    headers = {f"X-Filler-{n}": "v" * 150 for n in range(60)}
    headers["User-Agent"] = AGENT + " " + "z" * 2000
    return headers


def test_an_open_keeps_a_bounded_part_of_its_headers():
    web, events, signer, clock = site()
    token = signer.open(QID, 0)
    path = f"/o/{token}.gif?" + "q" * 3000
    answer = serveHTTP(web, "GET", path, {**bloated(), "Cookie": "s=1"}, clock=clock)
    assert answer is not None and answer.code == 200
    [opened] = result(events.events(EventQuery(type="open")))
    details = opened.toJSON()
    assert len(json.dumps(details)) < MAX_HEADERS + 2 * MAX_HEADER + 1000
    assert details["user_agent"].startswith(AGENT) and len(details["user_agent"]) == MAX_HEADER
    kept = details["headers"]
    assert sum(len(k) + len(v) for k, v in kept.items()) <= MAX_HEADERS
    assert "cookie" not in kept and "x-filler-0" in kept and "x-filler-59" not in kept
    assert details["machine"] is False  # the agent is still read whole enough to judge


def test_a_click_keeps_a_bounded_url_and_still_redirects():
    web, events, signer, clock = site()
    token = signer.click(QID, 0, 0)
    path = f"/c/{token}/shop.example.com/deal?" + "q" * 3000
    answer = serveHTTP(web, "GET", path, {**bloated(), "Host": "h" * 600}, clock=clock)
    assert answer is not None and answer.code == 302
    assert answer.header("location") == "https://shop.example.com/deal"
    [clicked] = result(events.events(EventQuery(type="click")))
    details = clicked.toJSON()
    assert details["url"].startswith("http://hhh") and len(details["url"]) == MAX_URL
    assert details["destination"] == "https://shop.example.com/deal"
    assert len(json.dumps(details)) < MAX_URL + MAX_HEADERS + 2 * MAX_HEADER + 1000


def test_a_link_replayed_in_a_loop_is_answered_every_time_and_recorded_up_to_the_limit():
    web, events, signer, clock = site(limit=3)
    clock.advance(60 - clock.seconds() % 60)  # the start of a minute
    name = "smtpeter_tracking_unrecorded_total"
    before = [REGISTRY.get_sample_value(name, {"kind": k}) or 0.0 for k in ("click", "open")]
    click, other = signer.click(QID, 0, 0), signer.click(QID, 1, 0)
    pixel = f"/o/{signer.open(QID, 0)}.gif"
    for _ in range(10):
        for path, code in ((f"/c/{click}/deal", 302), (f"/c/{other}/deal", 302), (pixel, 200)):
            answer = serveHTTP(web, "GET", path, {"User-Agent": AGENT})
            assert answer is not None and answer.code == code
    clicks = result(events.events(EventQuery(type="click")))
    assert len(clicks) == 6  # 3 of each recipient's
    assert len(result(events.events(EventQuery(type="open")))) == 3
    after = [REGISTRY.get_sample_value(name, {"kind": k}) for k in ("click", "open")]
    assert [a - b for a, b in zip(after, before, strict=True)] == [14, 7]
    clock.advance(60)  # a new minute: recorded again
    assert serveHTTP(web, "GET", f"/c/{click}/deal", {"User-Agent": AGENT}).code == 302
    assert len(result(events.events(EventQuery(type="click")))) == 7


def test_a_track_limit_of_0_records_every_request():
    web, events, signer, clock = site(limit=0)
    click = signer.click(QID, 0, 0)
    for _ in range(50):
        assert serveHTTP(web, "GET", f"/c/{click}/deal", {"User-Agent": AGENT}).code == 302
    assert len(result(events.events(EventQuery(type="click")))) == 50
