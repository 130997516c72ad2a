"""
End to end: the suppression list. An address the next hop says does not
exist is suppressed; later mail to it is not attempted but failed (with a
DSN); a header overrides that for one message; the CLI and the REST API
manage the list.
"""

from __future__ import annotations

import json

from ..conftest import eventually
from .conftest import Client, compose, events, send

UNKNOWN = "gone@example.org"


def test_an_unknown_address_is_suppressed_and_then_not_attempted(makeGateway, sink):
    sink.policy = lambda stage, arg: (
        "550 5.1.1 <gone@example.org>: user unknown" if stage == "RCPT" and UNKNOWN in arg else None
    )
    gateway = makeGateway(sink)
    password = gateway.createLogin("app")
    send(gateway, "app", password, compose({}, to=UNKNOWN), recipients=(UNKNOWN,))
    [first] = eventually(lambda: events(gateway, "failure"), timeout=20)
    assert first["reason"] == "user unknown" and first["recipient"] == UNKNOWN
    listed = eventually(
        lambda: json.loads(gateway.cli("suppression", "list", "--json").stdout) or None,
        timeout=20,
    )
    assert [(e["email"], e["reason"], e["messageid"]) for e in listed] == [
        (UNKNOWN, "hard bounce", first["qid"])
    ]
    assert listed[0]["expires"] is not None  # --suppression-days, 365 by default
    sink.wait(1)  # the DSN about the first failure

    send(gateway, "app", password, compose({}, to=UNKNOWN), recipients=(UNKNOWN,))
    second = eventually(lambda: events(gateway, "failure")[1:], timeout=20)[0]
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
    third = eventually(lambda: events(gateway, "failure")[2:], timeout=20)[0]
    assert third["reason"] == "user unknown"  # attempted: the next hop refused it again


def test_the_list_through_the_cli_and_the_api(gateway):
    token = json.loads(gateway.cli("token", "create", "ops", "--scope", "admin", "--json").stdout)[
        "token"
    ]
    admin = Client(gateway, token)
    code, entry, _ = admin.call("POST", "/v1/suppressions", {"email": "A@Example.COM", "days": 1})
    assert code == 201 and entry["email"] == "A@example.com" and entry["expires"]
    gateway.cli("suppression", "add", "b@example.com", "--reason", "asked us to stop")
    code, body, _ = admin.call("GET", "/v1/suppressions")
    assert [e["email"] for e in body["suppressions"]] == ["A@example.com", "b@example.com"]
    code, found, _ = admin.call("GET", "/v1/suppressions/a@example.com")
    assert code == 200 and found["reason"] == "added by an administrator"
    assert admin.call("DELETE", "/v1/suppressions/b@example.com")[0] == 200
    code, error, _ = admin.call("DELETE", "/v1/suppressions/b@example.com")
    assert code == 404 and "not suppressed" in error["error"]
    code, error, _ = admin.call("POST", "/v1/suppressions", {"email": "nobody"})
    assert code == 400 and error["parameter"] == "email"
    code, error, response = admin.call("PUT", "/v1/suppressions", {})
    assert code == 405 and response.getheader("allow") == "GET, HEAD, POST, DELETE"
    exported = gateway.cli("suppression", "export").stdout.splitlines()
    assert exported[0] == "email,reason,created,expires,messageid,login"
    assert exported[1].startswith("A@example.com,added by an administrator,")
    assert Client(gateway, "spt_wrong").call("GET", "/v1/suppressions")[0] == 401
