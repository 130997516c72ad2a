"""
The dashboard through its real HTTP channel and resource, on the in-memory
store and L{MemoryAdministration}, on a L{Clock}: logging in, a form that
changes something (with and without its CSRF token), listing pages, the
roles. The browser tests in C{tests/e2e/test_dashboard.py} drive the real
gateway's.
"""

from __future__ import annotations

import io
import re
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import urlencode

import pytest
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher

from smtpeter.admin import MemoryAdministration
from smtpeter.config import Config
from smtpeter.dashboard import Pages, Sessions, makeDashboard
from smtpeter.smtp import AuthThrottle
from smtpeter.store import MemoryStore
from smtpeter.testing import serveHTTP
from smtpeter.web import TrustedProxies

QID = "0123456789ABCDEF0123"
FORM = "application/x-www-form-urlencoded"


class Browser:
    """One user's cookies against the dashboard."""

    def __init__(self, dashboard: Dashboard, **headers: str) -> None:
        self.dashboard = dashboard
        self.cookies: dict[str, str] = {}
        #: Sent with every request (a proxy's X-Forwarded-For, say).
        self.headers = {name.replace("_", "-"): value for name, value in headers.items()}

    def request(self, method: str, path: str, form: dict | None = None):
        headers = dict(self.headers)
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


def test_a_slash_or_a_percent_sign_in_a_name_stays_in_its_segment(dashboard):
    # Twisted decodes each segment once; decoding again, or joining the
    # decoded segments, made POST /logins/x%2Fdelete (the form of the
    # login x/delete) delete the login x.
    for name in ("x", "x/delete", "a%41", "aA"):
        dashboard.admin.createLogin(name)
    browser = dashboard.browser()
    page = browser.request("GET", "/logins/x%2Fdelete")
    assert page.code == 200 and b"x/delete" in page.body
    saved = browser.request(
        "POST", "/logins/x%2Fdelete", {"csrf": browser.csrf("/logins"), "enabled": "on"}
    )
    assert saved.code == 303 and saved.header("location") == "/logins/x%2Fdelete"
    assert sorted(dashboard.logins()) == ["a%41", "aA", "x", "x/delete"]
    # The form of a/b is read too (the channel sees /logins/a/b, decoded
    # whole, which is no route), and changes that login.
    dashboard.admin.createLogin("a/b")
    held = browser.request(
        "POST", "/logins/a%2Fb", {"csrf": browser.csrf("/"), "enabled": "on", "hold": "on"}
    )
    assert held.code == 303
    found = []
    dashboard.admin.login("a/b").addCallback(found.append)
    assert found[0]["hold"] is True
    deleted = browser.request("POST", "/logins/a%2541/delete", {"csrf": browser.csrf("/")})
    assert deleted.code == 303
    assert sorted(dashboard.logins()) == ["a/b", "aA", "x", "x/delete"]


def test_a_webhook_is_named_by_ascii_digits_only(dashboard):
    dashboard.admin.addWebhook("https://93.184.216.34/h", ["click"])
    browser = dashboard.browser()
    # \u0661 is ARABIC-INDIC DIGIT ONE, which \d and int() took for 1.
    refused = browser.request("POST", "/webhooks/%D9%A1/delete", {"csrf": browser.csrf("/")})
    assert refused.code == 404
    found = []
    dashboard.admin.listWebhooks().addCallback(found.append)
    assert [hook["id"] for hook in found[0]] == [1]


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
    dashboard.admin.createLogin("app")
    form = {"name": "shop", "scope": "send", "login": "app", "csrf": csrf}
    assert browser.request("POST", "/tokens", form).code == 201
    assert b"send (login app)" in browser.request("GET", "/tokens").body
    missing = browser.request("POST", "/tokens", {"name": "x", "scope": "send", "csrf": csrf})
    assert missing.code == 400 and b"login: required for a send token" in missing.body


