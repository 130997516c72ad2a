"""
`twistd smtpeter --metrics`: one Prometheus endpoint, served by the
supervisor, reports the node's totals over its worker processes.
"""

from __future__ import annotations

import fcntl
import json
import os
import smtplib
import socket
import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import BIN, eventually, freePort
from .conftest import compose, connect, oneOnEachWorker, send

STATES = ("ready", "scheduled", "held")


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """Every sample of C{/metrics}, by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode("utf-8")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.e2e
def test_the_supervisor_serves_the_sum_of_every_workers_counts(makeGateway, sink):
    port = freePort()
    gateway = makeGateway(sink, "--metrics", f"tcp:{port}:interface=127.0.0.1")
    password = gateway.createLogin("app")
    clients = oneOnEachWorker(gateway, "127.0.0.2")
    found = scrape(port)
    assert found[("smtpeter_smtp_connections", ())] == 2
    # Worker 1 accepts two messages, worker 2 one: only their sum is 3.
    for worker, count in ((1, 2), (2, 1)):
        client = clients[worker]
        client.login("app", password)
        for n in range(count):
            client.sendmail("news@example.com", ["reader@example.org"], f"Subject: {n}\r\n\r\nhi")
        client.quit()
    accepted = ("smtpeter_messages_accepted_total", (("login", "app"),))
    delivered = ("smtpeter_recipients_delivered_total", (("login", "app"),))
    assert scrape(port)[accepted] == 3
    eventually(lambda: scrape(port).get(delivered) == 3, 30, "3 deliveries counted")
    # A refused AUTH on each worker, both counted.
    for client in oneOnEachWorker(gateway, "127.0.0.3").values():
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("app", "wrong")
        client.close()
    found = eventually(
        lambda: (f := scrape(port)).get(("smtpeter_smtp_connections", ())) == 0 and f,
        10,
        "the connections closed",
    )
    # smtplib tries PLAIN, then LOGIN: two refusals a client.
    assert found[("smtpeter_auth_failures_total", (("reason", "refused"),))] == 4
    assert found[accepted] == 3
    # Every worker's queue, summed: all delivered, nothing waits.
    queue = {state: found[("smtpeter_queue_messages", (("state", state),))] for state in STATES}
    assert queue == {"ready": 0, "scheduled": 0, "held": 0}
    # The spools' group commits, timed: at least one per message.
    assert found[("smtpeter_database_commit_seconds_count", ())] >= 3


def _free(data, port: int) -> bool:
    """Whether nothing holds the data directory's lock nor listens on C{port}."""
    fd = os.open(data / "smtpeter.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.e2e
@pytest.mark.parametrize(("workers", "daemon"), [("2", False), ("1", False), ("1", True)])
def test_a_metrics_port_in_use_is_one_line_and_exit_1(tmp_path, workers, daemon):
    """Like a taken SMTP port: one line, exit 1, no pid file, nothing left running."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    endpoint = f"tcp:{taken.getsockname()[1]}:interface=127.0.0.1"
    data, smtp = tmp_path / "data", freePort()
    twistd = [str(BIN / "twistd")] + ([] if daemon else ["-n"])
    with taken:
        result = subprocess.run(
            [*twistd, "smtpeter", "--data", str(data), "--hostname", "gw.test"]
            + ["--smtp", f"tcp:{smtp}:interface=127.0.0.1"]
            + ["--smtps", f"tcp:{freePort()}:interface=127.0.0.1"]
            + ["--http", f"tcp:{freePort()}:interface=127.0.0.1", "--dashboard", "none"]
            + ["--workers", workers, "--metrics", endpoint],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    expected = (
        f"smtpeter: cannot start: --metrics {endpoint}: its port is in use by another"
        " process; stop that, or give --metrics another port"
    )
    if daemon:  # twistd's first process prints what the daemon told it (its first 98 bytes)
        assert expected[:98] in result.stderr, result.stderr
    else:
        assert result.stderr.strip().splitlines() == [expected], result.stderr
    assert not (tmp_path / "twistd.pid").exists(), "a refused start left twistd.pid behind"
    eventually(lambda: _free(data, smtp), 10, "the refused gateway let go of all it held")


@pytest.mark.e2e
def test_a_gateway_of_one_process_serves_its_own(makeGateway, sink):
    port = freePort()
    gateway = makeGateway(sink, "--workers", "1", "--metrics", f"tcp:{port}:interface=127.0.0.1")
    password = gateway.createLogin("solo")
    client = connect(gateway, implicit=False)
    client.login("solo", password)
    client.sendmail("news@example.com", ["reader@example.org"], "Subject: 1\r\n\r\nhi")
    found = scrape(port)
    assert found[("smtpeter_smtp_connections", ())] == 1
    assert found[("smtpeter_messages_accepted_total", (("login", "solo"),))] == 1
    assert ("process_cpu_seconds_total", ()) in found  # its own process's, too
    client.quit()
    # No workers, no directory of theirs.
    assert not (gateway.data / "metrics").exists()


@pytest.mark.e2e
def test_on_postgresql_every_node_reports_the_cluster_s_queue(
    makeGateway, sink, postgresDatabase, monkeypatch
):
    """
    On PostgreSQL, mail waiting for a retry or held belongs to no node: the
    gauges are the whole shared queue's, the same on every node, counted
    once however many workers a node has.
    """
    sink.policy = lambda stage, argument: (
        "451 4.3.0 try later" if stage == "RCPT" and "later@" in argument else None
    )
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    ports = {"a": freePort(), "b": freePort()}
    # A has two workers (its gauges must not count the queue twice); the mail goes through B.
    makeGateway(sink, "--metrics", f"tcp:{ports['a']}:interface=127.0.0.1", name="a")
    b = makeGateway(
        sink, "--workers", "1", "--metrics", f"tcp:{ports['b']}:interface=127.0.0.1", name="b"
    )
    held = json.loads(b.cli("login", "create", "dev", "--hold", "--json").stdout)["password"]
    password = b.createLogin("app")
    for n in range(2):
        send(b, "dev", held, compose({}, subject=f"held {n}"))
    send(b, "app", password, compose({}, subject="deferred"), recipients=["later@example.org"])
    expected = {"ready": 0, "scheduled": 1, "held": 2}

    def queue(node: str) -> dict[str, float] | None:
        found = scrape(ports[node])
        states = {s: found.get(("smtpeter_queue_messages", (("state", s),))) for s in STATES}
        return states if states == expected else None

    assert eventually(lambda: queue("a"), 20, "A's gauges of the cluster's queue") == expected
    assert eventually(lambda: queue("b"), 20, "B's gauges of the cluster's queue") == expected
