"""
Security regressions of the URLs and addresses an administrator gives: a webhook's URL
and a login's public URL are written into requests, header fields
(List-Unsubscribe) and links as they are, so one with a line break, white
space, letters outside ASCII or a user name and password is refused, a
400 naming the field (they were taken, and a webhook then failed at every
delivery with "Invalid URI"). An address with a control character is no
suppression either.
"""

from __future__ import annotations

import pytest

HOST = "https://93.184.216.34"
BAD = [
    HOST + "/\r\nX-Injected: 1",
    HOST + "/a\nb",
    HOST + "/a\tb",
    HOST + "/a b",
    HOST + "/\x00",
    "https://ex\u00e4mple.com/",
    "https://\uff45xample.com/",
    "https://user:secret@93.184.216.34/",
    "https://93.184.216.34@example.com/",
    "https://93.184.216.34:65536/",
    HOST + "/" + "a" * 3000,
    "gopher://93.184.216.34/",
]


@pytest.mark.parametrize("url", BAD)
def test_a_webhook_url_that_cannot_be_sent_as_it_is_is_a_400_naming_url(managed, url):
    answer = managed.request("POST", "/v1/webhooks", {"url": url, "events": ["click"]})
    assert answer.code == 400, answer.body
    assert answer.json()["parameter"] == "url"
    assert managed.request("GET", "/v1/webhooks").json()["webhooks"] == []


@pytest.mark.parametrize("url", BAD)
def test_a_public_url_that_cannot_be_written_as_it_is_is_a_400_naming_it(managed, url):
    assert managed.request("POST", "/v1/logins", {"name": "app"}).code == 201
    answer = managed.request("PATCH", "/v1/logins/app", {"public_url": url})
    assert answer.code == 400, answer.body
    assert answer.json()["parameter"] == "public_url"
    assert managed.request("GET", "/v1/logins/app").json()["public_url"] is None


def test_good_urls_still_go(managed):
    hook = managed.request("POST", "/v1/webhooks", {"url": HOST + "/h?k=v", "events": ["click"]})
    assert hook.code == 201, hook.body
    assert managed.request("POST", "/v1/logins", {"name": "app"}).code == 201
    url = "https://xn--bcher-kva.example:8443/t/"
    changed = managed.request("PATCH", "/v1/logins/app", {"public_url": url})
    assert changed.code == 200 and changed.json()["public_url"] == url.rstrip("/")


@pytest.mark.parametrize("email", ["a\x1b[31m@x.test", "a\u202e@x.test", "a\x00@x.test"])
def test_an_address_with_a_control_character_is_not_suppressed(managed, email):
    # It was taken, and "smtpeter suppression list" wrote its escape
    # sequence to the administrator's terminal.
    answer = managed.request("POST", "/v1/suppressions", {"email": email})
    assert answer.code == 400 and answer.json()["parameter"] == "email", answer.body
    assert managed.request("GET", "/v1/suppressions").json()["suppressions"] == []
