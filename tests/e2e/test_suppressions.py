"""
End to end: the suppression list. An address the next hop says does not
exist is suppressed; later mail to it is not attempted but failed (with a
DSN); a header overrides that for one message; the CLI and the REST API
manage the list.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import time

from .test_features import compose, send

UNKNOWN = "gone@example.org"


def events(gateway, type: str) -> list[dict]:
    db = sqlite3.connect(gateway.data / "smtpeter.sqlite")
    rows = db.execute(
        "SELECT qid, recipient, details FROM events WHERE type = ? ORDER BY id", (type,)
    ).fetchall()
    return [{"qid": q, "recipient": r, **json.loads(d)} for q, r, d in rows]


def waitFor(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def api(gateway, method: str, path: str, token: str, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", gateway.httpPort, timeout=10)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, json.loads(data) if data else None, response


def test_an_unknown_address_is_suppressed_and_then_not_attempted(makeGateway, sink):
    sink.policy = lambda stage, arg: (
        "550 5.1.1 <gone@example.org>: user unknown" if stage == "RCPT" and UNKNOWN in arg else None
    )
    gateway = makeGateway(sink)
    password = gateway.createLogin("app")
    send(gateway, "app", password, compose({}, to=UNKNOWN), recipients=(UNKNOWN,))
    [first] = waitFor(lambda: events(gateway, "failure"))
    assert first["reason"] == "user unknown" and first["recipient"] == UNKNOWN
    listed = waitFor(
        lambda: json.loads(gateway.cli("suppression", "list", "--json").stdout) or None
    )
    assert [(e["email"], e["reason"], e["messageid"]) for e in listed] == [
        (UNKNOWN, "hard bounce", first["qid"])
    ]
    assert listed[0]["expires"] is not None  # --suppression-days, 365 by default
    sink.wait(1)  # the DSN about the first failure

    send(gateway, "app", password, compose({}, to=UNKNOWN), recipients=(UNKNOWN,))
    second = waitFor(lambda: events(gateway, "failure")[1:])[0]
    assert second["reason"] == "suppressed" and "suppression list" in second["text"]
    assert second["permanent"] is True
    [dsn] = sink.wait(2)[1:]  # the sender still hears of it, as NOTIFY asked
    assert dsn.mailFrom == "" and dsn.recipients == ["news@example.com"]
    assert b"suppression list" in dsn.data
    rcpts = [r for m in sink.messages for r in m.recipients]
    assert rcpts.count(UNKNOWN) == 0  # never offered to the next hop again

    send(
        gateway,
        "app",
        password,
        compose({"X-Smtpeter-IgnoreSuppression": "true"}, to=UNKNOWN),
        recipients=(UNKNOWN,),
    )
    third = waitFor(lambda: events(gateway, "failure")[2:])[0]
    assert third["reason"] == "user unknown"  # attempted: the next hop refused it again


def test_the_list_through_the_cli_and_the_api(gateway):
    token = json.loads(gateway.cli("token", "create", "ops", "--scope", "admin", "--json").stdout)[
        "token"
    ]
    code, entry, _ = api(
        gateway, "POST", "/v1/suppressions", token, {"email": "A@Example.COM", "days": 1}
    )
    assert code == 201 and entry["email"] == "A@example.com" and entry["expires"]
    gateway.cli("suppression", "add", "b@example.com", "--reason", "asked us to stop")
    code, body, _ = api(gateway, "GET", "/v1/suppressions", token)
    assert [e["email"] for e in body["suppressions"]] == ["A@example.com", "b@example.com"]
    code, found, _ = api(gateway, "GET", "/v1/suppressions/a@example.com", token)
    assert code == 200 and found["reason"] == "added by an administrator"
    assert api(gateway, "DELETE", "/v1/suppressions/b@example.com", token)[0] == 200
    code, error, _ = api(gateway, "DELETE", "/v1/suppressions/b@example.com", token)
    assert code == 404 and "not suppressed" in error["error"]
    code, error, _ = api(gateway, "POST", "/v1/suppressions", token, {"email": "nobody"})
    assert code == 400 and error["parameter"] == "email"
    code, error, response = api(gateway, "PUT", "/v1/suppressions", token, {})
    assert code == 405 and response.getheader("allow") == "GET, HEAD, POST, DELETE"
    exported = gateway.cli("suppression", "export").stdout.splitlines()
    assert exported[0] == "email,reason,created,expires,messageid"
    assert exported[1].startswith("A@example.com,added by an administrator,")
    assert api(gateway, "GET", "/v1/suppressions", "spt_wrong")[0] == 401
