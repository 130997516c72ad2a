"""Onward delivery as the next hop sees it: TLS, AUTH at the smarthost, connection reuse."""

from __future__ import annotations

import ssl

import pytest

from smtpeter.runtime import generateSelfSigned
from smtpeter.testing import SinkServer

from .conftest import connect


@pytest.fixture
def tlsSink(tmp_path):
    generateSelfSigned("sink.test", tmp_path / "sink.pem", tmp_path / "sink.key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "sink.pem", tmp_path / "sink.key")
    server = SinkServer(tlsContext=context, requireAuth=("relayuser", "relay-secret")).start()
    yield server
    server.stop()


def sendSome(gateway, count, recipient="b@example.org"):
    password = gateway.createLogin("app")
    client = connect(gateway, implicit=False)
    client.login("app", password)
    for i in range(count):
        client.sendmail("a@example.com", [recipient], f"Subject: {i}\r\n\r\nbody {i}\r\n".encode())
    client.quit()


def test_starttls_and_auth_at_the_smarthost(makeGateway, tlsSink):
    gateway = makeGateway(tlsSink, "--relay-user", "relayuser", "--relay-password", "relay-secret")
    sendSome(gateway, 1)
    [received] = tlsSink.wait(1)
    assert received.tls is True
    assert received.auth == "relayuser"


def test_verify_mode_refuses_an_untrusted_smarthost(makeGateway, tlsSink):
    gateway = makeGateway(
        tlsSink,
        "--relay-user",
        "relayuser",
        "--relay-password",
        "relay-secret",
        "--relay-tls",
        "verify",
    )
    sendSome(gateway, 1)
    gateway.waitForLog("deferral <b@example.org>")
    assert tlsSink.messages == []


def test_wrong_smarthost_password_defers_not_bounces(makeGateway, tlsSink):
    gateway = makeGateway(tlsSink, "--relay-user", "relayuser", "--relay-password", "wrong")
    sendSome(gateway, 1)
    log = gateway.waitForLog("deferral <b@example.org>")
    assert "state=AUTH" in log
    assert "failure <b@example.org>" not in log


def test_connections_are_reused_for_consecutive_messages(gateway, sink):
    sendSome(gateway, 20)
    sink.wait(20)
    assert sink.connections < 20
    assert sink.connections <= 10  # at most maxPerHop connections in parallel


def test_refusals_are_logged_with_the_client_address(gateway):
    import smtplib

    client = smtplib.SMTP("127.0.0.1", gateway.smtpPort, timeout=30)
    client.ehlo("client.test")
    client.mail("a@example.com")
    client.quit()
    gateway.waitForLog("127.0.0.1 MAIL: 530 5.7.0 Must issue a STARTTLS command first")


def test_broken_parked_connection_is_replaced_at_once(makeGateway, sink):
    sink.dropAfter = 1  # every connection dies silently at its second MAIL
    gateway = makeGateway(sink)  # default --retry-initial is 1 minute
    password = gateway.createLogin("app")
    client = connect(gateway, implicit=False)
    client.login("app", password)
    for i in range(3):  # one at a time, so each finds the previous one's parked connection
        client.sendmail("a@example.com", ["b@example.org"], f"Subject: {i}\r\n\r\nx\r\n".encode())
        sink.wait(i + 1, timeout=20)  # well under a retry delay
    client.quit()
    log = gateway.waitForCount("reconnecting", 2)
    assert "deferral" not in log
