"""
A real HAProxy in front of a real gateway (two workers) started with
--proxy-protocol: the client's address from the PROXY header (v1 and v2,
STARTTLS and implicit TLS) is the one in the Received header and the log,
the one the AUTH throttle and the per-address limit count; HAProxy's own
health checks (v2 LOCAL) pass; connections from outside the network, or
without a header, are closed. The backends are docs/cluster.md's.

Addresses: clients connect to HAProxy from 127.0.0.2 (or 127.0.0.4),
HAProxy to the gateway from 127.0.0.3, the one trusted address.
"""

from __future__ import annotations

import re
import smtplib
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ..conftest import eventually, haproxyBinary, needs
from .conftest import context

CLIENT, OTHER, BALANCER = "127.0.0.2", "127.0.0.4", "127.0.0.3"
DOCS = Path(__file__).parents[2] / "docs" / "cluster.md"


def documented() -> str:
    [config] = re.findall(r"```haproxy\n(.*?)```", DOCS.read_text(), re.S)
    return config


def documentedBackend(name: str, port: int) -> list[str]:
    """docs/cluster.md's backend C{name}, its servers replaced by the gateway at C{port}."""
    section = re.search(rf"^backend {name}\n(.*?)(?:\n\n|\Z)", documented(), re.M | re.S)
    lines = section[1].splitlines()
    lines = [line.strip() for line in lines if not line.strip().startswith("server ")]
    # Checked twice a second, not every 5 s, to see them pass soon.
    lines = [line.replace("inter 5s", "inter 500ms") for line in lines]
    return [*lines, f"server gw 127.0.0.1:{port} source {BALANCER}"]


