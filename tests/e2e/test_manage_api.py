"""
End to end: the management API (/v1/logins, /v1/tokens, /v1/domains,
/v1/webhooks) against the real gateway, with read and admin tokens; a login
made over HTTP sends mail over SMTP; the CLI sees what the API changed.
"""

from __future__ import annotations

import json
import smtplib

import pytest

from ..conftest import DNSServer, Gateway, eventually
from .conftest import (
    ALLOW_LOCAL,
    Client,
    Dashboard,
    Receiver,
    connect,
    verify,
)


@pytest.fixture
def clients(gateway):
    tokens = {
        scope: json.loads(gateway.cli("token", "create", scope, "--scope", scope, "--json").stdout)[
            "token"
        ]
        for scope in ("read", "admin")
    }
    return Client(gateway, tokens["admin"]), Client(gateway, tokens["read"])


def test_logins_over_http(gateway, sink, clients):
    admin, reader = clients
    code, made, _ = admin.call("POST", "/v1/logins", {"name": "app", "features": ["trackclicks"]})
    assert code == 201 and made["name"] == "app" and made["features"] == ["trackclicks"]
    assert len(made["password"]) >= 32
    cli = json.loads(gateway.cli("login", "list", "--json").stdout)
    assert [(l["name"], l["features"]) for l in cli] == [("app", ["trackclicks"])]  # noqa: E741

    client = connect(gateway, implicit=False)
    assert client.login("app", made["password"])[0] == 235
    client.sendmail("a@example.com", ["b@example.org"], b"Subject: over http\r\n\r\nhi\r\n")
    client.quit()
    assert b"Subject: over http" in sink.wait(1)[0].data

    code, listed, _ = reader.call("GET", "/v1/logins")
    assert code == 200 and [l["name"] for l in listed["logins"]] == ["app"]  # noqa: E741
    assert "password" not in listed["logins"][0]
    code, error, _ = reader.call("PATCH", "/v1/logins/app", {"enabled": False})
    assert code == 403 and "may only read" in error["error"]

    code, changed, _ = admin.call(
        "PATCH",
        "/v1/logins/app",
        {"features": ["trackopens", "inlinecss"], "public_url": "https://t.example.com"},
    )
    assert code == 200 and changed["features"] == ["inlinecss", "trackopens"]
    assert changed["public_url"] == "https://t.example.com"
    code, changed, _ = admin.call("PATCH", "/v1/logins/app", {"enabled": False})
    assert code == 200 and changed["enabled"] is False
    with pytest.raises(smtplib.SMTPAuthenticationError):
        connect(gateway, implicit=False).login("app", made["password"])

    code, again, _ = admin.call("POST", "/v1/logins/app/password")
    assert code == 200 and again["password"] != made["password"]
    admin.call("PATCH", "/v1/logins/app", {"enabled": True})
    assert connect(gateway, implicit=False).login("app", again["password"])[0] == 235

    assert admin.call("POST", "/v1/logins", {"name": "app"})[0] == 409
    assert admin.call("POST", "/v1/logins", {"name": "x", "features": ["nope"]})[0] == 400
    assert admin.call("POST", "/v1/logins", raw=b"{not json")[0] == 400
    assert admin.call("PATCH", "/v1/logins/app", {"colour": "blue"})[0] == 400
    assert admin.call("GET", "/v1/logins/nobody")[0] == 404
    code, error, response = admin.call("PUT", "/v1/logins")
    assert code == 405 and response.getheader("allow") == "GET, POST"
    assert admin.call("DELETE", "/v1/logins/app")[1] == {"name": "app", "deleted": True}
    assert json.loads(gateway.cli("login", "list", "--json").stdout) == []


