"""Helpers the end-to-end tests share: SMTP, HTTP and dashboard clients, messages, receivers."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import http.client
import http.server
import json
import os
import random
import re
import smtplib
import socket
import sqlite3
import ssl
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode


def context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect(gateway, implicit: bool) -> smtplib.SMTP:
    if implicit:
        client = smtplib.SMTP_SSL("127.0.0.1", gateway.smtpsPort, context=context(), timeout=30)
    else:
        client = smtplib.SMTP("127.0.0.1", gateway.smtpPort, timeout=30)
        client.starttls(context=context())
    client.ehlo("client.test")
    return client


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0500f0004850180848a6a4b0000000049454e44ae426082"
)


def compose(
    headers: dict[str, str],
    sender="news@example.com",
    to="reader@example.org",
    subject="features",
) -> bytes:
    message = email.message.EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    for name, value in headers.items():
        message[name] = value
    message.set_content("Plain: https://shop.example.com/plain\n")
    message.add_alternative(
        "<html><head><style>p { color: #123456 }</style></head><body>"
        '<p><a href="https://shop.example.com/deal">deal</a> '
        '<a href="https://shop.example.com/visible">shop.example.com/visible</a>'
        '<img src="cid:logo@example.com"></p></body></html>',
        subtype="html",
    )
    message.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@example.com>")
    return message.as_bytes(policy=email.policy.SMTP)


def html(data: bytes) -> str:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    return next(p for p in parsed.walk() if p.get_content_type() == "text/html").get_content()


EFFECTS = {
    "trackclicks": lambda r: (
        "/c/" in html(r.data) and "https://shop.example.com/deal" not in html(r.data)
    ),
    "trackopens": lambda r: re.search(r'/o/[A-Za-z0-9_-]+\.gif"', html(r.data)) is not None,
    "inlinecss": lambda r: 'style="color: #123456' in html(r.data),
    "hostedimages": lambda r: "/i/" in html(r.data) and b"Content-Type: image/png" not in r.data,
    "trackbounces": lambda r: r.mailFrom.endswith("@gw.test") and r.mailFrom.startswith("b"),
    # With clicks tracked: the link that shows its own address is left alone.
    "preventscam": lambda r: 'href="https://shop.example.com/visible"' in html(r.data),
}


def send(gateway, login, password, message, recipients=("reader@example.org",)):
    client = connect(gateway, implicit=False)
    client.login(login, password)
    client.sendmail("news@example.com", list(recipients), message)
    client.quit()


def get(gateway, path: str, method="GET", **headers):
    connection = http.client.HTTPConnection("127.0.0.1", gateway.httpPort, timeout=10)
    connection.request(method, path, headers={"User-Agent": BROWSER, **headers})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def events(gateway, type: str) -> list[dict]:
    db = sqlite3.connect(gateway.data / "smtpeter.sqlite")
    rows = db.execute(
        "SELECT qid, recipient, tags, details FROM events WHERE type = ? ORDER BY id", (type,)
    ).fetchall()
    return [
        {"qid": q, "recipient": r, "tags": json.loads(t), **json.loads(d)} for q, r, t, d in rows
    ]


def tracked(makeGateway, sink, *options: str):
    gateway = makeGateway(sink, "--public-url", "http://gw.test:8080", *options)
    password = gateway.createLogin("app", "trackclicks", "trackopens", "hostedimages")
    send(gateway, "app", password, compose({"X-Smtpeter-Tags": "spring, sale"}))
    [received] = sink.wait(1)
    return gateway, html(received.data)


def path(url: str) -> str:
    assert url.startswith("http://gw.test:8080/")
    return url[len("http://gw.test:8080") :]


#: What lets webhooks reach the receivers of these tests, on 127.0.0.1.
ALLOW_LOCAL = ("--webhook-allow-network", "127.0.0.0/8")


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing (the test's output stays readable)."""

    def log_message(self, *args):
        pass


