"""
End to end: one-click unsubscribe (RFC 8058) through the real gateway. A
login with the unsubscribe feature sends; the copy carries List-Unsubscribe
(the one-click URL and the sender's mailto) and List-Unsubscribe-Post, both
under a DKIM signature dkimpy verifies; a GET of the URL changes nothing; a
POST as a mailbox provider makes it (no cookie, no token) records an
unsubscribe event and suppresses the address for that login only: its next
message is not attempted (reason unsubscribed), another login's is delivered.
"""

from __future__ import annotations

import email
import email.policy
import http.client
import json
import re

import dkim

from ..conftest import eventually
from .conftest import Client, compose, events, send

PUBLIC = "http://gw.test:8080"
READER = "reader@example.org"


def post(gateway, path: str, body: bytes, contentType: str):
    """As a mailbox provider's server does it: no cookie, no credentials, no referrer."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.httpPort, timeout=10)
    connection.request("POST", path, body, {"Content-Type": contentType})
    response = connection.getresponse()
    answer = response.status, response.getheader("content-type"), response.read()
    connection.close()
    return answer


def get(gateway, path: str):
    connection = http.client.HTTPConnection("127.0.0.1", gateway.httpPort, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    answer = response.status, dict(response.getheaders()), response.read()
    connection.close()
    return answer


def test_one_click_unsubscribe_stops_that_logins_mail_only(makeGateway, sink):
    gateway = makeGateway(sink, "--public-url", PUBLIC)
    record = json.loads(gateway.cli("domain", "add", "example.com", "--json").stdout)
    app = gateway.createLogin("app", "unsubscribe")
    shop = gateway.createLogin("shop")
    api = Client(
        gateway,
        json.loads(gateway.cli("token", "create", "ops", "--scope", "admin", "--json").stdout)[
            "token"
        ],
    )

    send(gateway, "app", app, compose({"X-Smtpeter-Unsubscribe-Mailto": "leave@example.com"}))
    [received] = sink.wait(1)
    copy = email.message_from_bytes(received.data, policy=email.policy.default)
    links = str(copy["List-Unsubscribe"])
    found = re.fullmatch(
        rf"<{re.escape(PUBLIC)}(/u/[A-Za-z0-9_-]+)>, <mailto:leave@example\.com>", links
    )
    assert found, links
    path = found.group(1)
    assert READER not in links and "example.org" not in links  # the token hides the address
    assert copy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert not any(k.lower().startswith("x-smtpeter") for k in copy.keys())

    def dns(name, timeout=5):
        return record["txt"].encode() if name == f"{record['name']}.".encode() else None

    assert dkim.verify(received.data, dnsfunc=dns)
    signed = re.search(r"h=([^;]+);", re.sub(r"\s+", "", str(copy["DKIM-Signature"]))).group(1)
    assert {"list-unsubscribe", "list-unsubscribe-post"} <= set(signed.split(":"))

    # A link scanner's GET: a page with a button, and nothing else happens.
    status, headers, page = get(gateway, path)
    assert status == 200 and b'<form method="post">' in page and b"<script" not in page
    assert "form-action 'self'" in headers["Content-Security-Policy"]
    assert events(gateway, "unsubscribe") == []
    assert api.call("GET", "/v1/suppressions")[1] == {"suppressions": []}

    # A forged token: 404, never 500.
    assert (
        post(
            gateway,
            path[:-2] + "xy",
            b"List-Unsubscribe=One-Click",
            "application/x-www-form-urlencoded",
        )[0]
        == 404
    )

    # The mailbox provider's POST, twice (they retry): 200 each time, one entry.
    for _ in range(2):
        status, kind, body = post(
            gateway, path, b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"
        )
        assert (status, body) == (200, b"unsubscribed\n"), body
    code, listed, _ = api.call("GET", "/v1/events")
    [event] = [e for e in listed["events"] if e["type"] == "unsubscribe"]
    assert (event["email"], event["login"], event["one_click"]) == (READER, "app", True)
    [entry] = api.call("GET", "/v1/suppressions")[1]["suppressions"]
    assert (entry["email"], entry["login"], entry["reason"]) == (READER, "app", "unsubscribed")

    # The same login's next message to the reader is not attempted...
    send(gateway, "app", app, compose({}, subject="second"))
    failure = eventually(lambda: events(gateway, "failure"), timeout=20)[0]
    assert failure["recipient"] == READER and failure["reason"] == "unsubscribed"
    assert "unsubscribed from login app" in failure["text"]
    # ... while another login's mail to the same address is delivered.
    send(gateway, "shop", shop, compose({}, subject="from the shop"))
    delivered = eventually(
        lambda: [m for m in sink.messages if b"Subject: from the shop" in m.data] or None,
        timeout=20,
    )
    assert delivered[0].recipients == [READER]
    assert not [m for m in sink.messages if b"Subject: second" in m.data and READER in m.recipients]
