"""
End to end: what a careless operator does to the data directory of a
running gateway. A spool database deleted under it costs a 451, never a
250 for mail that would then be lost; a database overwritten makes
/healthz say 503 and why, without a traceback per request in the log.
"""

from __future__ import annotations

import json
import re
import smtplib
import sqlite3
import time

import pytest

from ..conftest import eventually
from .conftest import connect, connection, createAdmin, get, logIn, request, subject

pytestmark = pytest.mark.e2e


def health(gateway) -> tuple[int, dict]:
    response, body = get(gateway, "/healthz")
    return response.status, json.loads(body)


def events(log: str) -> int:
    """Log events (lines that start with a time), not the lines of their tracebacks."""
    return len(re.findall(r"^\d{4}-\d\d-\d\dT", log, re.M))


def send(gateway, password: str, subject: str) -> tuple[int, bytes]:
    client = connect(gateway, implicit=False)
    client.login("app", password)
    client.mail("a@example.com")
    client.rcpt("b@example.org")
    code, text = client.data(f"Subject: {subject}\r\n\r\nx\r\n".encode())
    client.quit()
    return code, text


def test_a_spool_deleted_under_the_gateway_gets_451_never_250(makeGateway, sink):
    sink.policy = lambda stage, arg: "451 4.3.0 not now" if stage == "RCPT" else None
    gateway = makeGateway(sink, "--retry-initial", "1s", "--retry-max", "1s")
    password = gateway.createLogin("app")
    assert health(gateway) == (200, {"status": "ok"})
    for n in range(4):  # queued, their delivery deferred by the next hop
        assert send(gateway, password, f"kept {n}")[0] == 250
    files = sorted(gateway.data.glob("spool*/spool.db*"))
    assert {p.parent.name for p in files} == {"spool", "spool-2"}, files
    for path in files:  # rm spool/spool.db* spool-2/spool.db*
        path.unlink()
    # Each worker's health check keeps its answer a second: once one says so,
    # the other's answer is at most a second old too (which worker answers is
    # the kernel's choice, often the same one many times running).
    eventually(lambda: health(gateway)[0] == 503, what="a first 503")
    time.sleep(1)
    for _ in range(6):  # whichever worker answers
        status, body = health(gateway)
        assert status == 503 and body["status"] == "unhealthy", body
        assert any("spool.db was deleted" in p for p in body["problems"]), body
    for n in range(8):
        code, text = send(gateway, password, f"refused {n}")
        assert (code, text[:5]) == (451, b"4.3.0"), (code, text)
    log = gateway.waitForLog("is gone: ")
    # Loudly, once per worker, not once per message.
    assert 1 <= log.count("is gone: ") <= 2, log
    assert "could not store a message" not in log
    # What the spools held was saved at their paths: a restart resumes the
    # queue, and sends none of the messages that were refused.
    gateway.stop()
    sink.policy = lambda stage, arg: None
    gateway.start()
    delivered = sorted(subject(m.data) for m in sink.wait(4))
    assert delivered == [f"kept {n}" for n in range(4)], delivered
    time.sleep(1)
    assert len(sink.messages) == 4
    assert health(gateway) == (200, {"status": "ok"})


def test_a_damaged_database_is_unhealthy_and_not_a_traceback_per_request(makeGateway, sink):
    gateway = makeGateway(sink)
    gateway.createLogin("app")
    token = json.loads(gateway.cli("token", "create", "ops", "--json").stdout)["token"]
    session = logIn(gateway, "boss", createAdmin(gateway, "boss"))
    assert health(gateway) == (200, {"status": "ok"})
    database = gateway.data / "smtpeter.sqlite"
    # The WAL holds the first page while the gateway writes; copied back into
    # the file, it leaves the file's first page the one that readers use.
    with sqlite3.connect(database) as db:
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    with open(database, "r+b") as f:
        f.write(b"x" * 500)
    eventually(lambda: health(gateway)[0] == 503, what="a first 503")
    time.sleep(1)  # the other worker's cached answer, at most a second old then, expires
    for _ in range(4):
        status, body = health(gateway)
        assert status == 503 and body["status"] == "unhealthy", body
        assert any(f"{database} is damaged" in p for p in body["problems"]), body
    # Every worker has met it (polls, the health check); then the log stays quiet.
    before = gateway.waitForQuietLog()
    for _ in range(50):
        response, body = get(gateway, "/v1/events", Authorization=f"Bearer {token}")
        assert response.status == 503 and b"damaged" in body, (response.status, body)
        assert health(gateway)[0] == 503
    # SMTP: AUTH needs the logins, in the damaged file: a 451, never a 235 and a 250.
    client = connect(gateway, implicit=False)
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        client.login("app", "whatever")
    assert refused.value.smtp_code == 451 and refused.value.smtp_error.startswith(b"4.3.0")
    client.close()
    time.sleep(1)
    grown = gateway.logText()[len(before) :]
    assert events(grown) <= 6, grown  # a first line per kind and worker at most
    assert len(grown) < 20_000, len(grown)
    # The dashboard says what the API says, on a page of its own (not its 500 page).
    page = request(connection(gateway), "GET", "/activity", session)
    assert page.status == 503 and "database is damaged" in page.body, (page.status, page.body)
    eventually(lambda: health(gateway)[0] == 503, what="still unhealthy")
