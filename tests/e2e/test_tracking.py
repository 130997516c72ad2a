"""
The tracking endpoints through the real gateway: a tracked message goes to
a receiving server, its rewritten links, pixel and hosted image are fetched
with real HTTP clients (curl, http.client), and the events are read from the
real database.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time

from ..conftest import needs
from .conftest import BROWSER, PNG, compose, events, get, html, path, send, tracked


def test_click_redirects_to_the_recorded_url_and_is_recorded(makeGateway, sink):
    needs("curl")
    gateway, body = tracked(makeGateway, sink)
    [link] = re.findall(r'href="(http://gw\.test:8080/c/[^"]+/deal)"', body)
    clickStarted = time.time()
    result = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            "-A",
            BROWSER,
            "--connect-to",
            f"gw.test:8080:127.0.0.1:{gateway.httpPort}",
            link,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    clickEnded = time.time()
    assert result.stdout == "302 https://shop.example.com/deal"
    [click] = events(gateway, "click")
    assert click["destination"] == "https://shop.example.com/deal"
    assert click["url"] == link
    assert click["recipient"] == "reader@example.org"
    assert click["tags"] == ["spring", "sale"]
    assert click["user_agent"] == BROWSER
    assert click["ip"] == "127.0.0.1"
    assert click["headers"]["host"] == "gw.test:8080"
    # A browser, but seconds after sending: that is how scanners look. The
    # click came between these two times after the message was received
    # (on a busy machine the delivery alone can take seconds).
    db = sqlite3.connect(gateway.data / "smtpeter.sqlite")
    [(received,)] = db.execute("SELECT received FROM messages WHERE qid = ?", (click["qid"],))
    db.close()
    earliest, latest = clickStarted - received, clickEnded - received
    if latest < 4.5:
        assert click["machine_reason"] == "clicked within 5 seconds of sending", latest
    elif earliest > 5.5:
        assert click["machine_reason"] is None, earliest  # a browser, in its own time
    else:
        assert click["machine_reason"] in ("clicked within 5 seconds of sending", None)
    assert click["machine"] is (click["machine_reason"] is not None)


def test_forged_truncated_or_altered_click_tokens_get_404(makeGateway, sink):
    gateway, body = tracked(makeGateway, sink)
    [link] = re.findall(r'href="(http://gw\.test:8080/c/[^"]+/deal)"', body)
    token = path(link).split("/")[2]
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    for bad in (flipped, token[:-1], token + "A", "x" * len(token), ""):
        response, _ = get(gateway, f"/c/{bad}/evil.example/")
        assert response.status == 404, bad
        assert response.getheader("location") is None
    # The tail of the URL is decoration: changing it cannot change the target.
    response, _ = get(gateway, f"/c/{token}/evil.example/phish")
    assert response.status == 302
    assert response.getheader("location") == "https://shop.example.com/deal"
    assert len(events(gateway, "click")) == 1


def test_a_click_token_only_ever_redirects_to_http_or_https(makeGateway, sink):
    gateway, body = tracked(makeGateway, sink)
    [link] = re.findall(r'href="(http://gw\.test:8080/c/[^"]+/deal)"', body)
    db = sqlite3.connect(gateway.data / "smtpeter.sqlite")
    [(links,)] = db.execute("SELECT links FROM message_links").fetchall()
    assert "https://shop.example.com/deal" in json.loads(links)
    # As a record from an older gateway, or one tampered with, might say:
    db.execute(
        "UPDATE message_links SET links = replace(links, 'https://shop', 'javascript://shop')"
    )
    db.commit()
    response, _ = get(gateway, path(link))
    assert response.status == 404 and response.getheader("location") is None
    assert events(gateway, "click") == []


def test_machine_traffic_is_recorded_and_marked(makeGateway, sink):
    gateway, body = tracked(makeGateway, sink)
    links = re.findall(r'href="(http://gw\.test:8080/c/[^"]+)"', body)
    get(gateway, path(links[0]), **{"User-Agent": "Mozilla/5.0 (compatible; BingPreview/1.0b)"})
    get(gateway, path(links[0]), method="HEAD")
    [scanner, head] = events(gateway, "click")
    assert scanner["machine"] and scanner["machine_reason"] == "link scanner (Microsoft)"
    assert head["machine"] and head["machine_reason"] == "HEAD request"


def test_open_pixel_counts_first_and_repeated_opens(makeGateway, sink):
    gateway, body = tracked(makeGateway, sink)
    [pixel] = re.findall(r'src="(http://gw\.test:8080/o/[^"]+\.gif)"', body)
    for _ in range(2):
        response, data = get(gateway, path(pixel))
        assert response.status == 200
        assert response.getheader("content-type") == "image/gif"
        assert "no-store" in response.getheader("cache-control")
        assert data.startswith(b"GIF89a") and len(data) == 43
    first, second = events(gateway, "open")
    assert (first["first"], first["number"]) == (True, 1)
    assert (second["first"], second["number"]) == (False, 2)
    assert first["recipient"] == "reader@example.org" and first["tags"] == ["spring", "sale"]
    forged = path(pixel).replace("/o/", "/o/A")
    assert get(gateway, forged)[0].status == 404
    assert len(events(gateway, "open")) == 2


def test_hosted_image_with_type_long_cache_and_etag(makeGateway, sink):
    gateway, body = tracked(makeGateway, sink)
    [image] = re.findall(r'src="(http://gw\.test:8080/i/[^"]+)"', body)
    response, data = get(gateway, path(image))
    assert response.status == 200 and data == PNG
    assert response.getheader("content-type") == "image/png"
    assert "max-age=31536000" in response.getheader("cache-control")
    etag = response.getheader("etag")
    assert etag and etag.strip('"') in image
    response, data = get(gateway, path(image), **{"If-None-Match": etag})
    assert response.status == 304 and data == b""
    assert get(gateway, "/i/" + "0" * 64 + ".png")[0].status == 404
    assert get(gateway, "/i/../../secret.key")[0].status == 404


def test_healthz(gateway):
    response, data = get(gateway, "/healthz")
    assert response.status == 200 and json.loads(data) == {"status": "ok"}
    assert get(gateway, "/nothing/here")[0].status == 404


def test_a_click_answered_is_a_click_kept_when_the_gateway_is_killed(makeGateway, sink):
    gateway, body = tracked(makeGateway, sink)
    links = re.findall(r'href="(http://gw\.test:8080/c/[^"]+)"', body)
    for link in links:
        assert get(gateway, path(link))[0].status == 302
    gateway.kill()  # SIGKILL right after the last redirect: no orderly shutdown
    assert len(events(gateway, "click")) == len(links)


def test_without_public_url_links_point_at_the_port_of_the_first_http_listener(gateway, sink):
    # The gateway listens with --http tcp:PORT:interface=127.0.0.1 (not 8080)
    # and has no --public-url: links take its host name and that port, which
    # answers them.
    password = gateway.createLogin("app", "trackclicks")
    send(gateway, "app", password, compose({}))
    [received] = sink.wait(1)
    base = f"http://gw.test:{gateway.httpPort}/"
    assert gateway.httpPort != 8080 and ":8080/" not in html(received.data)
    [link] = re.findall(rf'href="({re.escape(base)}c/[^"]+/deal)"', html(received.data))
    response, _ = get(gateway, link[len(base) - 1 :])
    assert response.status == 302
    assert response.getheader("Location") == "https://shop.example.com/deal"