def test_tokens_domains_and_webhooks_over_http(gateway, clients):
    admin, reader = clients
    code, made, _ = admin.call("POST", "/v1/tokens", {"name": "reports"})
    assert code == 201 and made["scope"] == "read" and made["token"].startswith("spt_")
    code, listed, _ = reader.call("GET", "/v1/tokens")
    assert {t["name"]: t["scope"] for t in listed["tokens"]} == {
        "admin": "admin",
        "read": "read",
        "reports": "read",
    }
    assert all("token" not in t for t in listed["tokens"])
    assert reader.call("POST", "/v1/tokens", {"name": "sneaky", "scope": "admin"})[0] == 403
    assert admin.call("POST", "/v1/tokens", {"name": "x", "scope": "root"})[0] == 400
    assert admin.call("DELETE", "/v1/tokens/reports")[0] == 200
    assert admin.call("DELETE", "/v1/tokens/reports")[0] == 404

    code, domain, _ = admin.call("POST", "/v1/domains", {"domain": "example.com"})
    assert code == 201 and domain["name"].endswith("._domainkey.example.com")
    assert domain["txt"].startswith("v=DKIM1; k=rsa; p=")
    assert admin.call("POST", "/v1/domains", {"domain": "example.com"})[0] == 409
    code, rotated, _ = admin.call("POST", "/v1/domains/example.com/rotate", {"selector": "s2"})
    assert code == 200 and rotated["selector"] == "s2"
    code, shown, _ = reader.call("GET", "/v1/domains/example.com")
    assert shown["selector"] == "s2" and [k["active"] for k in shown["keys"]].count(True) == 1
    assert len(shown["keys"]) == 2
    cli = json.loads(gateway.cli("domain", "list", "--json").stdout)
    assert {k["selector"] for k in cli} == {"s2", domain["selector"]}
    assert admin.call("DELETE", "/v1/domains/example.com")[1]["deleted"] == 2
    assert reader.call("GET", "/v1/domains/example.com")[0] == 404

    code, hook, _ = admin.call(
        "POST", "/v1/webhooks", {"url": "https://hooks.example/in", "events": ["click"]}
    )
    assert code == 201 and hook["secret"].startswith("whsec_") and hook["events"] == ["click"]
    code, listed, _ = reader.call("GET", "/v1/webhooks")
    assert [h["id"] for h in listed["webhooks"]] == [hook["id"]]
    assert "secret" not in listed["webhooks"][0]
    assert admin.call("POST", f"/v1/webhooks/{hook['id']}/enable")[1]["enabled"] is True
    code, _, response = admin.call("GET", f"/v1/webhooks/{hook['id']}")
    assert code == 405 and response.getheader("allow") == "DELETE"
    assert admin.call("POST", "/v1/webhooks", {"url": "ftp://x", "events": ["click"]})[0] == 400
    assert admin.call("DELETE", f"/v1/webhooks/{hook['id']}")[0] == 200
    assert admin.call("DELETE", f"/v1/webhooks/{hook['id']}")[0] == 404


def test_a_webhook_test_event_and_the_queue(makeGateway, sink):
    closed = {"later@example.org", "never@example.org"}
    sink.policy = lambda stage, arg: (
        "451 4.3.0 not now" if stage == "RCPT" and arg.strip("<>") in closed else None
    )
    gateway = makeGateway(sink, *ALLOW_LOCAL)
    token = json.loads(gateway.cli("token", "create", "ops", "--scope", "admin", "--json").stdout)
    admin = Client(gateway, token["token"])
    good, bad = Receiver(failures=0), Receiver(failures=5)
    try:
        webhookTests(admin, good, bad)
    finally:
        good.stop()
        bad.stop()
    queueTests(gateway, admin, sink, closed)


def webhookTests(admin, good, bad):
    hooks = [
        admin.call("POST", "/v1/webhooks", {"url": r.url, "events": ["click"]})[1]
        for r in (good, bad)
    ]
    code, result, _ = admin.call("POST", f"/v1/webhooks/{hooks[0]['id']}/test")
    assert code == 200 and result["delivered"] is True and result["status"] == 204
    [(headers, body, _)] = good.requests
    assert headers["Smtpeter-Event"] == "test" and json.loads(body)["type"] == "test"
    assert verify(hooks[0]["secret"], headers, body)
    code, result, _ = admin.call("POST", f"/v1/webhooks/{hooks[1]['id']}/test")
    assert result == {
        "id": hooks[1]["id"],
        "url": bad.url,
        "delivered": False,
        "status": 500,
        "error": "HTTP 500",
    }
    assert admin.call("POST", "/v1/webhooks/999/test")[0] == 404


