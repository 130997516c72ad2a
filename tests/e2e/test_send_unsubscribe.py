"""
End to end: POST /v1/send and the unsubscribe feature together, one
gateway for the module. Each form of the JSON C{unsubscribe} field arrives
as it should (parsed with Python's email package, DKIM-verified with dkimpy,
both List-Unsubscribe fields in h= when present): C{{"oneclick": true}}
is the gateway's own one-click link (and the sender's mailto), the other
forms are the sender's own fields, kept untouched by the feature of a login
that has it on. Then a mailbox provider's one-click POST to the link (no
cookie) stops that login's next send to the address: not attempted, reason
C{unsubscribed} at C{GET /v1/messages/{id}} for the id of the 202, while a
message that says X-Smtpeter-IgnoreSuppression (in C{mime}, or a
message/rfc822 body; C{extra} refuses gateway options) goes all the same.
"""

from __future__ import annotations

import email
import email.policy
import http.client
import json
import re
from urllib.parse import quote

import dkim
import pytest
import requests

from smtpeter.testing import SinkServer

from ..conftest import Gateway, eventually
from .conftest import (
    ALLOW_LOCAL,
    Receiver,
    connection,
    createAdmin,
    documented,
    logIn,
    request,
    verify,
)

PUBLIC = "http://gw.test:8080"
READER = "reader@example.org"
LINK = rf"<{re.escape(PUBLIC)}/u/[A-Za-z0-9_-]+>"


class World:
    def __init__(self, gateway: Gateway, sink: SinkServer) -> None:
        self.gateway = gateway
        self.sink = sink
        cli = gateway.cli
        self.record = json.loads(cli("domain", "add", "example.com", "--json").stdout)
        gateway.createLogin("app")  # the feature asked per message
        gateway.createLogin("news", "unsubscribe")  # the feature on for every message
        self.tokens = {login: self.make(login, "send", login) for login in ("app", "news")}
        self.readToken = self.make("reader", "read")
        self.subjects = 0
        self.hooks = Receiver(0)
        made = cli(
            "webhook", "add", self.hooks.url, "--event", "unsubscribe", "--json", *ALLOW_LOCAL
        )
        self.hookSecret = json.loads(made.stdout)["secret"]

    def make(self, name: str, scope: str, login: str | None = None) -> str:
        args = ["token", "create", name, "--scope", scope, "--json"]
        made = self.gateway.cli(*args, *(["--login", login] if login else []))
        return json.loads(made.stdout)["token"]

    def post(self, login: str, code: int = 202, headers=(), **kwargs) -> dict:
        response = requests.post(
            self.gateway.web + "/v1/send",
            headers={"Authorization": f"Bearer {self.tokens[login]}", **dict(headers)},
            timeout=30,
            **kwargs,
        )
        answer = response.json()
        assert response.status_code == code, answer
        documented("POST", "/v1/send", code, answer)
        return answer

    def send(self, login: str, **fields) -> tuple[str, str]:
        """A message from parts to READER; its recipient id and subject."""
        self.subjects += 1
        subject = f"message {self.subjects}"
        body = {"from": "News <news@example.com>", "to": READER, "subject": subject}
        [rid] = self.post(login, json={**body, "text": "hello\n", **fields})
        return rid, subject

    def arrived(self, subject: str) -> bytes:
        def found():
            return [m for m in self.sink.messages if f"Subject: {subject}\r\n".encode() in m.data]

        [received] = eventually(found, 20, f"the message {subject!r}")
        assert received.recipients == [READER]
        return received.data

    def shown(self, rid: str, wanted) -> dict:
        """C{GET /v1/messages/{rid}}, once C{wanted} holds of its recipient."""

        def found():
            response = requests.get(
                f"{self.gateway.web}/v1/messages/{rid}",
                headers={"Authorization": f"Bearer {self.readToken}"},
                timeout=10,
            )
            if response.status_code != 200:
                return None
            answer = response.json()
            documented("GET", f"/v1/messages/{rid}", 200, answer)
            return answer if wanted(answer["recipient"]) else None

        return eventually(found, 20, f"{rid}'s recipient as wanted")

    def dns(self, name, timeout=5):
        return self.record["txt"].encode() if name == f"{self.record['name']}.".encode() else None


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    sink = SinkServer().start()
    gateway = Gateway(
        tmp_path_factory.mktemp("sendunsub") / "data",
        sink.port,
        ["--public-url", PUBLIC, *ALLOW_LOCAL],
    ).start()
    world = None
    try:
        world = World(gateway, sink)
        yield world
    finally:
        gateway.stop()
        sink.stop()
        if world is not None:
            world.hooks.stop()