def test_the_documented_haproxy_configuration_is_valid(tmp_path):
    path = tmp_path / "haproxy.cfg"
    path.write_text(documented())
    checked = subprocess.run(
        [haproxyBinary(), "-c", "-f", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture
def balanced(makeGateway, sink, haproxy):
    """A gateway behind HAProxy: v1 and v2 to --smtp, v2 to --smtps; its login app's password."""
    needs("haproxy")
    gateway = makeGateway(
        sink, "--proxy-protocol", f"{BALANCER}/32", "--max-connections-per-ip", "2"
    )
    balancer = haproxy(
        {
            "v1": [f"server gw 127.0.0.1:{gateway.smtpPort} source {BALANCER} send-proxy"],
            "v2": documentedBackend("smtpeter-submission", gateway.smtpPort),
            "smtps": documentedBackend("smtpeter-submissions", gateway.smtpsPort),
        }
    )
    return gateway, balancer, gateway.createLogin("app")


def connect(port: int, implicit: bool = False, source: str = CLIENT) -> smtplib.SMTP:
    if implicit:
        client = smtplib.SMTP_SSL(
            "127.0.0.1", port, context=context(), timeout=30, source_address=(source, 0)
        )
    else:
        client = smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=(source, 0))
        client.starttls(context=context())
    client.ehlo("client.test")
    return client


def auth(client: smtplib.SMTP, password: str) -> int:
    """One AUTH PLAIN as app (smtplib's login() would try other mechanisms after a failure)."""
    client.user, client.password = "app", password
    try:
        return client.auth("PLAIN", client.auth_plain)[0]
    except smtplib.SMTPException as e:
        return e.smtp_code


def test_through_haproxy_the_client_is_the_one_the_header_names(balanced, sink):
    gateway, balancer, password = balanced
    routes = [("v1", False), ("v2", False), ("smtps", True)]
    for route, implicit in routes:
        client = connect(balancer.ports[route], implicit)
        assert auth(client, password) == 235
        client.sendmail("news@example.com", ["reader@example.org"], f"Subject: {route}\r\n\r\nhi")
        client.quit()
    received = sink.wait(len(routes))
    for message in received:
        assert message.data.startswith(b"Received: from client.test ([127.0.0.2])\r\n")
        assert BALANCER.encode() not in message.data
    queued = f"{CLIENT} app: queued"
    eventually(lambda: gateway.logText().count(queued) == len(routes), 10, "queued, logged")
    assert f"{BALANCER} app: queued" not in gateway.logText()
    # HAProxy's health checks (the header, v2 LOCAL; then 220 and QUIT), on
    # STARTTLS and implicit-TLS listeners, pass.
    eventually(
        lambda: all(
            balancer.servers()[f"{route}/gw"]["check_status"] == "L7OK" for route in ("v2", "smtps")
        ),
        15,
        "passing health checks",
    )


def greeting(sock: socket.socket) -> bytes:
    try:
        return sock.recv(100)
    except ConnectionResetError:
        return b""


def closing(sock: socket.socket, timeout: float) -> dict:
    """
    Watch C{sock} from a thread blocked on it: what came on it, and when the
    peer closed it (C{None} if it did not within C{timeout}), once C{done} is set.
    """
    seen: dict = {"data": b"", "closed": None, "done": threading.Event()}

    def watch() -> None:
        sock.settimeout(timeout)
        try:
            while chunk := sock.recv(100):
                seen["data"] += chunk
            seen["closed"] = time.monotonic()
        except ConnectionResetError:
            seen["closed"] = time.monotonic()
        except OSError:
            pass
        finally:
            seen["done"].set()

    threading.Thread(target=watch, daemon=True).start()
    return seen


def test_through_haproxy_the_limits_count_the_client(balanced):
    gateway, balancer, password = balanced
    # A trusted connection that sends no header is closed after 5 s (its
    # timer starts after the time taken here), seen when it happens.
    opened = time.monotonic()
    silent = socket.create_connection(
        ("127.0.0.1", gateway.smtpPort), 10, source_address=(BALANCER, 0)
    )
    watched = closing(silent, 15)
    # Five failures from the client ban it, and only it.
    for _ in range(5):
        client = connect(balancer.ports["v2"])
        assert auth(client, "wrong") == 535
        client.close()
    client = connect(balancer.ports["v2"])
    assert auth(client, password) == 454
    client.close()
    client = connect(balancer.ports["v1"], source=OTHER)
    assert auth(client, password) == 235
    client.close()
    db = sqlite3.connect(gateway.data / "smtpeter.sqlite")
    counted = {address for (address,) in db.execute("SELECT address FROM auth_failures")}
    db.close()
    assert counted == {CLIENT}
    # At most 2 sessions per client per worker (two workers): of 5 at once
    # from the client, one at least is refused; another client is not.
    held = [
        socket.create_connection(("127.0.0.1", balancer.ports["v2"]), 10, (CLIENT, 0))
        for _ in range(5)
    ]
    other = socket.create_connection(("127.0.0.1", balancer.ports["v2"]), 10, (OTHER, 0))
    try:
        codes = [greeting(s)[:4] for s in held]
        assert b"421 " in codes and codes.count(b"220 ") >= 2
        assert greeting(other).startswith(b"220 ")
    finally:
        for s in [*held, other]:
            s.close()
    assert watched["done"].wait(15)
    silent.close()
    assert watched["data"] == b"" and watched["closed"] is not None, watched
    assert 4.5 < watched["closed"] - opened < 7, watched["closed"] - opened


def test_a_direct_connection_is_refused_even_with_a_header(balanced):
    gateway, balancer, password = balanced
    for port in (gateway.smtpPort, gateway.smtpsPort):
        for source in ("127.0.0.1", CLIENT):
            with socket.create_connection(
                ("127.0.0.1", port), 10, source_address=(source, 0)
            ) as direct:
                direct.sendall(b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 25\r\n")
                assert greeting(direct) == b""
        # The balancer's own connection without a header is closed as well.
        with socket.create_connection(
            ("127.0.0.1", port), 10, source_address=(BALANCER, 0)
        ) as trusted:
            trusted.sendall(b"EHLO direct.client\r\n")
            assert greeting(trusted) == b""
    gateway.waitForLog(f"refused a connection from {CLIENT}: not a --proxy-protocol network")
    closed = f"closing the connection from {BALANCER}: no PROXY header"
    eventually(lambda: gateway.logText().count(closed) == 2, 10, "both closings logged")