def serveHooks(handler: type[http.server.BaseHTTPRequestHandler]):
    """A threaded HTTP server of C{handler}'s on 127.0.0.1, running: it, and its C{/hook} URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


class Receiver:
    """
    Answers C{failures} POSTs with 500, then 204; or, C{closeDelimited}, 200
    with a body and no length, ended by closing (HTTP/1.0 style, as
    C{http.server} answers unless told otherwise).
    """

    def __init__(self, failures: int, closeDelimited: bool = False, delay: float = 0.0) -> None:
        self.failures = failures
        #: How long each answer takes (a slow receiver).
        self.delay = delay
        self.requests: list[tuple[dict, bytes, int]] = []
        receiver = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                time.sleep(receiver.delay)
                code = 500 if receiver.failures > 0 else 200 if closeDelimited else 204
                receiver.failures -= 1
                receiver.requests.append((dict(self.headers.items()), body, code))
                self.send_response(code)
                if closeDelimited:
                    self.end_headers()
                    self.wfile.write(b"received, thank you\n")
                    return
                self.send_header("content-length", "0")
                self.end_headers()

        self.server, self.url = serveHooks(Handler)

    def stop(self):
        self.server.shutdown()

    def wait(self, predicate, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not predicate(self.requests):
            assert time.monotonic() < deadline, self.requests
            time.sleep(0.05)


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """The check docs/webhooks.md shows a receiver how to make."""
    timestamp = headers["Smtpeter-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    given = headers["Smtpeter-Signature"].removeprefix("v1=")
    return (
        hmac.compare_digest(expected.hexdigest(), given) and abs(time.time() - int(timestamp)) < 300
    )


class Client:
    def __init__(self, gateway, token: str) -> None:
        self.gateway = gateway
        self.token = token

    def call(self, method: str, path: str, body=None, raw: bytes | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.gateway.httpPort, timeout=30)
        data = raw if raw is not None else json.dumps(body) if body is not None else None
        connection.request(
            method,
            path,
            data,
            {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        assert response.getheader("content-type") == "application/json", payload
        documented(method, path, response.status, json.loads(payload))
        return response.status, json.loads(payload), response


def connection(gateway, source: str = "127.0.0.1", sock=None) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection(
        "127.0.0.1", gateway.dashboardPort, timeout=30, source_address=(source, 0)
    )
    if sock is not None:
        conn.sock = sock
    return conn


def request(conn, method, path, cookies=None, form=None) -> Answer:
    headers = {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    return Answer(conn.getresponse())


def createAdmin(gateway, name: str) -> str:
    return json.loads(gateway.cli("admin", "create", name, "--json").stdout)["password"]


def logIn(gateway, name: str, password: str, source: str = "127.0.0.1") -> dict:
    """A new session's cookies."""
    cookies, csrf = loginForm(gateway, source)
    answer = request(
        connection(gateway, source),
        "POST",
        "/login",
        cookies,
        {"csrf": csrf, "name": name, "password": password, "next": "/"},
    )
    assert answer.status == 303 and answer.location == "/", (answer.status, answer.body)
    return {"smtpeter_session": answer.cookies["smtpeter_session"]}


def workerHolding(gateway, sock: socket.socket, port: int, timeout: float = 5.0) -> int:
    """Which worker has accepted C{sock}'s connection (read from /proc, once it has)."""
    server, mine = _hexAddress("127.0.0.1", port), _hexAddress(*sock.getsockname())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            inodes = {row.split()[9] for row in f if row.split()[1:3] == [server, mine]}
        for index, pid in enumerate(gateway.workerPids(), start=1):
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except FileNotFoundError:
                continue
            for fd in fds:
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except FileNotFoundError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return index
        time.sleep(0.02)
    raise AssertionError("no worker accepted the connection")


def subject(data: bytes) -> str:
    return email.message_from_bytes(data)["Subject"]


@contextmanager
def load(gateway, password: str, clients: int = 4):
    """
    C{clients} threads sending in a loop, over and over as the gateway
    comes and goes, until the block ends; yields the subjects that got 250.
    """
    stop = threading.Event()
    accepted: list[str] = []
    threads = [
        threading.Thread(target=sender, args=(gateway, password, f"t{i}", accepted, stop))
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    try:
        yield accepted
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)


def arrivals(sink, wanted: set[str], timeout: float = 60) -> Counter:
    """Wait until every subject in C{wanted} has arrived; how often each subject did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not wanted <= {subject(m.data) for m in sink.messages}:
        time.sleep(0.2)
    arrived = Counter(subject(m.data) for m in sink.messages)
    missing = wanted - set(arrived)
    assert not missing, f"{len(missing)} of {len(wanted)} accepted messages lost"
    return arrived


DOCS = Path(__file__).parents[2] / "docs" / "openapi.json"


def _matches(schema: dict, value, components: dict) -> bool:
    """Just enough JSON Schema for our document: $ref, type, required, enum, items."""
    if "$ref" in schema:
        return _matches(components[schema["$ref"].rsplit("/", 1)[1]], value, components)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        python = {
            "object": dict,
            "array": list,
            "string": str,
            "integer": int,
            "number": (int, float),
            "boolean": bool,
            "null": type(None),
        }
        if not any(isinstance(value, python[k]) for k in kinds):
            return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if isinstance(value, dict):
        if any(key not in value for key in schema.get("required", ())):
            return False
        for key, sub in schema.get("properties", {}).items():
            if key in value and not _matches(sub, value[key], components):
                return False
    if isinstance(value, list) and "items" in schema:
        return all(_matches(schema["items"], v, components) for v in value)
    return True


class Dashboard:
    """One browser session on a gateway's dashboard."""

    def __init__(
        self, browser, gateway, role="admin", name="boss", base: str | None = None, **options
    ) -> None:
        self.gateway = gateway
        self.base = base or gateway.dashboard
        made = json.loads(gateway.cli("admin", "create", name, "--role", role, "--json").stdout)
        self.name, self.password = made["name"], made["password"]
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
        self.page = self.context.new_page()
        self.logIn()

    def url(self, path: str) -> str:
        return self.base + path

    def logIn(self) -> None:
        self.page.goto(self.url("/"))
        assert self.page.url.startswith(self.url("/login"))
        self.page.fill("input[name=name]", self.name)
        self.page.fill("input[name=password]", self.password)
        self.page.click("button:has-text('Log in')")
        assert self.page.locator("h1").inner_text() == "Overview"

    def go(self, path: str):
        response = self.page.goto(self.url(path))
        assert response.status == 200, (path, response.status)
        return self.page

    def csrf(self) -> str:
        return self.page.locator("input[name=csrf]").first.get_attribute("value")

    def post(self, path: str, form: dict):
        """A form post with this session's cookies, as another page (or site) would send it."""
        return self.context.request.post(self.url(path), form=form, max_redirects=0)

    def screenshot(self, name: str) -> None:
        if os.environ.get("SMTPETER_SCREENSHOTS"):
            SCREENSHOTS.mkdir(exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


DOCUMENT = json.loads(DOCS.read_text())


def documented(method: str, path: str, status: int, body) -> None:
    """The answer is one the OpenAPI document describes, for that path, method and status."""
    item = next(
        (
            item
            for template, item in DOCUMENT["paths"].items()
            if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", "/v1" + template), path)
        ),
        None,
    )
    assert item is not None, f"{path} is not in the OpenAPI document"
    if status == 405:
        assert method.lower() not in item
        return
    responses = item[method.lower()]["responses"]
    assert str(status) in responses, (method, path, status)
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    assert _matches(schema, body, DOCUMENT["components"]["schemas"]), (method, path, body)


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.location = response.getheader("location") or ""
        self.cookies = {}
        for header in response.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";")[0]
        self.body = response.read().decode("utf-8", "replace")

    @property
    def csrf(self) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.body).group(1)


