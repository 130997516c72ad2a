"""
Security regressions: webhooks pointed at internal services (SSRF).

An admin token or dashboard login could add a webhook on 127.0.0.1,
localhost, [::1], 0.0.0.0, 2130706433, 127.1, 169.254.169.254 or
[fd00:ec2::254], and POST /v1/webhooks/ID/test reported what each internal
service answered: a port and status oracle. Such destinations are refused
when added (API 400 naming url, CLI one line), and when connected to (a
webhook added while they were allowed, the gateway then restarted without
--webhook-allow-network): the delivery fails with "destination ... is not
allowed", and no status of such a destination is ever reported.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time

from smtpeter.events import Destinations

from ..conftest import BIN
from .conftest import ALLOW_LOCAL, Client, QuietHandler, Receiver, compose, send, serveHooks

#: The issue's list (the first eight), and more spellings of such places.
INTERNAL = [
    "http://127.0.0.1:6379/",
    "http://localhost:8080/hook",
    "http://[::1]:22/",
    "http://0.0.0.0:25/",
    "http://2130706433/",
    "http://127.1:8081/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "https://[::ffff:127.0.0.1]/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://hooks.localhost/",
]
REFUSAL = re.compile(r"^url: (\S+ resolves to \S+: )?destination \S+ is not allowed \(")


def admin(gateway) -> Client:
    made = gateway.cli("token", "create", "ops", "--scope", "admin", "--json").stdout
    return Client(gateway, json.loads(made)["token"])


def test_internal_destinations_are_refused_when_added(makeGateway, sink):
    gateway = makeGateway(sink, "--workers", "1")
    api = admin(gateway)
    for url in INTERNAL:
        code, answer, _ = api.call("POST", "/v1/webhooks", {"url": url, "events": ["click"]})
        assert code == 400 and answer["parameter"] == "url", (url, answer)
        assert REFUSAL.match(answer["error"]), (url, answer)
    # The CLI, for the list, all at once (each is a process of its own; the
    # other spellings are the same code, in tests/test_cli.py and tests/events).
    command = [str(BIN / "smtpeter"), "--data", str(gateway.data), "webhook", "add"]
    runs = [
        (
            url,
            subprocess.Popen([*command, url, "--event", "click"], stdout=-1, stderr=-1, text=True),
        )
        for url in INTERNAL[:8]
    ]
    for url, run in runs:
        out, err = run.communicate(timeout=30)
        assert run.returncode == 1 and out == "" and len(err.splitlines()) == 1, (url, err)
        assert REFUSAL.match(err.removeprefix("smtpeter: ")), (url, err)
    # A name resolved by this machine's resolver (/etc/hosts, DNS), as a delivery would.
    name = socket.gethostname()
    try:
        found = {a[4][0] for a in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    except OSError:
        found = set()
    internal = bool(found) and all(Destinations().refusal(a) for a in found)
    code, answer, _ = api.call(
        "POST", "/v1/webhooks", {"url": f"http://{name}:9/", "events": ["click"]}
    )
    if internal:  # a test machine's own name: loopback or a private address
        assert code == 400 and answer["error"].startswith(f"url: {name} resolves to "), answer
    else:
        assert code == 201 and api.call("DELETE", f"/v1/webhooks/{answer['id']}")[0] == 200
    assert api.call("GET", "/v1/webhooks")[1]["webhooks"] == []
    assert json.loads(gateway.cli("webhook", "list", "--json").stdout) == []
    # Allowed explicitly, the CLI adds one (for a receiver on this network).
    added = gateway.cli("webhook", "add", "http://127.0.0.1:9/", "--event", "click", *ALLOW_LOCAL)
    assert "added webhook" in added.stdout


class Redirector:
    """Answers every POST with a redirect to C{location}."""

    def __init__(self, location: str) -> None:
        self.posts = 0
        redirector = self

        class Handler(QuietHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["content-length"]))
                redirector.posts += 1
                self.send_response(307)
                self.send_header("location", location)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server, self.url = serveHooks(Handler)


def test_allowed_once_refused_after_a_restart_without_the_allowance(makeGateway, sink):
    hook = Receiver(failures=0)
    inside = Receiver(failures=0)  # what a redirect points at
    redirector = Redirector(inside.url)
    try:
        gateway = makeGateway(sink, "--workers", "1", *ALLOW_LOCAL)
        api = admin(gateway)
        url = hook.url.replace("127.0.0.1", "localhost")  # a name, resolved at each connection
        code, made, _ = api.call("POST", "/v1/webhooks", {"url": url, "events": ["delivery"]})
        assert code == 201, made
        code, tested, _ = api.call("POST", f"/v1/webhooks/{made['id']}/test")
        assert (tested["delivered"], tested["status"]) == (True, 204)
        assert len(hook.requests) == 1
        # Redirects are not followed, not even to an allowed address.
        code, moved, _ = api.call(
            "POST", "/v1/webhooks", {"url": redirector.url, "events": ["click"]}
        )
        tested = api.call("POST", f"/v1/webhooks/{moved['id']}/test")[1]
        assert (tested["delivered"], tested["status"], tested["error"]) == (False, 307, "HTTP 307")
        assert redirector.posts == 1 and inside.requests == []

        gateway.stop()
        gateway.extra = [a for a in gateway.extra if a not in ALLOW_LOCAL]
        gateway.start()
        code, tested, _ = api.call("POST", f"/v1/webhooks/{made['id']}/test")
        assert code == 200 and tested["delivered"] is False and tested["status"] is None
        assert re.fullmatch(
            r"destination (127\.0\.0\.1|::1) is not allowed \(loopback; see"
            r" --webhook-allow-network\)",
            tested["error"],
        ), tested
        send(gateway, "app", gateway.createLogin("app"), compose({}))
        deadline = time.monotonic() + 20
        while not (listed := api.call("GET", "/v1/webhooks")[1]["webhooks"])[0]["deliveries"]:
            assert time.monotonic() < deadline, listed
            time.sleep(0.1)
        [attempt] = listed[0]["deliveries"]
        assert attempt["delivered"] is False and attempt["error"] == tested["error"]
        assert listed[0]["last_error"] == tested["error"]
        assert len(hook.requests) == 1  # only the test event sent while it was allowed
        cli = json.loads(gateway.cli("webhook", "list", "--json").stdout)
        assert cli[0]["last_error"] == tested["error"]
        assert not re.search(r"HTTP \d|\b204\b", json.dumps(cli[0]["deliveries"]))
    finally:
        for server in (hook, inside):
            server.stop()
        redirector.server.shutdown()
