"""
The dashboard through its real HTTP channel and resource, on the in-memory
store and L{MemoryAdministration}, on a L{Clock}: logging in, a form that
changes something (with and without its CSRF token), listing pages, the
roles. The browser tests in C{tests/e2e/test_dashboard.py} drive the real
gateway's.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from twisted.internet.task import Clock

from smtpeter.admin import MemoryAdministration
from smtpeter.config import Config
from smtpeter.dashboard import Pages, Sessions, makeDashboard
from smtpeter.smtp import AuthThrottle
from smtpeter.store import MemoryStore
from smtpeter.testing import serveHTTP

QID = "0123456789ABCDEF0123"
FORM = "application/x-www-form-urlencoded"


class Browser:
    """One user's cookies against the dashboard."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = b""
        if form is not None:
            headers["Content-Type"] = FORM
            body = urlencode(form, doseq=True).encode()
        response = serveHTTP(
            self.dashboard.site, method, path, headers, body, clock=self.dashboard.clock
        )
        assert response is not None, f"{method} {path} did not answer"
        for name, value in response.cookies().items():
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return response

    def csrf(self, path: str) -> str:
        page = self.request("GET", path)
        assert page.code == 200, page.body
        [token] = set(re.findall(rb'name="csrf" value="([^"]+)"', page.body))
        return token.decode()

    def logIn(self, name: str, password: str):
        return self.request(
            "POST",
            "/login",
            {"csrf": self.csrf("/login"), "name": name, "password": password, "next": "/logins"},
        )


class Dashboard:
    def __init__(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_800_000_000)
        self.store = MemoryStore(self.clock)
        self.admin = MemoryAdministration(self.clock)
        config = Config(data=Path("unused"), hostname="gw.test")
        pages = Pages(self.store, self.admin, self.clock, config, ["trackclicks", "trackopens"])
        throttle = AuthThrottle(self.clock, config.authFailureDelays, store=self.store)
        self.site = makeDashboard(pages, Sessions(b"k" * 32, self.clock), throttle)

    def user(self, name: str, role: str = "admin") -> str:
        made = []
        self.admin.createAdmin(name, role).addCallback(made.append)
        return made[0]["password"]

    def browser(self, name: str = "ann", role: str = "admin") -> Browser:
        browser = Browser(self)
        assert browser.logIn(name, self.user(name, role)).code == 303
        return browser

    def logins(self) -> list[str]:
        found = []
        self.admin.listLogins().addCallback(found.append)
        return [login["name"] for login in found[0]]


@pytest.fixture
def dashboard() -> Dashboard:
    return Dashboard()


def test_pages_need_a_log_in(dashboard):
    anonymous = Browser(dashboard)
    page = anonymous.request("GET", "/logins")
    assert page.code == 303 and page.header("location") == "/login?next=%2Flogins"
    assert anonymous.request("POST", "/logins", {"name": "app"}).code == 403
    assert dashboard.logins() == []


def test_log_in_and_out(dashboard):
    password = dashboard.user("ann")
    browser = Browser(dashboard)
    wrong = browser.logIn("ann", "not the password")
    assert wrong.code == 401 and b"Wrong user name or password" in wrong.body
    assert "smtpeter_session" not in browser.cookies
    right = browser.logIn("ann", password)
    assert right.code == 303 and right.header("location") == "/logins"
    assert "smtpeter_session" in browser.cookies
    assert browser.request("GET", "/logins").code == 200
    out = browser.request("POST", "/logout", {"csrf": browser.csrf("/logins")})
    assert out.code == 303 and out.header("location") == "/login"
    assert browser.request("GET", "/logins").code == 303


def test_a_log_in_form_without_its_token_is_refused(dashboard):
    password = dashboard.user("ann")
    browser = Browser(dashboard)
    browser.csrf("/login")  # the log-in cookie, but not its form's token
    refused = browser.request("POST", "/login", {"name": "ann", "password": password})
    assert refused.code == 403 and "smtpeter_session" not in browser.cookies


