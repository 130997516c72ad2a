"""
Security regression: held mail previewed in the dashboard, in real headless
Chromium against the real gateway. The HTML part of a message sent by a
login in hold mode carries a script, an event handler, a refresh, a form,
a link and remote images pointing at small local servers: nothing runs,
nothing is submitted, a link opens in a new tab only, no remote image is
requested until "Load remote images" is clicked, and then only the https
one. The .eml download is the message.
"""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import ssl
import threading

import pytest

from ..conftest import eventually, writeCertificate
from .conftest import PNG, Dashboard, send

#: What the message would fetch from the plain HTTP server if it could.
PROBES = {"/script", "/onerror", "/refresh", "/form", "/x.png"}


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every GET with a PNG and notes its path in the server's C{seen}."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture
def remote(tmp_path):
    """Two servers on 127.0.0.1, one plain HTTP and one HTTPS (self-signed): their ports and logs."""
    servers = []
    for secure in (False, True):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        server.seen = []
        if secure:
            cert, key = writeCertificate(tmp_path, "ec")
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(cert, key)
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def hostile(http: int, https: int) -> tuple[bytes, str]:
    """A message whose HTML tries to run script, post a form and load remote images."""
    beacon = f"http://127.0.0.1:{http}"
    page = (
        "<html><head><meta http-equiv='refresh' content='0;url="
        f"{beacon}/refresh'></head><body><h1 id=greeting>Spring sale</h1>"
        f"<script>fetch('{beacon}/script'); document.title = 'pwned';"
        " document.getElementById('greeting').textContent = 'pwned';</script>"
        f"<img src='{beacon}/x.png' alt=plain>"
        f"<img src='https://127.0.0.1:{https}/x.png' alt=secure>"
        f"<img src='nosuch' onerror=\"fetch('{beacon}/onerror')\">"
        f"<form action='{beacon}/form' method=post><input name=q value=1>"
        "<button id=go>Go</button></form>"
        f"<a id=away href='{beacon}/link'>away</a>"
        "<img src='cid:logo@example.com' alt=logo id=logo>"
        "</body></html>"
    )
    message = email.message.EmailMessage()
    message["From"] = "news@example.com"
    message["To"] = "reader@example.org"
    message["Subject"] = "hostile preview"
    message.set_content("Plain part: Spring sale\n")
    message.add_alternative(page, subtype="html")
    message.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@example.com>")
    message.add_attachment(b"%PDF-1.4 tiny", "application", "pdf", filename="terms.pdf")
    return message.as_bytes(policy=email.policy.SMTP), page


@pytest.mark.e2e
def test_held_html_neither_runs_nor_loads_until_asked(browser, makeGateway, sink, remote):
    plain, secure = remote
    gateway = makeGateway(sink)
    made = json.loads(gateway.cli("login", "create", "dev", "--hold", "--json").stdout)
    message, page_html = hostile(plain.server_port, secure.server_port)
    send(gateway, "dev", made["password"], message)
    board = Dashboard(browser, gateway, ignore_https_errors=True, accept_downloads=True)
    page = board.page
    found = eventually(
        lambda: board.go("/activity?status=held").locator("table.activity tbody tr a").all(),
        what="the held message in Activity",
    )
    found[0].click()
    qid = page.url.rsplit("/", 1)[1]
    frame = page.frame_locator("iframe.preview")
    assert frame.locator("#greeting").inner_text() == "Spring sale"  # the frame did load
    assert page.title() != "pwned"
    # The inline image (cid:) is the message's own part, shown: it was decoded.
    assert frame.locator("#logo").evaluate("img => img.naturalWidth") == 1
    assert "Plain part: Spring sale" in page.locator("pre.text").inner_text()
    assert "terms.pdf" in page.locator("table.attachments").inner_text()
    board.screenshot("preview")
    # Clicking the form's button submits nothing.
    frame.locator("#go").click()
    assert frame.locator("#greeting").inner_text() == "Spring sale"
    # Neither the script nor the handler ran; no image, refresh or form reached a server.
    assert plain.seen == [] and secure.seen == []
    # A link opens in a new tab (the preview stays), as a page of its own.
    with page.expect_popup() as opened:
        frame.locator("#away").click()
    opened.value.wait_for_load_state()
    assert opened.value.url == f"http://127.0.0.1:{plain.server_port}/link"
    assert frame.locator("#greeting").inner_text() == "Spring sale"
    assert plain.seen[0] == "/link" and not PROBES & set(plain.seen) and secure.seen == []
    opened.value.close()
    # Asked for, remote images load: https only.
    page.click("a.remote")
    eventually(lambda: secure.seen == ["/x.png"], what="the https image to be requested")
    assert page.frame_locator("iframe.preview").locator("#greeting").inner_text() == "Spring sale"
    assert not PROBES & set(plain.seen)
    # The .eml download is the message, as the gateway received it.
    with page.expect_download() as download:
        page.click(f"a[href='/messages/{qid}.eml']")
    assert download.value.suggested_filename == f"{qid}.eml"
    saved = open(download.value.path(), "rb").read()
    parsed = email.message_from_bytes(saved, policy=email.policy.default)
    assert parsed["Subject"] == "hostile preview"
    assert parsed.get_body(("html",)).get_content().rstrip("\r\n") == page_html
    assert saved.endswith(message.split(b"\r\n\r\n", 1)[1])
    answer = board.context.request.get(board.url(f"/messages/{qid}.eml"))
    assert answer.headers["content-type"] == "message/rfc822"
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.body() == saved
    assert not PROBES & set(plain.seen) and sink.messages == []
    board.close()
