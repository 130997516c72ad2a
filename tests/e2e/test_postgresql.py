"""
Gateways on PostgreSQL (C{--database}, here through C{SMTPETER_DATABASE}):
two nodes, each with its own data directory, share logins, tokens and
events through the tests' own PostgreSQL; a database that cannot be
reached stops a start with one line.
"""

from __future__ import annotations

import json
import re
import signal
import smtplib
import subprocess
import time

import pytest

from smtpeter.testing import PostgreSQLServer

from ..conftest import BIN, eventually
from .conftest import ALLOW_LOCAL, PNG, Receiver, compose, connect, get, html, send


def test_two_nodes_share_the_state_of_one_database(
    makeGateway, sink, postgresDatabase, monkeypatch
):
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    a = makeGateway(sink, name="a")  # two workers
    b = makeGateway(sink, "--workers", "1", name="b")
    # Each says where its shared state is.
    b.waitForLog(f"shared state in {postgresDatabase}, web on")
    password = a.createLogin("app")  # with A's CLI
    send(b, "app", password, compose({}, subject="through b"))  # accepted by B
    [received] = sink.wait(1)
    assert b"through b" in received.data
    token = json.loads(a.cli("token", "create", "ops", "--json").stdout)["token"]

    def delivered():
        response, body = get(a, "/v1/events?type=delivery", Authorization=f"Bearer {token}")
        assert response.status == 200, body
        return json.loads(body)["events"]

    [event] = eventually(delivered, what="B's delivery, seen by A's API")
    assert event["email"] == "reader@example.org"
    # Disabled with B's CLI, refused by A soon after (A keeps logins in
    # memory, and hears B's change at once; each try is a whole STARTTLS
    # and AUTH session, slow on a busy machine).
    b.cli("login", "disable", "app")

    def refused():
        client = connect(a, implicit=False)
        try:
            client.login("app", password)
        except smtplib.SMTPAuthenticationError:
            return True
        finally:
            client.close()
        return False

    eventually(refused, 10, "the login refused by A")
    # One secret signs both nodes' links and bounce addresses.
    assert (a.data / "secret.key").read_bytes() == (b.data / "secret.key").read_bytes()
    # Neither node made a database of its own.
    assert not (a.data / "smtpeter.sqlite").exists()
    assert not (b.data / "smtpeter.sqlite").exists()


def test_a_hosted_image_and_a_click_from_one_node_are_served_by_the_other(
    makeGateway, sink, postgresDatabase, monkeypatch
):
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    options = ("--workers", "1", "--public-url", "http://gw.test:8080")
    a = makeGateway(sink, *options, name="a")
    b = makeGateway(sink, *options, name="b")
    password = a.createLogin("app", "trackclicks", "hostedimages")
    send(a, "app", password, compose({}))
    body = html(sink.wait(1)[0].data)
    [image] = re.findall(r'src="http://gw\.test:8080(/i/[^"]+)"', body)
    response, data = get(b, image)
    assert response.status == 200 and data == PNG
    [click] = re.findall(r'href="http://gw\.test:8080(/c/[^"]+)"', body)[:1]
    response, _ = get(b, click)
    assert response.status in (302, 303) and response.getheader("location").startswith(
        "https://shop.example.com/"
    )
    assert not (a.data / "images").exists()  # in the database, not on A's disk


def test_a_webhook_receives_each_event_once_from_two_nodes(
    makeGateway, sink, postgresDatabase, monkeypatch
):
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    # Slow to answer: both nodes poll (every 0.2 s) while a delivery is being sent.
    hook = Receiver(failures=0, delay=0.5)
    try:
        options = ("--workers", "1", "--webhook-retry", "0.2s", *ALLOW_LOCAL)
        a = makeGateway(sink, *options, name="a")
        b = makeGateway(sink, *options, name="b")
        a.cli("webhook", "add", hook.url, "--event", "delivery", *ALLOW_LOCAL)
        password = a.createLogin("app")
        for n in range(3):
            for node in (a, b):
                send(node, "app", password, compose({}, subject=f"{n}"))
        sink.wait(6)
        hook.wait(lambda requests: len(requests) >= 6)
        time.sleep(1)  # a second sender would have sent its copies by now
        ids = [json.loads(body)["id"] for _, body, _ in hook.requests]
        assert len(ids) == 6 and len(set(ids)) == 6, ids
    finally:
        hook.stop()