def queueTests(gateway, admin, sink, closed):
    password = gateway.createLogin("app")
    client = connect(gateway, implicit=False)
    client.login("app", password)
    for to in ("later@example.org", "never@example.org"):
        client.sendmail("a@example.com", [to], f"Subject: {to}\r\n\r\nq\r\n".encode())
    client.quit()

    def deferred():
        messages = admin.call("GET", "/v1/queue")[1]["messages"]
        tried = [m for m in messages if m["recipients"][0]["attempts"]]
        return len(tried) == 2 and tried

    messages = eventually(deferred, timeout=20, what="two deferred messages")
    later, never = sorted(messages, key=lambda m: m["recipients"][0]["address"])
    assert later["sender"] == "a@example.com" and later["login"] == "app"
    assert "451" in later["recipients"][0]["last"]
    cli = json.loads(gateway.cli("queue", "list", "--json").stdout)
    assert sorted(m["qid"] for m in cli) == sorted([later["qid"], never["qid"]])

    # The next attempt is a minute away (--retry-initial): retry now.
    closed.discard("later@example.org")
    code, requested, _ = admin.call("POST", f"/v1/queue/{later['qid']}/retry")
    assert code == 202 and requested == {
        "qid": later["qid"],
        "action": "retry",
        "status": "requested",
    }
    [delivered] = sink.wait(1, timeout=10)
    assert delivered.recipients == ["later@example.org"]

    # Deleted: its sender hears of it, as NOTIFY (the default) asks.
    code, requested, _ = admin.call("DELETE", f"/v1/queue/{never['qid']}")
    assert code == 202
    [_, notice] = sink.wait(2, timeout=10)
    assert notice.mailFrom == "" and notice.recipients == ["a@example.com"]
    assert b"deleted from the queue by an administrator" in notice.data
    eventually(lambda: not admin.call("GET", "/v1/queue")[1]["messages"], what="an empty queue")
    assert admin.call("POST", f"/v1/queue/{never['qid']}/retry")[0] == 404
    assert "no message" in gateway.cli("queue", "delete", never["qid"], check=False).stderr


def test_domain_check_against_real_dns(tmp_path, sink, browser):
    dns = DNSServer(tmp_path)
    gateway = Gateway(
        tmp_path / "data",
        sink.port,
        [
            "--dns-server",
            f"127.0.0.1:{dns.port}",
            "--bounce-domain",
            "bounces.example.test",
            "--public-url",
            "https://click.example.test",
        ],
    )
    gateway.cli("init")
    good = json.loads(gateway.cli("domain", "add", "example.test", "--json").stdout)
    bad = json.loads(gateway.cli("domain", "add", "other.test", "--json").stdout)
    txt = good["txt"]
    chunks = ", ".join(repr(txt[i : i + 255].encode()) for i in range(0, len(txt), 255))
    zone = (
        "zone = [\n"
        '    SOA("example.test", mname="ns.example.test", rname="root.example.test",'
        " serial=1, refresh=60, retry=60, expire=60, minimum=60),\n"
        f"    TXT({good['name']!r}, {chunks}),\n"
        '    TXT("bounces.example.test", b"v=spf1 a:gw.test -all"),\n'
        '    MX("bounces.example.test", 10, "gw.test"),\n'
        '    CNAME("click.example.test", "gw.test"),\n'
        '    SOA("other.test", mname="ns.other.test", rname="root.other.test",'
        " serial=1, refresh=60, retry=60, expire=60, minimum=60),\n"
        "    TXT(" + repr(bad["name"]) + ', b"v=DKIM1; k=rsa; p=stale"),\n'
        "]\n"
    )
    dns.start(zone)
    gateway.start()
    try:
        token = json.loads(gateway.cli("token", "create", "r", "--json").stdout)["token"]
        reader = Client(gateway, token)
        code, checked, _ = reader.call("GET", "/v1/domains/example.test/check")
        assert code == 200 and checked["ok"] is True, [
            (r["kind"], r["found"], r["problem"]) for r in checked["records"]
        ]
        assert {r["kind"]: r["ok"] for r in checked["records"]} == {
            "dkim": True,
            "spf": True,
            "bounce": True,
            "click": True,
        }
        code, checked, _ = reader.call("GET", "/v1/domains/other.test/check")
        assert code == 200 and checked["ok"] is False
        [dkim] = [r for r in checked["records"] if r["kind"] == "dkim"]
        assert dkim["found"] == ["v=DKIM1; k=rsa; p=stale"] and "publish TXT" in dkim["problem"]
        assert reader.call("GET", "/v1/domains/nowhere.test/check")[0] == 404
        # The dashboard's live check says the same, and what to fix.
        board = Dashboard(browser, gateway)
        board.go("/domains/other.test")
        board.page.click("button:has-text('Check DNS now')")
        result = {
            row.get_attribute("data-kind"): row.inner_text()
            for row in board.page.locator("table.check tbody tr").all()
        }
        assert set(result) == {"dkim", "spf", "bounce", "click"}
        assert "failed" in result["dkim"] and "publish TXT" in result["dkim"]
        assert "ok" in result["spf"] and "failed" not in result["spf"]
        board.close()
    finally:
        gateway.stop()
        dns.stop()
