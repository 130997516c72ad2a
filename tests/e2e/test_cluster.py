"""
Several nodes on one PostgreSQL share the queue: a node killed with mail
in hand loses none of it (another takes it over once its lease runs out),
a worker stopped past its lease sends no final dot for what another took
over meanwhile, a killed node under load loses nothing and repeats at most what was in
flight, mail is refused with 451 while PostgreSQL is away, two nodes
cannot share a name, and two nodes behind a real HAProxy (send-proxy-v2)
share the clients, survive a kill -9 and take a restarted node back.
"""

from __future__ import annotations

import email
import json
import os
import random
import signal
import smtplib
import subprocess
import threading
import time
from collections import Counter
from types import SimpleNamespace

import pytest

from smtpeter.testing import PostgreSQLServer

from ..conftest import BIN, eventually, needs
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
    b.waitForCount("delivery <reader@example.org>", 3)


def test_a_worker_stopped_past_its_lease_sends_no_final_dot_for_mail_taken_over(
    makeGateway, sink, postgresDatabase, monkeypatch
):
    """
    The lease check before the final dot, answered by the worker itself
    while it is sure of its claim: stopped (SIGSTOP) longer than its lease,
    it is sure of nothing when it goes on, asks the database, and drops the
    transaction that another node delivered meanwhile.
    """
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    stalled, answered = threading.Event(), threading.Event()

    def policy(stage, argument):
        # A's attempt (the first) waits at RCPT until the test answers it.
        if stage == "RCPT" and not stalled.is_set():
            stalled.set()
            answered.wait(60)
        return None

    sink.policy = policy
    a = makeGateway(sink, "--workers", "1", *LEASE, name="a")
    b = makeGateway(sink, "--workers", "1", *LEASE, name="b")
    password = a.createLogin("app")
    send(a, "app", password, compose({}, subject="stopped"))
    eventually(stalled.is_set, what="A sending")
    worker = a.process.pid  # one worker: the gateway's one process
    os.kill(worker, signal.SIGSTOP)
    try:
        # Once A's lease (5 s) ran out, B takes the message over and delivers it.
        assert arrivals(sink, {"stopped"}, timeout=30) == Counter(stopped=1)
        b.waitForLog("delivery <reader@example.org>")
    finally:
        answered.set()  # A's RCPT accepted while A is stopped: its DATA goes on
        os.kill(worker, signal.SIGCONT)
    abandoned = "abandoned: no longer ours to send (another worker claimed it)"
    eventually(lambda: abandoned in a.logText() or len(sink.messages) > 1, 30, "A going on")
    assert Counter(subject(m.data) for m in sink.messages) == Counter(stopped=1)
    assert abandoned in a.logText()
    assert " delivery <reader@example.org>" not in a.logText()


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