def check(world: World, data: bytes, listed: str, post: bool) -> email.message.EmailMessage:
    """The copy's List-Unsubscribe is C{listed} (a pattern), with or without
    List-Unsubscribe-Post, and a valid DKIM signature covers what it has."""
    copy = email.message_from_bytes(data, policy=email.policy.default)
    assert copy.get_all("List-Unsubscribe") and len(copy.get_all("List-Unsubscribe")) == 1
    value = str(copy["List-Unsubscribe"])
    assert re.fullmatch(listed, value), value
    assert READER not in value and "example.org" not in value  # no address in a link
    if post:
        assert copy.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    else:
        assert copy["List-Unsubscribe-Post"] is None
    assert not [k for k in copy.keys() if k.lower().startswith("x-smtpeter")]
    assert dkim.verify(data, dnsfunc=world.dns)
    signature = re.sub(r"\s+", "", str(copy["DKIM-Signature"]))
    signed = set(re.search(r"(?:^|;)h=([^;]+)", signature).group(1).lower().split(":"))
    assert "list-unsubscribe" in signed
    assert ("list-unsubscribe-post" in signed) is post
    return copy


FORMS = [
    # The gateway's own one-click link, asked per message, with the sender's mailto.
    (
        "app",
        {"oneclick": True, "email": "leave@example.com"},
        rf"{LINK}, <mailto:leave@example\.com>",
        True,
    ),
    ("app", {"oneclick": True}, LINK, True),
    # The sender's own: kept as given by a login whose feature is on.
    ("news", "https://example.com/unsub/1", r"<https://example\.com/unsub/1>", False),
    (
        "news",
        "mailto:leave@example.com?subject=stop",
        r"<mailto:leave@example\.com\?subject=stop>",
        False,
    ),
    (
        "news",
        ["https://example.com/unsub/2", "leave@example.com"],
        r"<https://example\.com/unsub/2>, <mailto:leave@example\.com>",
        False,
    ),
    (
        "news",
        {"url": "https://example.com/unsub/3", "oneclick": True},
        r"<https://example\.com/unsub/3>",
        True,
    ),
    (
        "news",
        {"url": "https://example.com/unsub/4", "email": "leave@example.com"},
        r"<https://example\.com/unsub/4>, <mailto:leave@example\.com>",
        False,
    ),
]


@pytest.mark.parametrize(("login", "field", "listed", "post"), FORMS)
def test_each_form_arrives_signed(world, login, field, listed, post):
    _, subject = world.send(login, unsubscribe=field)
    check(world, world.arrived(subject), listed, post)


def test_the_feature_is_on_by_the_login_and_off_per_message(world):
    _, subject = world.send("news")
    check(world, world.arrived(subject), LINK, True)
    _, subject = world.send("news", unsubscribe={"oneclick": False})
    copy = email.message_from_bytes(world.arrived(subject), policy=email.policy.default)
    assert copy["List-Unsubscribe"] is None and copy["List-Unsubscribe-Post"] is None
    assert dkim.verify(world.arrived(subject), dnsfunc=world.dns)


