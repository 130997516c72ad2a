"""
One view of the cluster: two nodes on one PostgreSQL, each listed by
C{GET /v1/nodes} (on either node), C{smtpeter nodes --json} and the
dashboard's data, with its heartbeat, its workers and the messages its
workers hold, and the whole queue's counts.
"""

from __future__ import annotations

import json
import threading
import time

from ..conftest import eventually
from .conftest import Client, compose, connection, createAdmin, logIn, request, send


def test_both_nodes_are_listed_with_their_workers_and_claims(
    makeGateway, sink, postgresDatabase, monkeypatch
):
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    go = threading.Event()
    stalled: list[str] = []

    def policy(stage, argument):
        # Every delivery waits at RCPT until the test has looked: its node holds it meanwhile.
        if stage == "RCPT":
            stalled.append(argument)
            go.wait(30)
        return None

    sink.policy = policy
    a = makeGateway(sink, "--workers", "2", name="a")
    b = makeGateway(sink, "--workers", "1", name="b")
    try:
        password = a.createLogin("app")
        for n in range(2):
            send(a, "app", password, compose({}, subject=f"via a {n}"))
        send(b, "app", password, compose({}, subject="via b"))
        eventually(lambda: len(stalled) >= 2, what="both nodes delivering")
        token = json.loads(a.cli("token", "create", "ops", "--json").stdout)["token"]

        def listed():
            status, found, _ = Client(b, token).call("GET", "/v1/nodes")
            assert status == 200
            nodes = {node["name"]: node for node in found["nodes"]}
            claims = {name: node["claimed"] for name, node in nodes.items()}
            return (found, nodes) if claims == {"a": 2, "b": 1} else None

        found, nodes = eventually(listed, what="each node's claims")
        assert (found["queued"], found["held"]) == (3, 0)
        assert (nodes["a"]["workers"], nodes["b"]["workers"]) == (2, 1)
        assert {node["status"] for node in nodes.values()} == {"up"}
        assert all(node["seen"] for node in nodes.values())
        assert nodes["b"]["claimed_by_worker"] == {"1": 1}
        # The command, from either node's machine, lists the same nodes.
        printed = json.loads(a.cli("nodes", "--json").stdout)
        assert sorted(n["name"] for n in printed["nodes"]) == ["a", "b"]
        assert {n["name"]: n["workers"] for n in printed["nodes"]} == {"a": 2, "b": 1}
        # And the dashboard's Nodes page, on node a.
        cookies = logIn(a, "ann", createAdmin(a, "ann"))
        page = request(connection(a), "GET", "/nodes", cookies)
        assert page.status == 200
        assert 'data-node="a"' in page.body and 'data-node="b"' in page.body
        assert "Queue: 3 queued, 0 held." in page.body
    finally:
        go.set()
    # Delivered, nothing is claimed any more.
    sink.wait(3)
    eventually(
        lambda: json.loads(a.cli("nodes", "--json").stdout)["queued"] == 0,
        what="the queue emptied",
    )


def test_twenty_requests_at_once_all_get_the_same_nodes(
    makeGateway, sink, postgresDatabase, monkeypatch
):
    """
    C{GET /v1/nodes} read by many clients at once (a dashboard left open on
    many screens, a monitoring script): each gets a 200 and the same list,
    none a 500, in bounded time.
    """
    monkeypatch.setenv("SMTPETER_DATABASE", postgresDatabase)
    a = makeGateway(sink, "--workers", "2", name="a")
    makeGateway(sink, "--workers", "1", name="b")
    token = json.loads(a.cli("token", "create", "ops", "--json").stdout)["token"]

    def names() -> list[str] | None:
        status, found, _ = Client(a, token).call("GET", "/v1/nodes")
        assert status == 200, found
        listed = sorted(node["name"] for node in found["nodes"])
        return listed if listed == ["a", "b"] else None

    eventually(names, what="both nodes listed")
    count = 20
    ready = threading.Barrier(count)
    answers: list = [None] * count

    def ask(n: int) -> None:
        ready.wait(10)
        try:
            status, found, _ = Client(a, token).call("GET", "/v1/nodes")
            answers[n] = (
                status,
                sorted((node["name"], node["workers"]) for node in found["nodes"]),
            )
        except Exception as e:  # noqa: BLE001 - each thread's failure is asserted below
            answers[n] = e

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(count)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    elapsed = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads)
    assert answers == [(200, [("a", 2), ("b", 1)])] * count
    assert elapsed < 10, f"20 requests took {elapsed:.1f} s"