def test_a_login_s_limits_usage_and_sender_domains_with_their_dkim_state(dashboard):
    browser = dashboard.browser()
    csrf = browser.csrf("/")
    browser.request("POST", "/logins", {"name": "app", "csrf": csrf})
    browser.request("POST", "/domains", {"domain": "shop.example", "selector": "s1", "csrf": csrf})
    form = {
        "csrf": csrf,
        "enabled": "on",
        "rate": "100/minute",
        "quota": "",
        "over_quota": "hold",
        "sender_domains": "news.shop.example, other.example",
    }
    saved = browser.request("POST", "/logins/app", form)
    assert saved.code == 303
    page = browser.request("GET", "/logins/app").body.decode()
    assert "0 of 100 recipients this minute" in page
    facts = page[page.index("Sender domains") :]
    signed = facts[facts.index("news.shop.example") : facts.index("other.example")]
    assert "signing" in signed and "s1" in signed and "of shop.example" in signed
    assert "no DKIM key" in facts[facts.index("other.example") :]
    assert 'value="100/minute"' in page and 'value="hold" selected' in page
    bad = browser.request("POST", "/logins/app", {**form, "rate": "5/day"})
    assert bad.code == 400 and b"rate:" in bad.body
    cleared = {**form, "rate": "", "sender_domains": ""}
    assert browser.request("POST", "/logins/app", cleared).code == 303
    page = browser.request("GET", "/logins/app").body.decode()
    assert "any sender" in page and "recipients this minute" not in page


HTML_MAIL = (
    b"Subject: offer\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
    b'--m\r\nContent-Type: multipart/alternative; boundary="a"\r\n\r\n'
    b"--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain <b>text</b>\r\n"
    b"--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    b"<p>Hi</p><script>document.title='pwned'</script>"
    b'<img src="https://tracker.example/x.png">\r\n'
    b"--a--\r\n"
    b"--m\r\nContent-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''a%22b%0D%0A%C3%A9.pdf\r\n\r\n"
    b"%PDF\r\n--m--\r\n"
)


def test_a_held_message_is_previewed_with_its_html_in_a_sandboxed_frame(dashboard):
    dashboard.admin.enqueue(QID, content=HTML_MAIL, held=True)
    browser = dashboard.browser("vic", "viewer")
    page = browser.request("GET", f"/messages/{QID}")
    assert page.code == 200
    policy = page.header("content-security-policy")
    assert "default-src 'none'" in policy and "frame-src 'self'" in policy
    assert "script-src" not in policy and page.header("x-frame-options") == "DENY"
    [frame] = re.findall(rb"<iframe[^>]*>", page.body)
    [granted] = re.findall(rb'sandbox="([^"]*)"', frame)
    assert set(granted.split()) == {b"allow-popups", b"allow-popups-to-escape-sandbox"}
    assert f'src="/messages/{QID}/html"'.encode() in frame
    # The page shows the script as text only, in the source.
    assert b"<script>" not in page.body and b"&lt;script&gt;" in page.body
    assert b"Plain &lt;b&gt;text&lt;/b&gt;" in page.body
    assert b"application/pdf" in page.body and f"/messages/{QID}/parts/2".encode() in page.body
    assert f'href="/messages/{QID}.eml"'.encode() in page.body
    shown = browser.request("GET", f"/messages/{QID}/html")
    assert shown.code == 200 and shown.header("content-type") == "text/html; charset=utf-8"
    assert b"<script>" in shown.body  # served as it is: the frame's policy stops it
    strict = shown.header("content-security-policy")
    assert "img-src data:;" in strict and "sandbox" in strict and "https:" not in strict
    assert shown.header("x-frame-options") == "SAMEORIGIN"
    # Remote images only when asked, for the frame and the page's link alike.
    remote = browser.request("GET", f"/messages/{QID}?images=remote")
    assert f'src="/messages/{QID}/html?images=remote"'.encode() in remote.body
    loose = browser.request("GET", f"/messages/{QID}/html?images=remote")
    assert "img-src data: https:;" in loose.header("content-security-policy")
    assert "sandbox" in loose.header("content-security-policy")