def oneClick(world: World, url: str) -> tuple[int, bytes]:
    """As a mailbox provider's server posts it: no cookie, no credentials, no referrer."""
    path = url.removeprefix(PUBLIC)
    connection = http.client.HTTPConnection("127.0.0.1", world.gateway.httpPort, timeout=10)
    connection.request(
        "POST",
        path,
        b"List-Unsubscribe=One-Click",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = connection.getresponse()
    answer = response.status, response.read()
    connection.close()
    return answer


def test_after_a_one_click_post_that_logins_next_send_is_not_attempted(world):
    _, subject = world.send("app", unsubscribe={"oneclick": True, "email": "leave@example.com"})
    copy = check(world, world.arrived(subject), rf"{LINK}, <mailto:leave@example\.com>", True)
    url = re.match(r"<([^>]+)>", str(copy["List-Unsubscribe"])).group(1)
    assert oneClick(world, url) == (200, b"unsubscribed\n")
    # Recorded once: a signed webhook, the statistics, the dashboard's message page.
    world.hooks.wait(lambda got: len(got) >= 1)
    [(headers, body, _)] = world.hooks.requests
    assert verify(world.hookSecret, headers, body)
    hooked = json.loads(body)  # (one event per POST, as GET /v1/events gives it)
    assert (hooked["type"], hooked["email"], hooked["login"]) == ("unsubscribe", READER, "app")
    assert hooked["one_click"] is True, hooked

    def unsubscribed(login: str):
        stats = requests.get(
            f"{world.gateway.web}/v1/stats?login={login}",
            headers={"Authorization": f"Bearer {world.readToken}"},
            timeout=10,
        ).json()
        return stats["totals"].get("unsubscribed")

    eventually(lambda: unsubscribed("app") == 1, what="app's unsubscribe counted")
    assert unsubscribed("news") is None
    cookies = logIn(world.gateway, "ops", createAdmin(world.gateway, "ops"))
    page = request(connection(world.gateway), "GET", f"/messages/{hooked['messageid']}", cookies)
    assert page.status == 200 and "unsubscribe" in page.body, page.body
    assert "from login app&#x27;s mail (one-click)" in page.body or (
        "from login app's mail (one-click)" in page.body
    ), page.body
    page = request(connection(world.gateway), "GET", f"/activity?subject={quote(subject)}", cookies)
    assert page.status == 200, page.body
    assert re.search(
        rf"<li>{re.escape(READER)} <span class=\"status delivered\">delivered</span>"
        r' <span class="status unsubscribed">unsubscribed</span></li>',
        page.body,
    ), page.body

    # The same login's next send to the address: accepted, never attempted.
    rid, subject = world.send("app")
    shown = world.shown(rid, lambda r: r["status"] != "queued")
    recipient = shown["recipient"]
    assert (recipient["email"], recipient["status"]) == (READER, "failed"), shown
    assert recipient["reason"] == "unsubscribed", recipient
    assert "unsubscribed from login app" in recipient["last_error"], recipient
    # Another login's mail to the address still goes.
    _, other = world.send("news")
    world.arrived(other)
    assert not [
        m
        for m in world.sink.messages
        if READER in m.recipients and f"Subject: {subject}\r\n".encode() in m.data
    ]

    # extra refuses the gateway's options, naming the field ...
    refused = world.post(
        "app",
        400,
        json={
            "from": "news@example.com",
            "to": READER,
            "text": "x",
            "extra": {"X-Smtpeter-IgnoreSuppression": "true"},
        },
    )
    assert refused["parameter"] == "extra", refused
    # ... while a message of its own says it (mime, or a message/rfc822 body): attempted.
    mime = (
        "From: news@example.com\r\nTo: {0}\r\nSubject: {1}\r\n"
        "X-Smtpeter-IgnoreSuppression: true\r\n\r\nYour password was changed.\r\n"
    )
    [rid] = world.post("app", json={"recipient": READER, "mime": mime.format(READER, "reset 1")})
    data = world.arrived("reset 1")
    assert b"x-smtpeter" not in data.lower()
    world.shown(rid, lambda r: r["status"] == "delivered")
    [rid] = world.post(
        "app",
        params={"recipient": READER},
        data=mime.format(READER, "reset 2").encode(),
        headers={"Content-Type": "message/rfc822"},
    )
    world.arrived("reset 2")
    world.shown(rid, lambda r: r["status"] == "delivered")
