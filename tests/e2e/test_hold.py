"""
End to end: hold mode. A login created with --hold has its mail accepted and
kept, never delivered; the API shows it with its content, releases it or
drops it; a restart keeps it held.
"""

from __future__ import annotations

import json
import time

from ..conftest import eventually
from .conftest import Client, connect


def sendOne(gateway, password: str, subject: str) -> str:
    client = connect(gateway, implicit=False)
    client.login("dev", password)
    client.mail("dev@example.com")
    client.rcpt("reader@example.org")
    code, text = client.data(f"Subject: {subject}\r\n\r\nhello\r\n".encode())
    client.quit()
    assert code == 250
    return text.decode().rsplit(" ", 1)[1]


def test_held_mail_is_kept_shown_released_and_dropped(gateway, sink):
    made = json.loads(gateway.cli("login", "create", "dev", "--hold", "--json").stdout)
    assert made["hold"] is True
    token = json.loads(gateway.cli("token", "create", "ops", "--scope", "admin", "--json").stdout)
    api = Client(gateway, token["token"])

    first = sendOne(gateway, made["password"], "first held")
    time.sleep(1.5)
    assert sink.messages == []  # accepted, not delivered
    code, shown, _ = api.call("GET", f"/v1/messages/{first}")
    assert code == 200 and shown["held"] is True and "Subject: first held" in shown["content"]
    [queued] = json.loads(gateway.cli("queue", "list", "--json").stdout)
    assert queued["qid"] == first and queued["held"] is True

    # A restart keeps it held.
    gateway.stop()
    gateway.start()
    time.sleep(1.5)
    assert sink.messages == []

    code, requested, _ = api.call("POST", f"/v1/messages/{first}/release")
    assert code == 202 and requested["action"] == "release"
    [delivered] = sink.wait(1, timeout=10)
    assert b"Subject: first held" in delivered.data
    eventually(lambda: api.call("GET", f"/v1/messages/{first}")[1]["held"] is False)

    second = sendOne(gateway, made["password"], "second held")
    assert api.call("DELETE", f"/v1/messages/{second}")[0] == 202
    eventually(lambda: json.loads(gateway.cli("queue", "list", "--json").stdout) == [])
    time.sleep(1)
    assert len(sink.messages) == 1  # dropped: not delivered, and no DSN about it
    code, error, _ = api.call("POST", f"/v1/messages/{first}/release")
    assert code == 409 and "not held" in error["error"]

    gateway.cli("login", "update", "dev", "--no-hold")
    time.sleep(1)
    sendOne(gateway, made["password"], "not held")
    assert len(sink.wait(2, timeout=10)) == 2
