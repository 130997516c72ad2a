"""
The worker processes of `twistd smtpeter --workers N`: a worker killed with
SIGKILL under load is replaced and loses nothing; what the CLI changes and
what the AUTH throttle counts hold in every worker; a worker well ahead of
another leaves it new connections; a burst of connections waits in the
listen queue however many come at once; a gateway whose workers cannot start
says so and exits 1.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import re
import select
import signal
import smtplib
import socket
import sqlite3
import subprocess
import time

import pytest

from ..conftest import BIN, _state, eventually, freePort
from .conftest import (
    _hexAddress,
    _serverInode,
    arrivals,
    connect,
    load,
    oneOnEachWorker,
    subject,
    workerOf,
)


def test_a_row_read_twice_from_proc_net_tcp_is_one_socket(tmp_path):
    server, client = _hexAddress("127.0.0.1", 2525), _hexAddress("127.0.0.2", 40000)
    row = "   7: {} {} 01 00000000:00000000 00:00000000 00000000  1000        0 {} 1\n"
    table = tmp_path / "tcp"
    header = "  sl  local_address rem_address   st ...\n"
    # A TIME_WAIT row (inode 0) of an older connection, then the open one twice.
    rows = [row.format(server, client, 0), *[row.format(server, client, 4242)] * 2]
    table.write_text(header + "".join(rows))
    assert _serverInode(server, client, str(table)) == "4242"
    table.write_text(header + row.format(client, server, 4343))  # the client's end only
    assert _serverInode(server, client, str(table)) is None


def auth(client: smtplib.SMTP, user: str, password: str) -> int:
    """One AUTH PLAIN (smtplib's login() tries LOGIN after a failed PLAIN: two failures)."""
    client.user, client.password = user, password
    try:
        code = client.auth("PLAIN", client.auth_plain)[0]
    except smtplib.SMTPResponseException as e:
        code = e.smtp_code
    client.close()
    return code


def answers(gateway, source: str, user: str, password: str) -> dict[int, int]:
    """Each worker's answer to AUTH from C{source}."""
    return {w: auth(c, user, password) for w, c in oneOnEachWorker(gateway, source).items()}


@pytest.mark.e2e
def test_a_worker_killed_under_load_is_replaced_and_loses_nothing(makeGateway, sink):
    gateway = makeGateway(sink)
    password = gateway.createLogin("loader")
    with load(gateway, password) as accepted:
        eventually(lambda: len(accepted) > 20, what="the load getting going")
        first, second = gateway.workerPids()
        killed = time.monotonic()
        os.kill(second, signal.SIGKILL)
        gateway.waitForLog("worker 2 was killed by signal 9")
        deadline = time.monotonic() + 30
        while gateway.logText().count("worker 2 ready") < 2:
            assert time.monotonic() < deadline, "worker 2 was not replaced"
            time.sleep(0.05)
        ready = time.monotonic()
        replaced = gateway.workerPids()
        time.sleep(1.0)
    assert replaced[0] == first and replaced[1] != second
    assert len(accepted) > 20, "the load did not get going"
    arrived = arrivals(sink, set(accepted))
    # A delivery the dead worker had made but not yet written down as made
    # (in flight, or in its writer's next batch) is made again by its
    # replacement: once more, after the kill; nothing else comes twice.
    copies: dict[str, list[float]] = {}
    for message in sink.messages:
        copies.setdefault(subject(message.data), []).append(message.at)
    for name in (s for s, n in arrived.items() if n > 1):
        assert len(copies[name]) == 2, (name, copies[name])
        once, again = sorted(copies[name])
        assert once < ready and again > killed, (name, once - killed, again - killed)
    assert gateway.process.poll() is None


@pytest.mark.e2e
def test_cli_changes_to_a_login_take_effect_in_every_worker(makeGateway, sink):
    gateway = makeGateway(sink)
    password = gateway.createLogin("app")
    # Each step from its own address, so that refusals never add up to a ban.
    assert answers(gateway, "127.0.0.2", "app", password) == {1: 235, 2: 235}
    gateway.cli("login", "disable", "app")
    assert answers(gateway, "127.0.0.3", "app", password) == {1: 535, 2: 535}
    gateway.cli("login", "enable", "app")
    assert answers(gateway, "127.0.0.4", "app", password) == {1: 235, 2: 235}
    _, newPassword = password, gateway.cli("login", "reset-password", "app", "--json").stdout
    assert answers(gateway, "127.0.0.5", "app", password) == {1: 535, 2: 535}
    assert answers(gateway, "127.0.0.6", "app", json.loads(newPassword)["password"]) == {
        1: 235,
        2: 235,
    }
    gateway.cli("login", "delete", "app")
    assert answers(gateway, "127.0.0.7", "app", password) == {1: 535, 2: 535}


@pytest.mark.e2e
def test_the_auth_throttle_counts_attempts_on_every_worker(makeGateway, sink):
    gateway = makeGateway(sink)
    password = gateway.createLogin("app")
    # Five failures from one address, alternating between the workers:
    # neither saw five, together they did.
    for attempt in range(5):
        worker = 1 + attempt % 2
        assert auth(oneOnEachWorker(gateway, "127.0.0.8")[worker], "app", "wrong") == 535
    # The address is now refused AUTH by both, even with the right password;
    # another address is not.
    assert answers(gateway, "127.0.0.8", "app", password) == {1: 454, 2: 454}
    assert answers(gateway, "127.0.0.9", "app", password) == {1: 235, 2: 235}


@pytest.mark.e2e
def test_workers_that_cannot_start_make_the_gateway_exit_1_with_one_line(tmp_path, sink):
    data = tmp_path / "data"
    data.mkdir()
    (data / "spool-2").write_text("not a directory")
    result = subprocess.run(
        [
            str(BIN / "twistd"),
            "-n",
            "--pidfile=",
            "--logfile",
            str(tmp_path / "log"),
            "smtpeter",
            "--data",
            str(data),
            "--smtp",
            f"tcp:{freePort()}:interface=127.0.0.1",
            "--smtps",
            f"tcp:{freePort()}:interface=127.0.0.1",
            "--http",
            f"tcp:{freePort()}:interface=127.0.0.1",
            "--dashboard",
            "none",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smtpeter: cannot start: "), result.stderr
    assert "spool-2" in lines[0] and "Traceback" not in result.stderr


@pytest.mark.e2e
def test_one_worker_is_one_process(makeGateway, sink):
    gateway = makeGateway(sink, "--workers", "1")
    assert gateway.workerPids() == []
    password = gateway.createLogin("app")
    client = connect(gateway, implicit=False)
    client.login("app", password)
    client.sendmail("a@example.com", ["b@example.org"], b"Subject: one\r\n\r\nx\r\n")
    client.quit()
    assert subject(sink.wait(1)[0].data) == "one"


@pytest.mark.e2e
def test_queue_list_shows_every_workers_queue(makeGateway, sink):
    sink.policy = lambda stage, arg: "451 4.3.0 not now" if stage == "RCPT" else None
    gateway = makeGateway(sink)
    password = gateway.createLogin("app")
    queued: set[str] = set()
    for i in range(60):
        client = connect(gateway, implicit=False)
        client.login("app", password)
        client.sendmail("a@example.com", [f"r{i}@example.org"], b"Subject: q\r\n\r\nx\r\n")
        client.quit()
        queued = set(re.findall(r"\[worker (\d) [^\]]*\] \S+ app: queued", gateway.logText()))
        if queued == {"1", "2"}:
            break
    assert queued == {"1", "2"}
    gateway.waitForLog("deferral <r0@example.org>")
    entries = json.loads(gateway.cli("queue", "list", "--json").stdout)
    assert {e["worker"] for e in entries} == {1, 2}
    assert len(entries) == i + 1
    assert all(e["recipients"][0]["status"] == "pending" for e in entries)


@pytest.mark.e2e
def test_a_worker_far_ahead_leaves_new_connections_to_the_other(makeGateway, sink):
    gateway = makeGateway(sink)
    gateway.waitForLog("worker 1 ready", "worker 2 ready")
    _, second = gateway.workerPids()
    clients = []
    try:
        # Worker 2 stopped: it takes nothing, and worker 1, after holding
        # each connection back a few milliseconds for it, takes them all.
        os.kill(second, signal.SIGSTOP)
        try:
            for _ in range(10):
                clients.append(smtplib.SMTP("127.0.0.1", gateway.smtpPort, timeout=30))
        finally:
            os.kill(second, signal.SIGCONT)
        assert {workerOf(gateway, c) for c in clients} == {1}
        # What is measured is the two running, not worker 2 waking up: CI's
        # busy machine once gave it a CPU only after two connections went by.
        eventually(lambda: "T" not in _state(second), what="worker 2 running")
        time.sleep(1.0)
        # Ten against none: worker 1 leaves the next eight to worker 2. One
        # may still go to worker 1 if worker 2 is slow to get a CPU, which on
        # a busy machine can take longer than worker 1 holds back. Without
        # the holding back, this failed in 15 of 17 runs here.
        for _ in range(8):
            clients.append(smtplib.SMTP("127.0.0.1", gateway.smtpPort, timeout=30))
        taken = [workerOf(gateway, c) for c in clients[10:]]
        assert taken.count(2) >= 7, taken
    finally:
        for client in clients:
            client.close()


@pytest.mark.e2e
def test_a_worker_that_does_not_stop_is_killed_after_the_stop_timeout(makeGateway, sink):
    gateway = makeGateway(sink, "--stop-timeout", "2s")
    gateway.waitForLog("worker 1 ready", "worker 2 ready")
    first, second = gateway.workerPids()
    os.kill(second, signal.SIGSTOP)  # hung: it can neither stop nor answer
    started = time.monotonic()
    gateway.process.send_signal(signal.SIGTERM)
    assert gateway.process.wait(30) == -signal.SIGTERM  # twistd ends as the signal bids
    assert 2 <= time.monotonic() - started < 20
    log = gateway.logText()
    assert "worker 2 did not stop within 2 s; killing it" in log
    assert "worker 2 was killed by signal 9" in log
    assert "worker 1 exited with status 0" in log
    assert "worker 1 did not stop" not in log
    for pid in (first, second):
        assert "zombie" in _state(pid)  # gone, or dead and not yet reaped


@pytest.mark.e2e
def test_each_workers_lines_reach_the_log_once_and_whole(makeGateway, sink):
    # `twistd -n`: the workers write their informational lines themselves,
    # beside the parent's, in the parent's format.
    gateway = makeGateway(sink)
    password = gateway.createLogin("logged")
    for worker, client in oneOnEachWorker(gateway, "127.0.0.1").items():
        client.login("logged", password)
        for n in range(20):
            client.sendmail(
                "a@example.com", ["b@example.org"], f"Subject: w{worker}-{n}\r\n\r\nhi\r\n"
            )
        client.quit()
    sink.wait(40)
    gateway.stop()
    log = gateway.logText()
    queued = re.findall(r"\[worker (\d) smtpeter\.smtp\._submission#info\] .* queued (\w+) ", log)
    assert len(queued) == 40 and len({qid for _, qid in queued}) == 40
    assert {worker for worker, _ in queued} == {"1", "2"}
    delivered = re.findall(
        r"\[worker \d smtpeter\.events\._sinks\.LogEventSink#info\] (\w+) delivery", log
    )
    assert sorted(delivered) == sorted(qid for _, qid in queued)
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} \[")
    assert all(stamp.match(line) or line.startswith("\t") for line in log.splitlines() if line)


#: More clients connecting at once than Twisted's default backlog (50) holds.
BURST = 200


def sessionsByWorker(gateway, clients: list[socket.socket]) -> list[int]:
    """How many of C{clients}' connections each worker holds (read from /proc)."""
    ports = {f"{c.getsockname()[1]:04X}" for c in clients}
    server = _hexAddress("127.0.0.1", gateway.smtpPort)
    with open("/proc/net/tcp") as f:
        inodes = {
            row.split()[9]
            for row in f
            if row.split()[1] == server and row.split()[2].rsplit(":", 1)[1] in ports
        }
    counts = []
    for pid in gateway.workerPids():
        held = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except FileNotFoundError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                held.add(link)
        counts.append(len(held))
    return counts


@pytest.mark.e2e
def test_a_burst_of_100_connections_is_shared_out_between_the_workers(makeGateway, sink):
    gateway = makeGateway(sink, "--max-connections-per-ip", "1000")
    gateway.waitForLog("worker 1 ready", "worker 2 ready")
    clients = []
    try:
        for _ in range(100):
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", gateway.smtpPort))
            clients.append(client)
        for client in clients:
            client.setblocking(True)
            client.settimeout(30)
            assert client.recv(4).startswith(b"220")
        counts = sessionsByWorker(gateway, clients)
        assert sum(counts) == 100
        # Each takes connections until it is SLACK ahead, then leaves them
        # to the other for a few milliseconds: without that, the worker
        # that woke first took most of the burst.
        assert min(counts) >= 35, counts
    finally:
        for client in clients:
            client.close()


@pytest.mark.e2e
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_burst_of_connections_waits_in_the_listen_queue_not_for_a_syn_retry(
    makeGateway, sink, workers
):
    gateway = makeGateway(sink, "--workers", workers, "--max-connections-per-ip", "1000")
    gateway.waitForLog("ready")
    serving = gateway.workerPids() or [gateway.process.pid]
    clients = []
    try:
        # Nothing accepts while the processes are stopped: every connection
        # must wait in the kernel's queue. With room for only 50, the kernel
        # dropped the others' SYNs, and each client tried again a second later.
        for pid in serving:
            os.kill(pid, signal.SIGSTOP)
        try:
            for _ in range(BURST):
                client = socket.socket()
                client.setblocking(False)
                assert client.connect_ex(("127.0.0.1", gateway.smtpPort)) in (0, errno.EINPROGRESS)
                clients.append(client)
            waiting = set(clients)
            deadline = time.monotonic() + 0.8  # less than the first SYN retry (1 s)
            while waiting and time.monotonic() < deadline:
                _, writable, _ = select.select([], list(waiting), [], 0.05)
                waiting -= set(writable)
            connected = [c for c in clients if c not in waiting]
            assert all(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 for c in connected)
            assert len(connected) == BURST
        finally:
            for pid in serving:
                os.kill(pid, signal.SIGCONT)
        # And once they run, every one is greeted.
        for client in clients:
            client.setblocking(True)
            client.settimeout(30)
            assert client.recv(4).startswith(b"220")
    finally:
        for client in clients:
            client.close()


@pytest.mark.e2e
def test_a_workers_logged_failure_says_what_went_wrong_in_the_gateway_log(gateway):
    # A worker's failure reaches the parent as JSON, where its exception
    # used to become "{'unpersistable': True}".
    token = json.loads(gateway.cli("token", "create", "ops", "--json").stdout)["token"]
    db = sqlite3.connect(gateway.data / "smtpeter.sqlite")
    db.execute("ALTER TABLE logins RENAME TO logins_gone")  # a broken database, say
    db.commit()
    db.close()
    connection = http.client.HTTPConnection("127.0.0.1", gateway.httpPort, timeout=30)
    connection.request("GET", "/v1/logins", headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    assert response.status == 500 and b"no such table" not in response.read()
    log = gateway.waitForLog("b'/v1/logins' failed", "Traceback")
    assert "sqlite3.OperationalError: no such table: logins\n" in log
    assert "unpersistable" not in log