def test_a_form_changes_with_its_csrf_token_only(dashboard):
    browser = dashboard.browser()
    forged = browser.request("POST", "/logins", {"name": "app"})
    assert forged.code == 403 and b"Form expired" in forged.body
    wrong = browser.request("POST", "/logins", {"name": "app", "csrf": "0" * 64})
    assert wrong.code == 403
    assert dashboard.logins() == []
    made = browser.request(
        "POST", "/logins", {"name": "app", "features": "trackclicks", "csrf": browser.csrf("/")}
    )
    assert made.code == 201 and b"Password:" in made.body
    assert dashboard.logins() == ["app"]
    bad = browser.request("POST", "/logins", {"name": "app", "csrf": browser.csrf("/")})
    assert bad.code == 400 and b"exists" in bad.body


def test_a_viewer_sees_and_changes_nothing(dashboard):
    dashboard.admin.createLogin("app")
    viewer = dashboard.browser("vic", "viewer")
    page = viewer.request("GET", "/logins")
    assert page.code == 200 and b'data-login="app"' in page.body
    assert b"Create login" not in page.body
    refused = viewer.request("POST", "/logins/app/delete", {"csrf": viewer.csrf("/logins")})
    assert refused.code == 403 and b"Read only" in refused.body
    assert dashboard.logins() == ["app"]


def test_listing_pages(dashboard):
    dashboard.admin.createLogin("shop", ["trackopens"])
    dashboard.admin.createToken("reports")
    dashboard.admin.enqueue(QID, "news@shop.example", ["reader@example.org"])
    browser = dashboard.browser()
    logins = browser.request("GET", "/logins")
    assert logins.code == 200 and b'data-login="shop"' in logins.body
    assert b"trackopens" in logins.body
    assert logins.header("x-frame-options") == "DENY"
    assert b"reports" in browser.request("GET", "/tokens").body
    queue = browser.request("GET", "/queue")
    assert queue.code == 200 and QID.encode() in queue.body
    assert b"reader@example.org" in queue.body


def test_a_queue_action(dashboard):
    dashboard.admin.enqueue(QID)
    browser = dashboard.browser()
    done = browser.request("POST", f"/queue/{QID}/retry", {"csrf": browser.csrf("/queue")})
    assert done.code == 303 and done.header("location") == "/queue"
    asked = []
    dashboard.admin.pendingActions().addCallback(asked.append)
    assert asked == [{QID: "retry"}]
    assert b"retried within a second" in browser.request("GET", "/queue").body


def test_domain_webhook_and_token_forms(dashboard):
    browser = dashboard.browser()
    csrf = browser.csrf("/")
    added = browser.request("POST", "/domains", {"domain": "shop.example", "selector": "s1"})
    assert added.code == 403  # no token: nothing added
    added = browser.request(
        "POST", "/domains", {"domain": "shop.example", "selector": "s1", "csrf": csrf}
    )
    assert added.code == 303 and added.header("location") == "/domains/shop.example"
    shown = browser.request("GET", "/domains/shop.example")
    assert shown.code == 200 and b"s1._domainkey.shop.example" in shown.body
    assert b"Added. Publish the records" in shown.body  # the notice, once
    assert browser.request("GET", "/domains/nosuch.example").code == 404

    hook = browser.request(
        "POST", "/webhooks", {"url": "https://93.184.216.34/h", "events": "delivery", "csrf": csrf}
    )
    assert hook.code == 201 and b"Signing secret:" in hook.body
    internal = {"url": "http://127.0.0.1/h", "events": "delivery", "csrf": csrf}
    refused = browser.request("POST", "/webhooks", internal)
    assert refused.code == 400 and b"url:" in refused.body
    listed = []
    dashboard.admin.listWebhooks().addCallback(listed.append)
    assert [h["url"] for h in listed[0]] == ["https://93.184.216.34/h"]

    token = browser.request("POST", "/tokens", {"name": "reports", "csrf": csrf})
    assert token.code == 201 and b"spt_" in token.body
    gone = browser.request("POST", "/tokens/reports/delete", {"csrf": csrf})
    assert gone.code == 303 and gone.header("location") == "/tokens"
    assert b"Deleted token reports" in browser.request("GET", "/tokens").body