def test_postgresql_stopped_and_started_again_under_a_running_node(
    makeGateway, sink, postgresql, monkeypatch
):
    """
    While PostgreSQL is away, AUTH is a temporary failure (never accepted,
    never refused as wrong) and /healthz names the database; once it is
    back, the same node (not restarted) accepts mail again.
    """
    server = PostgreSQLServer(postgresql.bindir)  # of its own: this test stops it
    server.start()
    try:
        monkeypatch.setenv("SMTPETER_DATABASE", server.database())
        node = makeGateway(sink, "--workers", "1")
        password = node.createLogin("app")
        send(node, "app", password, compose({}, subject="before"))
        sink.wait(1)  # delivered (a queue run while PostgreSQL is away is retried in a minute)
        server.halt()

        def authenticates():
            client = connect(node, implicit=False)
            try:
                client.login("app", password)
                return True
            except smtplib.SMTPResponseException as e:
                assert 400 <= e.smtp_code < 500, e  # temporary, not "wrong password"
                return False
            finally:
                client.close()

        assert not authenticates()
        response, body = get(node, "/healthz")
        assert response.status == 503 and b"database postgresql:///postgres?host=" in body
        server.resume()
        eventually(authenticates, 10, "AUTH after PostgreSQL came back")
        send(node, "app", password, compose({}, subject="after"))
        assert {b"before" in r.data or b"after" in r.data for r in sink.wait(2)} == {True}
        eventually(lambda: get(node, "/healthz")[0].status == 200, 5, "healthy again")
    finally:
        server.stop()


def test_a_database_that_cannot_be_reached_stops_the_start_in_one_line(tmp_path):
    uri = f"postgresql:///smtpeter?host={tmp_path}"
    finished = subprocess.run(
        [str(BIN / "twistd"), "-n", "--pidfile=", "smtpeter", "--data", str(tmp_path / "data"),
         "--database", uri, "--workers", "1", "--smtp", "tcp:0", "--smtps", "tcp:0",
         "--http", "tcp:0", "--dashboard", "none"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert finished.returncode != 0
    [line] = [
        line for line in finished.stdout.splitlines() + finished.stderr.splitlines()
        if line.startswith("smtpeter: cannot start")
    ]  # fmt: skip
    assert line.startswith(f"smtpeter: cannot start: cannot use the PostgreSQL database {uri}:")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_node_stops_in_seconds_with_clients_hanging_mid_session(
    makeGateway, sink, postgresDatabase, monkeypatch, workers
):
    """
    SIGTERM to a node on PostgreSQL while SMTP clients hang, some idle after
    EHLO, some in the middle of DATA: the node stops as promptly as an idle
    one (no delivery is in flight), not after --stop-timeout, and the
    unfinished message is not accepted. A gateway of one process, or a
    supervisor and its workers.
    """
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    gateway = makeGateway(sink, "--stop-timeout", "30s", "--workers", workers)
    password = gateway.createLogin("app")
    idle, writing = [], []
    for _ in range(3):
        client = connect(gateway, implicit=False)  # EHLO done, then nothing
        idle.append(client)
    for _ in range(3):
        client = connect(gateway, implicit=False)
        client.login("app", password)
        client.mail("news@example.com")
        client.rcpt("reader@example.org")
        client.putcmd("data")
        assert client.getreply()[0] == 354
        client.send(b"Subject: never finished\r\n\r\nhalf a mess")
        writing.append(client)
    started = time.monotonic()
    gateway.process.send_signal(signal.SIGTERM)
    assert gateway.process.wait(25) == -signal.SIGTERM
    assert time.monotonic() - started < 10
    assert "did not stop within" not in gateway.logText()
    for client in idle + writing:
        client.close()
    assert sink.messages == []