def test_downloads_of_the_message_and_its_parts(dashboard):
    dashboard.admin.enqueue(QID, content=HTML_MAIL, held=True)
    browser = dashboard.browser()
    eml = browser.request("GET", f"/messages/{QID}.eml")
    assert eml.code == 200 and eml.body == HTML_MAIL
    assert eml.header("content-type") == "message/rfc822"
    assert eml.header("content-disposition").startswith(f'attachment; filename="{QID}.eml"')
    pdf = browser.request("GET", f"/messages/{QID}/parts/2")
    assert (
        pdf.code == 200 and pdf.body == b"%PDF" and pdf.header("content-type") == "application/pdf"
    )
    # A name with a quote and a line break is no header injection.
    assert pdf.header("content-disposition") == (
        "attachment; filename=\"a_b  _.pdf\"; filename*=UTF-8''a%22b%20%20%C3%A9.pdf"
    )
    assert "sandbox" in pdf.header("content-security-policy")
    for missing in (f"/messages/{QID}/parts/9", f"/messages/{QID[::-1]}.eml"):
        assert browser.request("GET", missing).code == 404
    text = "0123456789ABCDEF0124"
    dashboard.admin.enqueue(text, held=True)
    assert browser.request("GET", f"/messages/{text}/html").code == 404  # no HTML part


def test_mail_kept_after_sending_is_previewed_too(dashboard):
    dashboard.admin.enqueue(QID, content=HTML_MAIL)
    dashboard.admin.finish(QID)
    browser = dashboard.browser()
    assert b"<p>Hi</p>" in browser.request("GET", f"/messages/{QID}/html").body
    assert browser.request("GET", f"/messages/{QID}.eml").body == HTML_MAIL


def test_the_frame_is_utf8_whatever_the_part_says(dashboard):
    latin = (
        b"Content-Type: text/html; charset=iso-8859-1\r\n\r\n"
        b'<meta charset="iso-8859-1"><p>caf\xe9</p>\r\n'
    )
    dashboard.admin.enqueue(QID, content=latin, held=True)
    shown = dashboard.browser().request("GET", f"/messages/{QID}/html")
    assert shown.header("content-type") == "text/html; charset=utf-8"
    assert "<p>café</p>".encode() in shown.body


def test_mail_that_is_not_mime_shows_its_source_and_a_note(dashboard):
    junk = b"\xff\xfe\x00 not mail at all " + b"Content-Type: multipart/mixed; boundary=x\r\n" * 3
    dashboard.admin.enqueue(QID, content=junk, held=True)
    browser = dashboard.browser()
    page = browser.request("GET", f"/messages/{QID}")
    assert page.code == 200 and b'class="problem"' in page.body
    assert b"<iframe" not in page.body and b"not mail at all" in page.body
    assert browser.request("GET", f"/messages/{QID}/html").code == 404


def test_nodes_page(dashboard):
    """The Nodes page lists each node with its status, heartbeat, workers and claims."""
    dashboard.admin.node = "mx-a"
    dashboard.admin.workers = 2
    dashboard.admin.enqueue("0123456789ABCDEF0123", worker=2)
    dashboard.admin.enqueue("FEDCBA98765432100000", held=True)
    browser = dashboard.browser("viewer", role="viewer")
    page = browser.request("GET", "/nodes")
    assert page.code == 200
    body = page.body.decode()
    assert 'href="/nodes"' in body
    assert "Queue: 1 queued, 1 held." in body
    [node] = re.findall(r'<tr data-node="mx-a">(.*?)</tr>', body)
    assert ">up<" in node and "2027-01-15 08:00:00" in node
    assert "1 (worker 1: 0, worker 2: 1)" in node


