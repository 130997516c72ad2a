"""
End to end: the data directory on a small filesystem of its own (tmpfs),
filled up while the gateway runs. A message that cannot be stored gets a
451 and leaves no file behind; a correct AUTH still succeeds; nothing is
lost once there is room again. API and dashboard writes answer 507 naming the disk,
the CLI says the disk is full (not that it is a question of users), and
/healthz is 503 until there is room.
"""

from __future__ import annotations

import html
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import uuid

import pytest

from ..conftest import Gateway, eventually
from .conftest import connect, connection, createAdmin, logIn, request

MB = 1024 * 1024


@pytest.fixture
def small(tmp_path):
    """A 200 MB tmpfs, mounted for the test."""
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); needs root")
    yield mountpoint
    subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(path, leave: int) -> None:
    """Write a filler file until only C{leave} bytes are free on C{path}'s filesystem."""
    free = shutil.disk_usage(path).free
    with open(path / f"filler-{uuid.uuid4().hex}", "wb") as f:
        chunk = b"\0" * MB
        while free - leave > MB:
            f.write(chunk)
            free -= MB
        f.write(b"\0" * max(0, free - leave))


def test_a_full_disk_costs_a_451_and_leaves_nothing_behind(small, sink):
    gateway = Gateway(small / "data", sink.port, ["--workers", "1"]).start()
    try:
        password = gateway.createLogin("app")
        # Room for the body's spill file (40 MB) but not for its queue file too,
        # and over the 64 MB that MAIL asks to be free.
        fill(small, 70 * MB)
        client = connect(gateway, implicit=False)
        client.login("app", password)
        body = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (40 * MB // 1000)
        assert client.mail("a@example.com")[0] == 250  # no SIZE: MAIL's check passes
        assert client.rcpt("b@example.org")[0] == 250
        code, text = client.data(body)
        assert code == 451 and text.startswith(b"4.3.0"), (code, text)
        client.quit()
        incoming = small / "data" / "spool" / "incoming"
        assert list(incoming.iterdir()) == []  # no spill file, no partial queue file
        queued = [p for p in (small / "data" / "spool").rglob("*") if p.is_file()]
        assert [p for p in queued if p.stat().st_size > MB] == []
        # Completely full: AUTH still answers 235 (its last-used note may fail),
        # and MAIL says why it cannot take mail.
        fill(small, 0)
        # The free space is read at most once a second: until then MAIL is 250.
        code, text = eventually(lambda: mailAnswer(gateway, password, 452))
        assert code == 452 and text.startswith(b"4.3.1")
        for filler in small.glob("filler-*"):
            os.unlink(filler)
        eventually(lambda: mailAnswer(gateway, password, 250))
        client = connect(gateway, implicit=False)
        client.login("app", password)
        client.sendmail("a@example.com", ["b@example.org"], b"Subject: room again\r\n\r\nok\r\n")
        client.quit()
        [received] = sink.wait(1)
        assert b"Subject: room again" in received.data
        log = gateway.logText()
        assert "Traceback" not in log, log[
            log.find("Traceback") - 600 : log.find("Traceback") + 2500
        ]
    finally:
        gateway.stop()


def mailAnswer(gateway, password: str, wanted: int) -> tuple[int, bytes] | None:
    """MAIL's answer after AUTH (which answers 235 even on a full disk), if it is C{wanted}."""
    client = connect(gateway, implicit=False)
    assert client.login("app", password)[0] == 235
    code, text = client.mail("a@example.com")
    client.quit()
    return (code, text) if code == wanted else None


def post(gateway, path: str, token: str, body: dict) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.httpPort, timeout=10)
    connection.request(
        "POST",
        path,
        json.dumps(body),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, answer


def health(gateway) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.httpPort, timeout=10)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, answer


def test_a_full_disk_is_507_naming_it_in_the_api_and_the_cli_says_so(small, sink, tmp_path):
    data = small / "data"
    gateway = Gateway(data, sink.port, ["--workers", "1"])
    gateway.log = tmp_path / "gateway.log"  # on a disk with room, as logs usually are
    gateway.start()
    try:
        token = json.loads(
            gateway.cli("token", "create", "ops", "--scope", "admin", "--json").stdout
        )
        token = token["token"]
        assert health(gateway) == (200, {"status": "ok"})
        session = logIn(gateway, "boss", createAdmin(gateway, "boss"))
        csrf = request(connection(gateway), "GET", "/logins", session).csrf
        # An empty write-ahead log: the next write must grow it, and finds no room.
        with sqlite3.connect(data / "smtpeter.sqlite") as db:
            assert db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        fill(small, 0)
        full = f"the disk holding {data} is full"
        code, answer = post(gateway, "/v1/logins", token, {"name": "new"})  # the admin thread
        assert code == 507 and answer["error"].startswith(full), (code, answer)
        code, answer = post(gateway, "/v1/suppressions", token, {"email": "n@d.test"})  # the store
        assert code == 507 and answer["error"].startswith(full), (code, answer)
        # The dashboard says the same, on a page of its own (not its 500 page).
        page = request(
            connection(gateway), "POST", "/logins", session, {"csrf": csrf, "name": "fromboard"}
        )
        assert page.status == 507 and html.escape(full) in page.body, (page.status, page.body)
        assert "Something went wrong" not in page.body
        cli = gateway.cli("login", "create", "other", check=False)
        assert cli.returncode == 1
        assert full in cli.stderr and "run this as the user" not in cli.stderr, cli.stderr
        code, answer = eventually(lambda: (h := health(gateway))[0] == 503 and h)  # its cache
        assert code == 503 and any(p.startswith(full) for p in answer["problems"]), answer
        for filler in small.glob("filler-*"):
            os.unlink(filler)
        eventually(lambda: health(gateway) == (200, {"status": "ok"}))
        assert post(gateway, "/v1/logins", token, {"name": "new"})[0] == 201
        log = gateway.logText()
        assert "Traceback" not in log, log[
            log.find("Traceback") - 600 : log.find("Traceback") + 2500
        ]
    finally:
        gateway.stop()
