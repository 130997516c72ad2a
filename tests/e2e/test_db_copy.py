"""
End to end: a gateway on SQLite with deferred and held mail in its spools,
stopped, copied with C{smtpeter db copy --to} into the tests' PostgreSQL,
and started again on that database: the deferred mail is delivered once
each with its attempts counted on, the held mail is still held until it is
released, and the history recorded on SQLite is there.
"""

from __future__ import annotations

import json
import os
import subprocess

from ..conftest import BIN, eventually
from .conftest import Client, connect, get, subject

DEFERRED = ("one@example.org", "two@example.org")


def test_queued_and_held_mail_goes_over_to_postgresql(makeGateway, sink, postgresDatabase):
    sink.policy = lambda stage, arg: "451 4.3.0 not now" if stage == "RCPT" else None
    gateway = makeGateway(sink, "--retry-initial", "2s")  # two workers, two spools
    password = gateway.createLogin("app")
    held = json.loads(gateway.cli("login", "create", "dev", "--hold", "--json").stdout)
    token = json.loads(gateway.cli("token", "create", "ops", "--scope", "admin", "--json").stdout)
    qids = {}
    for address, login, secret in [
        *((a, "app", password) for a in DEFERRED),
        ("kept@example.org", "dev", held["password"]),
    ]:
        client = connect(gateway, implicit=False)
        client.login(login, secret)
        client.mail("shop@example.com")
        client.rcpt(address)
        code, text = client.data(f"Subject: {address}\r\n\r\nhello\r\n".encode())
        client.quit()
        assert code == 250
        qids[address] = text.decode().rsplit(" ", 1)[1]
    gateway.waitForLog(*(f"deferral <{a}> attempt=1" for a in DEFERRED))
    gateway.stop()

    copied = subprocess.run(
        [str(BIN / "smtpeter"), "--data", str(gateway.data), "db", "copy"]
        + ["--to", postgresDatabase, "--json"],
        capture_output=True,
        text=True,
    )
    assert copied.returncode == 0, copied.stderr
    summary = json.loads(copied.stdout)
    assert summary["queue"] == {"messages": 3, "recipients": 3, "held": 1}

    # The same data directory, now a node on PostgreSQL; the next hop takes mail.
    sink.policy = lambda stage, arg: None
    gateway.extra += ["--database", postgresDatabase]
    gateway.start()
    received = sink.wait(2, timeout=30)
    assert sorted(subject(m.data) for m in received) == sorted(DEFERRED)
    log = gateway.waitForLog(*(f"delivery <{a}> attempt=2" for a in DEFERRED))
    assert "attempt=1 code=250" not in log

    # The history from SQLite goes on: a deferral at attempt 1, a delivery at 2
    # (written by the delivering worker's writer, which may be a moment after
    # its log line, and read through either worker).
    api = Client(gateway, token["token"])

    def history(address: str) -> list[tuple]:
        response, body = get(
            gateway, f"/v1/events?messageid={qids[address]}", Authorization=f"Bearer {api.token}"
        )
        assert response.status == 200, body
        return [(e["type"], e.get("attempt")) for e in json.loads(body)["events"]]

    for address in DEFERRED:
        eventually(lambda a=address: len(history(a)) >= 3, what=f"{address}'s delivery")
        attempts = history(address)
        assert attempts == [("attempt", None), ("failure", 1), ("delivery", 2)], attempts

    # Held mail is still held, shown as such, and goes when released.
    kept = qids["kept@example.org"]
    code, shown, _ = api.call("GET", f"/v1/messages/{kept}")
    assert code == 200 and shown["held"] is True
    queued = json.loads(_cli(gateway, postgresDatabase, "queue", "list", "--json"))
    assert [(e["qid"], e["held"]) for e in queued] == [(kept, True)]
    code, _, _ = api.call("POST", f"/v1/messages/{kept}/release")
    assert code == 202
    received = sink.wait(3, timeout=30)
    assert subject(received[2].data) == "kept@example.org"
    eventually(
        lambda: json.loads(_cli(gateway, postgresDatabase, "queue", "list", "--json")) == [],
        what="the shared queue empty",
    )
    gateway.waitForQuietLog()
    # Once each.
    assert sorted(subject(m.data) for m in sink.messages) == sorted([*DEFERRED, "kept@example.org"])


def _cli(gateway, database: str, *args: str) -> str:
    return subprocess.run(
        [str(BIN / "smtpeter"), "--data", str(gateway.data), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SMTPETER_DATABASE": database},
    ).stdout