def test_two_nodes_behind_haproxy_share_the_mail_and_survive_a_kill(
    makeGateway, sink, postgresDatabase, haproxy, monkeypatch
):
    """
    Clients send through HAProxy (send-proxy-v2) to two nodes on one
    PostgreSQL: both accept; one is killed with -9 while clients send and
    while it has deferred mail; nothing that got a 250 is lost, repeats are
    only of what it held (same Message-ID); the survivor delivers the dead
    node's mail within the lease; restarted, the dead node takes part again.
    """
    import psycopg

    needs("haproxy")
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    through = threading.Event()
    # "later" recipients are deferred until the test lets them through.
    sink.policy = lambda stage, argument: (
        "451 4.3.0 not yet"
        if stage == "RCPT" and "later" in argument and not through.is_set()
        else None
    )
    balancerAt = "127.0.0.3"  # HAProxy's source: waitForPort's 127.0.0.1 stays untrusted
    options = ("--workers", "1", *LEASE, "--retry-initial", "2s", "--retry-max", "2s")
    nodes = {
        name: makeGateway(sink, *options, "--proxy-protocol", balancerAt, name=name)
        for name in ("a", "b")
    }
    a, b = nodes["a"], nodes["b"]
    balancer = haproxy(
        {
            "smtp": [
                "balance roundrobin",
                "option redispatch",
                "retries 3",
                "option tcp-check",
                "tcp-check expect rstring ^220",
                r"tcp-check send QUIT\r\n",
                "tcp-check expect rstring ^221",
                "default-server send-proxy-v2 check check-send-proxy inter 300ms fall 1 rise 1",
                *(
                    f"server {name} 127.0.0.1:{node.smtpPort} source {balancerAt}"
                    for name, node in nodes.items()
                ),
            ]
        }
    )
    front = SimpleNamespace(smtpPort=balancer.ports["smtp"])

    def up(name: str) -> bool:
        try:
            return balancer.servers()[f"smtp/{name}"]["status"] == "UP"
        except (OSError, ValueError, KeyError):  # its stats socket not answering yet
            return False

    eventually(lambda: up("a") and up("b"), 15, "both nodes passing HAProxy's checks")
    password = a.createLogin("loader")
    # Deferred mail, one connection each (HAProxy takes the nodes in turn).
    later = [f"later {n}" for n in range(6)]
    for text in later:
        send(front, "loader", password, compose({}, subject=text), ["later@example.org"])
    queued = "127.0.0.1 loader: queued "  # the client's address, from the PROXY header
    for node in (a, b):
        eventually(lambda node=node: node.logText().count(queued) >= 2, 10, "both accepting")
        assert f"{balancerAt} loader: queued" not in node.logText()
    eventually(
        lambda: sum(n.logText().count(" deferral <later@example.org>") for n in (a, b)) >= 6,
        15,
        "each deferred once",
    )
    database = psycopg.connect(postgresDatabase, autocommit=True)

    def connections(node: str) -> set[str]:
        """The names of C{node}'s connections (a node's own, then each worker's)."""
        return {name for (name,) in database.execute(
            "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE %s",
            (f"smtpeter {node}%",),
        )}  # fmt: skip

    assert connections("a") == {"smtpeter a", "smtpeter a/1"}, connections("a")

    def died(node: str) -> None:
        """Wait until PostgreSQL has ended the dead C{node}'s connections (and
        done what they had sent: a commit in flight may still land)."""
        eventually(lambda: not connections(node), 10, f"{node}'s connections ended")

    def messageIds(query: str) -> set[str]:
        return {json.loads(meta)["options"]["message_id"] for (meta,) in database.execute(query)}

    def owned(node: str) -> set[str]:
        return {q for (q,) in database.execute(
            "SELECT qid FROM queue_messages WHERE owner LIKE %s", (f"{node}/%",)
        )}  # fmt: skip

    with load(front, password) as accepted:
        eventually(lambda: len(accepted) > 20, 20, "the load getting going")
        time.sleep(random.uniform(0.0, 0.5))  # the kill lands anywhere in a delivery
        a.kill()
        killedAt = time.monotonic()
        died("a")
        # In flight: what the sink received from A and A had not recorded
        # as sent (it still held it). Only these may arrive twice.
        held = messageIds("SELECT meta FROM queue_messages WHERE owner LIKE 'a/%'")
        inFlight = held & {messageId(m.data) for m in list(sink.messages)}
        unfinished = {qid for (qid,) in database.execute(
            "SELECT qid FROM queue_messages WHERE node = 'a'"
        )}  # fmt: skip
        deferred = messageIds(
            "SELECT meta FROM queue_messages WHERE node = 'a' AND meta LIKE '%later@example.org%'"
        )
        through.set()
        atKill = len(accepted)
        eventually(lambda: len(accepted) > atKill + 10, 20, "B accepting the load alone")
    eventually(lambda: not up("a"), 10, "HAProxy seeing A down")
    assert deferred, "A had no deferred mail"
    arrived = arrivals(sink, set(accepted) | set(later), timeout=30)
    # A's mail, deferred or in hand, all delivered by B within the lease (5 s)
    # and a retry (2 s) of the kill, with some slack for a busy machine.
    eventually(
        lambda: (
            not database.execute(
                "SELECT 1 FROM queue_messages WHERE node = 'a' OR owner LIKE 'a/%'"
            ).fetchall()
        ),
        20,
        "A's mail finished",
    )
    tookOver = time.monotonic() - killedAt
    assert tookOver < 5 + 2 + 6, tookOver
    # (B's lines reach its log in batches, perhaps after its queue's rows are gone.)
    eventually(
        lambda: {q for q in unfinished if f"{q} delivery <" not in b.logText()} == set(),
        10,
        "B's deliveries of A's unfinished mail logged",
    )
    assert deferred <= {messageId(m.data) for m in sink.messages if "later" in subject(m.data)}
    # Repeats: only of what was in flight, the same Message-ID both times.
    assert max(arrived.values()) <= 2, arrived.most_common(3)
    repeated = set()
    for text in [text for text, count in arrived.items() if count > 1]:
        [once] = {messageId(m.data) for m in sink.messages if subject(m.data) == text}
        repeated.add(once)
    assert repeated <= inFlight, (repeated, inFlight)

    # Restarted with its name, A takes part again: it accepts and delivers.
    # Its lease is long this time, so that what it holds when killed again
    # waits for it; started once more, it gives that back at once.
    a.extra[a.extra.index("--lease") + 1] = "60s"
    mark = len(a.logText())
    a.start()
    eventually(lambda: up("a"), 15, "HAProxy seeing A up again")
    again = [f"again {n}" for n in range(4)]
    for text in again:
        send(front, "loader", password, compose({}, subject=text))
    arrivals(sink, set(again), timeout=20)
    eventually(
        lambda: (
            queued in a.logText()[mark:] and " delivery <reader@example.org>" in a.logText()[mark:]
        ),
        10,
        "A accepting and delivering again",
    )
    freed = threading.Event()

    def stall(stage, argument):
        if stage == "RCPT" and "stall" in argument and not freed.is_set():
            freed.wait(30)
            return "421 4.3.0 gone"
        return None

    sink.policy = stall
    stalls = [f"stall {n}" for n in range(4)]
    for text in stalls:
        send(front, "loader", password, compose({}, subject=text), ["stall@example.org"])
    eventually(lambda: owned("a"), 10, "A holding stalled mail")
    a.kill()
    died("a")
    held = owned("a")
    freed.set()
    mark = len(a.logText())
    a.start()
    released = f"released {len(held)} message(s) this worker held before a restart"
    eventually(lambda: released in a.logText()[mark:], 10, released)
    arrivals(sink, set(stalls), timeout=20)
    database.close()
    assert b.process.poll() is None


def messageId(data: bytes) -> str:
    return email.message_from_bytes(data)["Message-ID"]
