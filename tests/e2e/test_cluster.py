"""
Several nodes on one PostgreSQL share the queue: a node killed with mail
in hand loses none of it (another takes it over once its lease runs out),
a killed node under load loses nothing and repeats at most what was in
flight, mail is refused with 451 while PostgreSQL is away, and two nodes
cannot share a name.
"""

from __future__ import annotations

import email
import random
import smtplib
import subprocess
import threading
import time
from collections import Counter

import pytest

from smtpeter.testing import PostgreSQLServer

from ..conftest import BIN, eventually
from .conftest import arrivals, compose, connect, load, send, subject

LEASE = ("--lease", "5s")


def test_a_killed_nodes_mail_in_hand_is_delivered_by_another(
    makeGateway, sink, postgresDatabase, monkeypatch
):
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    killed = threading.Event()
    stalled = []

    def policy(stage, argument):
        # A's attempts hang at RCPT until A is dead (its connection then goes).
        if stage == "RCPT" and not killed.is_set():
            stalled.append(argument)
            killed.wait(60)
            return "421 4.3.0 gone"
        return None

    sink.policy = policy
    a = makeGateway(sink, "--workers", "1", *LEASE, name="a")
    b = makeGateway(sink, "--workers", "1", *LEASE, name="b")
    password = a.createLogin("app")
    sent = [f"in hand {n}" for n in range(3)]
    for text in sent:
        send(a, "app", password, compose({}, subject=text))
    eventually(lambda: len(stalled) >= 1, what="A sending")
    a.kill()
    killedAt = time.monotonic()
    killed.set()
    assert Counter(arrivals(sink, set(sent), timeout=30)) == Counter(dict.fromkeys(sent, 1))
    # Not before A's lease ran out: B took nothing A held while it lived.
    assert time.monotonic() - killedAt > 2
    log = b.waitForLog("delivery <reader@example.org>")
    assert log.count("delivery <reader@example.org>") == 3


def test_kill_minus_nine_of_a_node_under_load_loses_nothing(
    makeGateway, sink, postgresDatabase, monkeypatch
):
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    a = makeGateway(sink, *LEASE, name="a")  # two workers
    b = makeGateway(sink, "--workers", "1", *LEASE, name="b")
    password = a.createLogin("loader")
    with load(a, password) as accepted:
        eventually(lambda: len(accepted) > 20, what="the load getting going")
        time.sleep(random.uniform(0.0, 0.5))  # the kill lands anywhere in a delivery
        a.kill()
        time.sleep(0.3)
    assert len(accepted) > 20
    arrived = arrivals(sink, set(accepted), timeout=40)
    # A copy twice at most: only one A was sending when it died; the same Message-ID both times.
    twice = [text for text, count in arrived.items() if count > 1]
    assert max(arrived.values()) <= 2, arrived.most_common(3)
    for text in twice:
        ids = {
            email.message_from_bytes(m.data)["Message-ID"]
            for m in sink.messages
            if subject(m.data) == text
        }
        assert len(ids) == 1, ids
    assert b.process.poll() is None


def test_mail_is_refused_with_451_while_postgresql_is_away(
    makeGateway, sink, postgresql, monkeypatch
):
    server = PostgreSQLServer(postgresql.bindir)  # of its own: this test stops it
    server.start()
    try:
        monkeypatch.setenv("SMTPETER_DATABASE", server.database())
        node = makeGateway(sink, "--workers", "1", name="a")
        password = node.createLogin("app")
        client = connect(node, implicit=False)
        client.login("app", password)
        server.halt()
        with pytest.raises(smtplib.SMTPException) as refused:
            client.sendmail("news@example.com", ["r@example.org"], compose({}, subject="away"))
        code = getattr(refused.value, "smtp_code", None)
        if code is None:  # refused at RCPT: SMTPRecipientsRefused holds each reply
            [(code, _)] = refused.value.recipients.values()
        assert code == 451
        client.close()
        server.resume()
        send(node, "app", password, compose({}, subject="back"))
        [received] = sink.wait(1)
        assert subject(received.data) == "back"
    finally:
        server.stop()


def test_two_running_nodes_cannot_share_a_name(makeGateway, sink, postgresDatabase, tmp_path):
    makeGateway(sink, "--workers", "1", "--database", postgresDatabase, name="a")
    finished = subprocess.run(
        [str(BIN / "twistd"), "-n", "--pidfile=", "smtpeter", "--data", str(tmp_path / "other"),
         "--database", postgresDatabase, "--node", "a", "--workers", "1", "--smtp", "tcp:0",
         "--smtps", "tcp:0", "--http", "tcp:0", "--dashboard", "none"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert finished.returncode == 1
    [line] = [
        line for line in (finished.stdout + finished.stderr).splitlines()
        if line.startswith("smtpeter: cannot start")
    ]  # fmt: skip
    assert "node 'a' is already running (on " in line
    assert line.endswith("give this one another --node NAME")