def test_suppressions_page_shows_the_scope_and_deletes_one(dashboard):
    now = dashboard.clock.seconds()
    dashboard.store.suppress("reader@x.test", "unsubscribed", now, None, "Q" * 20, "app")
    dashboard.store.suppress("reader@x.test", "hard bounce", now + 1, None, None)
    browser = dashboard.browser()
    page = browser.request("GET", "/suppressions")
    assert page.code == 200 and b'href="/suppressions"' in page.body  # in the navigation
    rows = re.findall(
        rb'<tr data-suppression="reader@x.test" data-login="([^"]*)">(.*?)</tr>', page.body
    )
    assert [(login, b"login app" in cells, b"every login" in cells) for login, cells in rows] == [
        (b"app", True, False),
        (b"", False, True),
    ]
    only = browser.request("GET", "/suppressions?login=app")
    assert only.body.count(b"data-suppression=") == 1 and b"unsubscribed" in only.body
    csrf = browser.csrf("/suppressions")
    gone = browser.request(
        "POST", "/suppressions/delete", {"email": "reader@x.test", "login": "app", "csrf": csrf}
    )
    assert gone.code == 303 and gone.header("location") == "/suppressions"
    left = dashboard.store.suppressions(now + 2).result
    assert [e.login for e in left] == [None]
    again = browser.request(
        "POST", "/suppressions/delete", {"email": "reader@x.test", "login": "app", "csrf": csrf}
    )
    assert again.code == 404 and b"not suppressed for login app" in again.body
    viewer = dashboard.browser("vic", "viewer")
    assert b"Delete" not in viewer.request("GET", "/suppressions").body


def test_behind_a_trusted_proxy_the_log_in_throttle_and_the_cookie_go_by_what_it_says(
    dashboard,
):
    """One client's failures do not lock out another behind the same proxy (192.0.2.1)."""
    proxy = TrustedProxies((ip_network("192.0.2.1/32"),))
    dashboard.site.limit(1000, 60.0, proxy)
    password = dashboard.user("ann")
    mallory = Browser(dashboard, X_Forwarded_For="198.51.100.7")
    codes = [mallory.logIn("ann", "guess").code for _ in range(12)]
    assert codes[0] == 401 and codes[-1] == 429
    ann = Browser(dashboard, X_Forwarded_For="198.51.100.8", X_Forwarded_Proto="https")
    answer = ann.logIn("ann", password)
    assert answer.code == 303
    cookie = [v for k, v in answer.headers if k == "set-cookie" and "smtpeter_session" in v]
    assert "Secure" in cookie[0]
    # The proxy's word only: from a client that is none, the headers count for nothing.
    dashboard.site.limit(1000, 60.0)
    headers = {"X_Forwarded_For": "198.51.100.8", "X_Forwarded_Proto": "https"}
    answer = Browser(dashboard, **headers).logIn("ann", password)
    assert answer.code == 303
    assert not [v for k, v in answer.headers if k == "set-cookie" and "Secure" in v]
    for _ in range(12):
        Browser(dashboard, X_Forwarded_For="198.51.100.7").logIn("ann", "guess")
    assert Browser(dashboard, **headers).logIn("ann", password).code == 429


def test_the_access_log_has_logged_in_users_requests_only(dashboard):
    """Anyone who reaches the listener could fill the disk with lines of its own."""
    lines = dashboard.site._logFile = io.StringIO()
    anonymous = Browser(dashboard)
    for _ in range(20):
        assert anonymous.request("GET", "/logins").code == 303
        assert anonymous.request("GET", "/login").code == 200
        assert anonymous.request("GET", "/nothing-here").code == 404
    assert lines.getvalue() == ""
    browser = dashboard.browser()
    assert browser.request("GET", "/logins").code == 200
    [line] = lines.getvalue().splitlines()
    assert '"GET /logins HTTP/1.0" 200' in line


def test_a_refused_log_in_is_logged_once_a_minute_per_address(dashboard):
    observed: list[dict] = []
    globalLogPublisher.addObserver(observed.append)
    try:
        mallory = Browser(dashboard)
        for _ in range(30):
            mallory.logIn("ann", "guess")
    finally:
        globalLogPublisher.removeObserver(observed.append)
    refused = [e for e in observed if "log-in refused" in e.get("log_format", "")]
    assert len(refused) == 1 and refused[0]["ip"] == "192.0.2.1"