def loginForm(gateway, source: str = "127.0.0.1") -> tuple[dict, str]:
    """A fresh log-in form's cookie and token."""
    form = request(connection(gateway, source), "GET", "/login")
    assert form.status == 200
    return {"smtpeter_login": form.cookies["smtpeter_login"]}, form.csrf


def _hexAddress(host: str, port: int) -> str:
    return "".join(f"{int(b):02X}" for b in reversed(host.split("."))) + f":{port:04X}"


def sender(gateway, password, name, accepted, stop):
    while not stop.is_set():
        try:
            client = connect(gateway, implicit=False)
            client.login("loader", password)
            while not stop.is_set():
                token = f"{name}-{len(accepted)}-{random.random()}"
                client.mail("a@example.com")
                client.rcpt("b@example.org")
                code, _ = client.data(f"Subject: {token}\r\n\r\n{token}\r\n".encode())
                if code == 250:
                    accepted.append(token)
        except (smtplib.SMTPException, OSError):
            time.sleep(0.05)  # the gateway is down: try again, as a client would


SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


# Which worker holds a connection (the kernel chooses) ----------------------------


def _serverInode(server: str, client: str, table: str = "/proc/net/tcp") -> str | None:
    """
    The inode of the socket at C{server} connected to C{client}, from one
    reading of /proc/net/tcp, or C{None} if that reading did not show it.

    The kernel writes that file a page at a time, resuming each read where
    it thinks the last one stopped; sockets opened or closed in between
    (any other test's) shift that place, so a reading can show a row twice
    or not at all. A row repeated is the same socket: counted once.
    """
    with open(table) as f:
        inodes = {
            row.split()[9]
            for row in f
            if row.split()[1:3] == [server, client] and row.split()[9] != "0"
        }
    assert len(inodes) <= 1, inodes  # one 4-tuple, one open socket
    return inodes.pop() if inodes else None


def workerOf(gateway, client: smtplib.SMTP, within: float = 10.0) -> int:
    """Which worker holds the server end of C{client}'s connection (read from /proc)."""
    server = _hexAddress("127.0.0.1", gateway.smtpPort)
    mine = _hexAddress(*client.sock.getsockname())
    deadline = time.monotonic() + within
    while (inode := _serverInode(server, mine)) is None:
        # Missed by this reading (see _serverInode): the connection is
        # open, since its greeting arrived, so a later reading shows it.
        assert time.monotonic() < deadline, f"no socket for {mine} in /proc/net/tcp"
        time.sleep(0.01)
    for index, pid in enumerate(gateway.workerPids(), start=1):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return index
            except FileNotFoundError:
                continue
    raise AssertionError("no worker holds the connection")


def oneOnEachWorker(gateway, source: str, tries: int = 60) -> dict[int, smtplib.SMTP]:
    """
    A connection from address C{source} to each worker, after STARTTLS and
    EHLO. Which worker takes a connection is the kernel's choice: connect
    until each has one.
    """
    found: dict[int, smtplib.SMTP] = {}
    for _ in range(tries):
        # The greeting has arrived: a worker has accepted the connection.
        client = smtplib.SMTP("127.0.0.1", gateway.smtpPort, timeout=30, source_address=(source, 0))
        worker = workerOf(gateway, client)
        if worker in found:
            client.close()
            continue
        client.starttls(context=context())
        client.ehlo("client.test")
        found[worker] = client
        if len(found) == 2:
            return found
    raise AssertionError(f"only workers {sorted(found)} took connections in {tries} tries")
