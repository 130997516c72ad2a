"""
The dashboard in real headless Chromium (Debian's), against the real
gateway: log in, make an SMTP login and see its password once, send with it
over STARTTLS, find the mail, follow its timeline and its tracked link to
the chart, change a login's features, release held mail; a viewer changes
nothing, a form without its token is refused, a hostile subject stays text.

With SMTPETER_SCREENSHOTS=1 the tests also save the screenshots in
docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from smtpeter.testing import SinkServer

from ..conftest import eventually, freePort
from .conftest import (
    ALLOW_LOCAL,
    SCREENSHOTS,
    Dashboard,
    Receiver,
    compose,
    get,
    html,
    send,
    verify,
)
from .conftest import path as trackedPath

HOSTILE = "<script>document.title='pwned'</script> Spring <b>sale</b>"


@pytest.mark.e2e
def test_from_a_new_login_to_its_mail_its_timeline_and_its_clicks(browser, makeGateway, sink):
    gateway = makeGateway(sink, "--public-url", "http://gw.test:8080")
    board = Dashboard(browser, gateway)
    page = board.page
    # Create an SMTP login with click tracking; its password is shown once.
    board.go("/logins")
    page.fill("input[name=name]", "shop")
    page.check("input[name=features][value=trackclicks]")
    page.click("button:has-text('Create login')")
    password = page.locator("#secret").inner_text()
    assert len(password) >= 24
    board.screenshot("login-created")
    for path in ("/logins", "/logins/shop"):
        assert password not in board.go(path).content()
    assert json.loads(gateway.cli("login", "list", "--json").stdout)[0]["features"] == [
        "trackclicks"
    ]
    # Send with it over STARTTLS (smtplib), with a subject that is markup.
    send(gateway, "shop", password, compose({}, subject=HOSTILE))
    [received] = sink.wait(1)
    [link] = re.findall(r'href="(http://gw\.test:8080/c/[^"]+/deal)"', html(received.data))
    # Find it in activity search (once its record is written: the accepting
    # worker's writer may still have it); the subject is text, not markup.
    eventually(
        lambda: (
            board.go("/activity?recipient=reader%40example.org")
            .locator("table.activity tbody tr")
            .count()
            == 1
        ),
        what="the message in activity search",
    )
    row = page.locator("table.activity tbody tr")
    assert HOSTILE in row.inner_text()
    assert page.locator("main script, main b").count() == 0
    assert page.title() != "pwned"
    board.screenshot("activity")
    exported = board.context.request.get(board.url("/activity.csv?recipient=reader%40example.org"))
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    [header, line] = exported.text().strip().splitlines()
    assert header.startswith("messageid,received,login,sender,from,subject")
    assert row.get_attribute("data-qid") in line and ",reader@example.org," in line
    # Its timeline shows the delivery.
    row.locator("a").first.click()
    assert page.locator("h1").inner_text() == HOSTILE
    eventually(
        lambda: (
            board.go(page.url.removeprefix(gateway.dashboard))
            .locator("table.timeline tr.delivery")
            .count()
            == 1
        ),
        what="the delivery in the timeline",
    )
    assert "250" in page.locator("table.timeline tr.delivery").inner_text()
    # Delivered, its content is still shown (the sent archive, --keep-sent), the HTML rendered.
    assert "Plain: https://shop.example.com/plain" in page.locator("pre.text").inner_text()
    assert page.frame_locator("iframe.preview").locator("a").first.inner_text() == "deal"
    board.screenshot("message")
    # The overview counts what happened; a click on the tracked link shows on the chart.
    assert get(gateway, trackedPath(link))[0].status == 302

    def clicked() -> bool:
        board.go("/")
        return page.locator("svg.chart g[data-kind=clicked]").get_attribute("data-total") == "1"

    eventually(clicked, what="the click on the chart")
    assert page.locator(".card[data-kind=delivered] .number").inner_text() == "1"
    assert page.locator("svg.chart g[data-kind=accepted]").get_attribute("data-total") == "1"
    board.screenshot("overview")
    board.go("/links")
    assert "https://shop.example.com/deal" in page.locator("table.links").inner_text()
    # Switch click tracking off: the next message keeps its links as they were.
    board.go("/logins/shop")
    page.uncheck("input[name=features][value=trackclicks]")
    page.check("input[name=features][value=trackopens]")
    page.click("button:has-text('Save')")
    assert "Saved shop." in page.locator(".notice").inner_text()
    send(gateway, "shop", password, compose({}, subject="second"))
    second = sink.wait(2)[1]
    assert 'href="https://shop.example.com/deal"' in html(second.data)
    assert re.search(r'/o/[A-Za-z0-9_-]+\.gif"', html(second.data))
    board.close()


@pytest.mark.e2e
def test_a_viewer_sees_everything_and_changes_nothing(browser, makeGateway, sink):
    gateway = makeGateway(sink)
    gateway.createLogin("shop")
    viewer = Dashboard(browser, gateway, role="viewer", name="auditor")
    page = viewer.page
    for path in ("/logins", "/logins/shop", "/domains", "/webhooks", "/tokens", "/queue"):
        viewer.go(path)
        assert page.locator("main form[method=post]").count() == 0, path
    assert "shop" in viewer.go("/logins").locator("table").inner_text()
    refused = viewer.post("/logins/shop/delete", {"csrf": viewer.csrf()})
    assert refused.status == 403 and "Read only" in refused.text()
    refused = viewer.post("/logins", {"csrf": viewer.csrf(), "name": "sneaky"})
    assert refused.status == 403
    assert [r["name"] for r in json.loads(gateway.cli("login", "list", "--json").stdout)] == [
        "shop"
    ]
    viewer.close()


@pytest.mark.e2e
def test_a_form_without_its_token_is_refused(browser, makeGateway, sink):
    gateway = makeGateway(sink)
    board = Dashboard(browser, gateway)
    board.go("/logins")
    assert board.post("/logins", {"name": "forged"}).status == 403
    assert board.post("/logins", {"name": "forged", "csrf": "0" * 32}).status == 403
    assert json.loads(gateway.cli("login", "list", "--json").stdout) == []
    made = board.post("/logins", {"name": "real", "csrf": board.csrf()})
    assert made.status == 201
    board.close()


@pytest.mark.e2e
def test_log_in_is_throttled_and_the_session_cookie_is_locked_down(browser, makeGateway, sink):
    gateway = makeGateway(sink)
    board = Dashboard(browser, gateway)
    [cookie] = [c for c in board.context.cookies() if c["name"] == "smtpeter_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    response = board.page.goto(board.url("/"))
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src" not in policy
    assert "default-src 'none'" in policy
    stranger = board.context.browser.new_context()
    page = stranger.new_page()
    answers = []
    for _ in range(6):
        page.goto(board.url("/login"))
        page.fill("input[name=name]", "boss")
        page.fill("input[name=password]", "wrong")
        with page.expect_response(lambda r: r.url.endswith("/login")) as answer:
            page.click("button:has-text('Log in')")
        answers.append(answer.value.status)
    assert answers == [401] * 5 + [429]
    assert "wait ten minutes" in page.locator(".problem").inner_text()
    stranger.close()
    # A password reset ends the sessions signed before it.
    gateway.cli("admin", "reset-password", "boss")
    board.page.goto(board.url("/logins"))
    assert board.page.url.startswith(board.url("/login"))
    board.close()


@pytest.mark.e2e
def test_held_mail_is_shown_with_its_content_and_released_from_the_dashboard(
    browser, makeGateway, sink
):
    gateway = makeGateway(sink)
    password = json.loads(gateway.cli("login", "create", "dev", "--hold", "--json").stdout)[
        "password"
    ]
    send(gateway, "dev", password, compose({}, subject="first try"))
    board = Dashboard(browser, gateway)
    page = board.page
    eventually(
        lambda: board.go("/queue").locator("text=Held (hold mode)").count() == 1,
        what="the held message in the queue",
    )
    board.screenshot("queue")
    page.locator("table tbody tr a").first.click()
    assert page.locator(".held").count() == 1
    assert "Plain: https://shop.example.com/plain" in page.locator("pre.text").inner_text()
    assert sink.messages == []
    # Held mail is "held" in Activity (its own filter finds it) and the overview counts it.
    send(gateway, "dev", password, compose({}, subject="second try"))
    eventually(
        lambda: board.go("/activity?status=held").locator("table.activity tbody tr").count() == 2,
        what="both held messages under status held",
    )
    assert page.locator("table.activity .status").all_inner_texts() == ["held", "held"]
    assert board.go("/activity?status=queued").locator("table.activity").count() == 0
    assert board.go("/").locator(".card[data-kind=held] .number").inner_text() == "2"
    exported = board.context.request.get(board.url("/activity.csv?status=held")).text()
    assert [line.split(",")[8] for line in exported.strip().splitlines()[1:]] == ["held", "held"]
    # Release: the page a button leads to no longer offers the Held box and its buttons.
    board.go("/activity?subject=first+try").locator("table.activity a").first.click()
    assert page.locator("div.held").count() == 1
    page.click("button:has-text('Release')")
    assert "released" in page.locator(".notice").inner_text()
    assert page.locator("div.held").count() == 0
    assert (
        page.locator("main button:has-text('Release'), main button:has-text('Delete')").count() == 0
    )
    assert "Released from hold" in page.locator("p.state").inner_text()
    [received] = sink.wait(1)
    assert b"Subject: first try" in received.data
    # Delete pressed on the Queue page comes back to the Queue.
    board.go("/queue")
    page.click("table.holding button:has-text('Delete')")
    assert page.url == board.url("/queue")
    assert "deleted" in page.locator(".notice").inner_text()
    eventually(
        lambda: board.go("/queue").locator("table.holding").count() == 0,
        what="the deleted message to leave the queue",
    )
    assert board.go("/").locator(".card[data-kind=held] .number").inner_text() == "0"
    assert board.go("/activity?status=held").locator("table.activity").count() == 0
    assert len(sink.messages) == 1
    board.close()


#: Words of table cells a browser broke across lines (inside the word), keys aside.
BROKEN_WORDS = """(selector) => {
  const broken = [];
  for (const cell of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest("code") || !node.parentElement.getClientRects().length)
        continue;
      for (const word of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(word[0]);
      }
    }
  }
  return broken;
}"""


@pytest.mark.e2e
def test_tables_never_break_words_and_activity_reads_on_a_phone(browser, makeGateway, sink):
    gateway = makeGateway(sink)
    # admin create says where this gateway's dashboard is (not the default port).
    made = gateway.cli("admin", "create", "phone").stdout
    assert f"at http://127.0.0.1:{gateway.dashboardPort}/." in made and ":8081" not in made
    password = gateway.createLogin("myapp")
    for subject in ("Purpose of the meeting", "Your receipt"):
        send(gateway, "myapp", password, compose({"X-Smtpeter-Tags": "receipts"}, subject=subject))
    sink.wait(2)
    gateway.cli("domain", "add", "example.com")
    board = Dashboard(browser, gateway)
    page = board.page
    board.go("/domains/example.com")
    assert page.locator("table.records th").first.inner_text() == "Purpose"
    assert page.evaluate(BROKEN_WORDS, "main th, main td") == []
    eventually(
        lambda: board.go("/activity").locator("table.activity .status.delivered").count() == 2,
        what="both deliveries in activity",
    )
    assert page.evaluate(BROKEN_WORDS, "main th, main td") == []
    board.close()
    # A phone, 390 px wide, logged in where admin create said.
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    page = phone.new_page()
    page.goto(re.search(r"at (http://\S+/)\.", made).group(1) + "activity")
    page.fill("input[name=name]", "phone")
    page.fill("input[name=password]", re.search(r"password: (\S+)", made).group(1))
    page.click("button:has-text('Log in')")
    assert page.locator("h1").inner_text() == "Activity"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    rows = page.locator("table.activity tbody tr")
    assert rows.count() == 2
    for row in rows.all():
        box = row.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert "reader@example.org" in row.inner_text()
        # Each cell a full-width line under the other, labelled with its heading.
        for cell in row.locator("td:not(:empty)").all():
            assert cell.bounding_box()["width"] > 300
    labels = page.evaluate(
        "() => [...document.querySelectorAll('table.activity tbody tr:first-child td')]"
        ".filter((td) => td.getClientRects().length)"
        ".map((td) => getComputedStyle(td, '::before').content)"
    )
    assert labels == [
        '"Received (UTC)"',
        '"Subject"',
        '"From"',
        '"Login"',
        '"Recipients"',
        '"Tags"',
    ]
    assert page.evaluate(BROKEN_WORDS, "main td") == []  # the headings are the labels
    if os.environ.get("SMTPETER_SCREENSHOTS"):
        page.screenshot(path=str(SCREENSHOTS / "activity-phone.png"), full_page=True)
    # A domain's records: wider than the phone, the DKIM record's name (one
    # 39-character word) alone may break; the page still does not scroll.
    page.goto(board.url("/domains/example.com"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    [key] = json.loads(gateway.cli("domain", "list", "--json").stdout)
    assert page.evaluate(BROKEN_WORDS, "main td") == [f"{key['selector']}._domainkey.example.com"]
    phone.close()


@pytest.mark.e2e
def test_domains_webhooks_and_tokens(browser, makeGateway, sink):
    gateway = makeGateway(sink, *ALLOW_LOCAL)
    board = Dashboard(browser, gateway)
    page = board.page
    board.go("/domains")
    page.fill("input[name=domain]", "example.com")
    page.click("button:has-text('Add domain')")
    records = page.locator("table.records").inner_text()
    assert "._domainkey.example.com" in records and "v=DKIM1" in records
    assert "v=spf1 a:gw.test -all" in records
    board.screenshot("domain")
    selector = json.loads(gateway.cli("domain", "list", "--json").stdout)[0]["selector"]
    page.click("button:has-text('Rotate the key')")
    keys = json.loads(gateway.cli("domain", "list", "--json").stdout)
    assert len(keys) == 2 and [k["selector"] for k in keys if not k["active"]] == [selector]
    # A token is shown once; the CLI sees it.
    board.go("/tokens")
    page.fill("input[name=name]", "reports")
    page.select_option("select[name=scope]", "admin")
    page.click("button:has-text('Create token')")
    token = page.locator("#secret").inner_text()
    assert token.startswith("smtpeter_") or len(token) > 20
    assert token not in board.go("/tokens").content()
    [listed] = json.loads(gateway.cli("token", "list", "--json").stdout)
    assert (listed["name"], listed["scope"]) == ("reports", "admin")
    # A webhook: its secret once, a test event now, its deliveries in its history.
    receiver = Receiver(failures=1)
    board.go("/webhooks")
    page.fill("input[name=url]", "http://169.254.169.254/latest/meta-data/")  # not allowed
    page.check("input[name=events][value=delivery]")
    page.click("button:has-text('Add webhook')")
    assert "url: destination 169.254.169.254 is not allowed (link-local" in page.content()
    board.go("/webhooks")
    page.fill("input[name=url]", receiver.url)
    page.check("input[name=events][value=delivery]")
    page.click("button:has-text('Add webhook')")
    secret = page.locator("#secret").inner_text()
    assert secret.startswith("whsec_")
    board.go("/webhooks")
    page.click("button:has-text('Send a test event')")
    assert "Test event not delivered: HTTP 500" in page.locator(".notice").inner_text()
    page.click("button:has-text('Send a test event')")
    assert "Test event delivered" in page.locator(".notice").inner_text()
    headers, body, _ = receiver.requests[-1]
    assert verify(secret, headers, body) and json.loads(body)["type"] == "test"
    send(gateway, "app", gateway.createLogin("app"), compose({}))
    sink.wait(1)
    eventually(
        lambda: board.go("/webhooks").locator("table.history .status.delivered").count() == 1,
        what="the delivery in the webhook's history",
    )
    board.screenshot("webhooks")
    receiver.stop()
    board.close()


@pytest.mark.e2e
def test_over_https_the_session_cookie_is_secure(browser, makeGateway, sink, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    port = freePort()
    gateway = makeGateway(
        sink,
        "--dashboard",
        f"ssl:{port}:interface=127.0.0.1:privateKey={key}:certKey={cert}",
    )
    board = Dashboard(browser, gateway, base=f"https://127.0.0.1:{port}", ignore_https_errors=True)
    [cookie] = [c for c in board.context.cookies() if c["name"] == "smtpeter_session"]
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    board.close()


@pytest.mark.e2e
def test_the_queue_by_next_hop_with_retry_and_delete(browser, makeGateway):
    sink = SinkServer(
        policy=lambda stage, argument: "451 4.3.0 try later" if stage == "RCPT" else None
    ).start()
    try:
        gateway = makeGateway(sink, "--retry-initial", "1h")
        password = gateway.createLogin("app")
        send(gateway, "app", password, compose({}, subject="stuck"), ("a@example.org",))
        board = Dashboard(browser, gateway)
        page = board.page

        def waiting() -> bool:
            board.go("/queue")
            return "451" in page.locator("table.queue").inner_text()

        eventually(waiting, timeout=30, what="the deferred message in the queue")
        assert page.locator("h2", has_text=f"relay 127.0.0.1:{sink.port}").count() == 1
        page.click("button:has-text('Retry now')")
        assert "retried" in page.locator(".notice").inner_text()

        def queued() -> list[dict]:
            return json.loads(gateway.cli("queue", "list", "--json").stdout)

        [stuck] = queued()

        def attempts() -> int:
            return queued()[0]["recipients"][0]["attempts"]

        eventually(lambda: attempts() == 2, what="the retry (an hour early)")
        board.go("/queue")
        page.click("button:has-text('Delete')")
        assert "deleted" in page.locator(".notice").inner_text()
        # It leaves the queue; the DSN to its sender (stuck at the same relay) takes its place.
        [dsn] = eventually(
            lambda: [e for e in queued() if e["qid"] != stuck["qid"]] if len(queued()) == 1 else [],
            what="the message to leave the queue",
        )
        assert dsn["sender"] == "" and dsn["recipients"][0]["address"] == "news@example.com"
        board.close()
    finally:
        sink.stop()
