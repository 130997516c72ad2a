"""
End to end: hold mode. A login created with --hold has its mail accepted and
kept, never delivered; the API shows it with its content, releases it or
drops it; a restart keeps it held.
"""

from __future__ import annotations

import json
import time

from ..conftest import eventually
from .conftest import Client, connect, subject


def sendOne(gateway, password: str, subject: str, login: str = "dev") -> str:
    client = connect(gateway, implicit=False)
    client.login(login, password)
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
    probe = gateway.createLogin("probe")

    def delivered(count: int) -> list[str]:
        """Once a probe sent after it has arrived, a message not held would have too."""
        sendOne(gateway, probe, f"probe {count}", login="probe")
        return [subject(m.data) for m in sink.wait(count, timeout=10)]

    first = sendOne(gateway, made["password"], "first held")
    assert delivered(1) == ["probe 1"]  # accepted, not delivered
    code, shown, _ = api.call("GET", f"/v1/messages/{first}")
    assert code == 200 and shown["held"] is True and "Subject: first held" in shown["content"]
    [queued] = json.loads(gateway.cli("queue", "list", "--json").stdout)
    assert queued["qid"] == first and queued["held"] is True

    # A restart keeps it held.
    gateway.stop()
    gateway.start()
    assert delivered(2) == ["probe 1", "probe 2"]

    code, requested, _ = api.call("POST", f"/v1/messages/{first}/release")
    assert code == 202 and requested["action"] == "release"
    assert subject(sink.wait(3, timeout=10)[2].data) == "first held"
    eventually(lambda: api.call("GET", f"/v1/messages/{first}")[1]["held"] is False)

    second = sendOne(gateway, made["password"], "second held")
    assert api.call("DELETE", f"/v1/messages/{second}")[0] == 202
    eventually(lambda: json.loads(gateway.cli("queue", "list", "--json").stdout) == [])
    # Dropped: not delivered, and no DSN about it.
    assert delivered(4) == ["probe 1", "probe 2", "first held", "probe 4"]
    code, error, _ = api.call("POST", f"/v1/messages/{first}/release")
    assert code == 409 and "not held" in error["error"]

    gateway.cli("login", "update", "dev", "--no-hold")
    time.sleep(1)
    sendOne(gateway, made["password"], "not held")
    assert subject(sink.wait(5, timeout=10)[4].data) == "not held"
