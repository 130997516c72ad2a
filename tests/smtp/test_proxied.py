"""
Submission sessions behind a load balancer (--proxy-protocol), over real
TCP connections: the client the PROXY header names is the one the
per-address limit, the AUTH throttle, the Received header and the log see.
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
import threading
import time

import pytest
from twisted.internet.defer import ensureDeferred
from twisted.internet.selectreactor import SelectReactor
from twisted.logger import globalLogPublisher

from smtpeter.runtime import behindProxies, generateSelfSigned, listeningEndpoint, loadServerOptions
from smtpeter.smtp import AuthThrottle, ServerSettings, SubmissionFactory, makePortal
from smtpeter.store import MemoryLoginStore
from smtpeter.testing import result

from .harness import RecordingQueue

BALANCER = "127.0.0.2"
PASSWORD = "s3cret-password"


def v1(client: str) -> bytes:
    return f"PROXY TCP4 {client} 192.0.2.1 40000 587\r\n".encode()


def v2(client: str) -> bytes:
    return (
        b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c"
        + ipaddress.IPv4Address(client).packed
        + ipaddress.IPv4Address("192.0.2.1").packed
        + (40000).to_bytes(2, "big")
        + (465).to_bytes(2, "big")
    )


class HeaderFirst(smtplib.SMTP):
    """A client that connects from the balancer's address and sends C{header} first."""

    header = b""

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout, source_address=(BALANCER, 0))
        sock.sendall(self.header)
        return sock


class HeaderFirstTLS(smtplib.SMTP_SSL, HeaderFirst):
    """The same, TLS from the first byte after the header (C{SMTP_SSL} wraps L{HeaderFirst}'s)."""


def client(port: int, header: bytes, implicitTLS: bool = False) -> smtplib.SMTP:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    if implicitTLS:
        made = HeaderFirstTLS(context=context, timeout=10)
    else:
        made = HeaderFirst(timeout=10)
    made.header = header
    made._host = "gw.test"  # what TLS names (smtplib takes it only from its constructor)
    made.connect("127.0.0.1", port)
    made.ehlo("client.test")
    if not implicitTLS:
        made.starttls(context=context)
        made.ehlo("client.test")
    return made


class Gateway:
    """Submission listeners behind a balancer at 127.0.0.2, their reactor turned by hand."""

    def __init__(self, tmp_path, **settings) -> None:
        self.reactor = SelectReactor()
        generateSelfSigned("gw.test", tmp_path / "cert.pem", tmp_path / "key.pem")
        logins = MemoryLoginStore(self.reactor)
        logins.add("alice", PASSWORD)
        self.queue = RecordingQueue()
        self.throttle = AuthThrottle(self.reactor, (), limit=2)
        self.settings = ServerSettings(
            hostname="gw.test",
            portal=makePortal(logins),
            queue=self.queue,
            throttle=self.throttle,
            logins=logins,
            clock=self.reactor,
            tlsOptions=loadServerOptions(tmp_path / "cert.pem", tmp_path / "key.pem"),
            **settings,
        )
        networks = (ipaddress.ip_network(f"{BALANCER}/32"),)
        self.ports = {}
        for implicitTLS in (False, True):
            factory = behindProxies(
                SubmissionFactory(self.settings, implicitTLS), networks, self.reactor
            )
            endpoint = listeningEndpoint(self.reactor, "tcp:0:interface=127.0.0.1")
            self.ports[implicitTLS] = endpoint.listen(factory).result

    def port(self, implicitTLS: bool = False) -> int:
        return self.ports[implicitTLS].getHost().port

    def run(self, f, timeout: float = 20.0):
        """C{f()} in a thread (a blocking client), the reactor turning until it returns."""
        outcome = {}

        def call():
            try:
                outcome["result"] = f()
            except BaseException as e:
                outcome["error"] = e

        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while thread.is_alive():
            assert time.monotonic() < deadline, "the client did not finish"
            self.reactor.iterate(0.01)
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def close(self) -> None:
        from twisted.internet.error import ConnectionDone
        from twisted.python.failure import Failure

        for port in self.ports.values():
            port.stopListening()
        for reader in self.reactor.removeAll():
            reader.connectionLost(Failure(ConnectionDone()))


@pytest.fixture
def gateway(tmp_path):
    made = []

    def make(**settings) -> Gateway:
        made.append(Gateway(tmp_path, **settings))
        return made[-1]

    yield make
    for each in made:
        each.close()


@pytest.fixture
def logged():
    events = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


@pytest.mark.parametrize(
    ("header", "implicitTLS"),
    [(v1, False), (v2, False), (v2, True)],
)
def test_the_received_header_and_the_log_name_the_client(gateway, logged, header, implicitTLS):
    server = gateway()

    def submit():
        session = client(server.port(implicitTLS), header("198.51.100.7"), implicitTLS)
        session.login("alice", PASSWORD)
        session.sendmail("a@example.com", ["b@example.org"], b"Subject: hi\r\n\r\nhi\r\n")
        session.quit()

    server.run(submit)
    [(_, _, content)] = server.queue.messages
    assert content.startswith(
        b"Received: from client.test ([198.51.100.7])\r\n\tby gw.test (smtpeter) with ESMTPSA"
    )
    [queued] = [e for e in logged if "queued {qid}" in e.get("log_format", "")]
    assert queued["peer"] == "198.51.100.7"


def test_the_auth_throttle_counts_the_client_not_the_balancer(gateway):
    server = gateway()

    def guess(who: str):
        session = client(server.port(), v1(who))
        session.user, session.password = "alice", "wrong"
        try:
            session.auth("PLAIN", session.auth_plain)  # one attempt (login() tries several)
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code
        finally:
            session.close()

    assert server.run(lambda: [guess("198.51.100.7"), guess("198.51.100.7")]) == [535, 535]
    assert result(ensureDeferred(server.throttle.isBanned("198.51.100.7")))
    assert not result(ensureDeferred(server.throttle.isBanned(BALANCER)))
    assert not result(ensureDeferred(server.throttle.isBanned("198.51.100.8")))

    def logIn(who: str):
        session = client(server.port(), v1(who))
        try:
            return session.login("alice", PASSWORD)[0]
        except smtplib.SMTPException as e:
            return getattr(e, "smtp_code", e)
        finally:
            session.close()

    # The banned client is refused, another behind the same balancer is not.
    assert server.run(lambda: logIn("198.51.100.7")) != 235
    assert server.run(lambda: logIn("198.51.100.8")) == 235


def test_the_per_address_limit_counts_the_client_not_the_balancer(gateway):
    server = gateway(maxConnectionsPerAddress=1)

    def greeting(header: bytes) -> socket.socket:
        sock = socket.create_connection(
            ("127.0.0.1", server.port()), 10, source_address=(BALANCER, 0)
        )
        sock.sendall(header)
        return sock, sock.recv(100)

    first, one = server.run(lambda: greeting(v1("198.51.100.7")))
    second, two = server.run(lambda: greeting(v2("198.51.100.7")))
    other, three = server.run(lambda: greeting(v1("198.51.100.8")))
    for sock in (first, second, other):
        sock.close()
    assert one.startswith(b"220 ") and three.startswith(b"220 ")
    assert two.startswith(b"421 ")
