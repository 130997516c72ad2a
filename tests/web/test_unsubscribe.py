"""
C{/u/TOKEN}: one-click unsubscribe as mailbox providers post it (no cookie,
no CSRF token), its page, and what it refuses; through the site's real
HTTP channel, on the in-memory store. End to end: tests/e2e/test_unsubscribe.py.
"""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from smtpeter.features import TokenSigner
from smtpeter.queue import Envelope, Options, QueuedMessage, Recipient
from smtpeter.store import MemoryStore
from smtpeter.testing import serveHTTP
from smtpeter.web import makeSite

QID = "0123456789ABCDEF0123"
READER = "Reader@example.org"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ONE_CLICK = b"List-Unsubscribe=One-Click"


class Site:
    def __init__(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_800_000_000)
        self.events = MemoryStore(self.clock)
        self.signer = TokenSigner(b"s" * 32)
        self.site = makeSite(self.events, self.signer, None, self.clock)
        envelope = Envelope("news@shop.test", (Recipient(READER),))
        queued = QueuedMessage(QID, envelope, Options(login="app", tags=("weekly",)), 1.0, b"")
        self.events.accepted(queued)
        self.token = self.signer.unsubscribe(QID, 0, "app", READER)

    def request(self, method, path=None, body=b"", headers=None):
        response = serveHTTP(
            self.site, method, path or f"/u/{self.token}", headers or {}, body, clock=self.clock
        )
        assert response is not None
        return response

    def unsubscribes(self):
        return [e for e in self.events.stored if e.type == "unsubscribe"]

    def suppressed(self, login="app"):
        return self.events.suppressed([READER], self.clock.seconds(), login).result


@pytest.fixture
def site() -> Site:
    return Site()


def test_one_click_post_unsubscribes_once(site):
    answer = site.request("POST", body=ONE_CLICK, headers=FORM)
    assert (answer.code, answer.body) == (200, b"unsubscribed\n")
    assert answer.header("set-cookie") is None
    [event] = site.unsubscribes()
    assert (event.qid, event.recipient, event.tags) == (QID, READER, ("weekly",))
    assert event.details["login"] == "app" and event.details["one_click"] is True
    assert event.details["ip"] == "192.0.2.1"
    [entry] = site.suppressed().values()
    assert (entry.login, entry.reason, entry.qid) == ("app", "unsubscribed", QID)
    assert site.suppressed("other") == {}  # one login's mail only
    # Again (providers retry): 200, still one event and one entry.
    assert site.request("POST", body=ONE_CLICK, headers=FORM).code == 200
    assert len(site.unsubscribes()) == 1
    assert len(site.events.suppressions(site.clock.seconds()).result) == 1


def test_multipart_one_click_as_rfc_8058_shows_it(site):
    body = (
        b'--XYZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        b"One-Click\r\n--XYZ--\r\n"
    )
    answer = site.request(
        "POST", body=body, headers={"Content-Type": "multipart/form-data; boundary=XYZ"}
    )
    assert answer.code == 200
    [event] = site.unsubscribes()
    assert event.details["one_click"] is True


def test_get_shows_a_button_and_changes_nothing(site):
    for method in ("GET", "HEAD"):
        answer = site.request(method)
        assert answer.code == 200
        assert answer.header("content-type") == "text/html; charset=utf-8"
        policy = answer.header("content-security-policy")
        assert "default-src 'none'" in policy and "form-action 'self'" in policy
    page = site.request("GET").body
    assert b'<form method="post">' in page and b"<button" in page
    assert b"<script" not in page and READER.encode() not in page
    assert site.unsubscribes() == [] and site.suppressed() == {}
    # The button: a POST without the one-click body; a page says it is done.
    done = site.request("POST", body=b"confirm=yes", headers=FORM)
    assert done.code == 200 and b"You are unsubscribed" in done.body
    assert done.header("content-type") == "text/html; charset=utf-8"
    [event] = site.unsubscribes()
    assert event.details["one_click"] is False
    assert site.suppressed() != {}


def test_a_message_without_login_is_unsubscribed_from_the_whole_gateway(site):
    token = site.signer.unsubscribe(QID, 0, None, READER)
    assert site.request("POST", f"/u/{token}", ONE_CLICK, FORM).code == 200
    [entry] = site.events.suppressions(site.clock.seconds()).result
    assert entry.login is None
    assert site.suppressed("anyone") != {}


@pytest.mark.parametrize(
    "path",
    [
        "/u/",
        "/u",
        "/u/nonsense",
        "/u/" + "A" * 2000,
        "/u/{click}",
        "/u/{token}x",
        "/u/{token}/more",
    ],
)
def test_a_forged_or_other_token_is_404_never_500(site, path):
    path = path.format(click=site.signer.click(QID, 0, 0), token=site.token)
    for method in ("GET", "POST"):
        answer = site.request(method, path, ONE_CLICK if method == "POST" else b"", FORM)
        assert answer.code == 404, (method, path, answer.body)
        assert answer.header("content-type") == "application/json"
    assert site.unsubscribes() == []


def test_a_large_body_is_refused_before_it_is_read(site):
    answer = site.request("POST", body=ONE_CLICK + b"&x=" + b"y" * 5000, headers=FORM)
    assert answer.code == 413 and b"4096" in answer.body
    assert site.unsubscribes() == []


def test_other_methods_are_405(site):
    answer = site.request("DELETE")
    assert answer.code == 405 and "POST" in answer.header("allow")
    assert site.unsubscribes() == []


def test_an_address_the_list_cannot_hold_is_a_400_not_a_500(site):
    token = site.signer.unsubscribe(QID, 0, "app", '"a b"@example.org')
    answer = site.request("POST", f"/u/{token}", ONE_CLICK, FORM)
    assert answer.code == 400 and answer.header("content-type") == "application/json"
    assert site.unsubscribes() == []
