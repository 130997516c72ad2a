"""
The TLS suites every listener of a real gateway offers (issue 33, item 11):
TLS 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305 only (Mozilla's
"intermediate" profile, ECDHE only), never CBC (LUCKY13), CCM, static RSA
or DHE; TLS 1.3 as before. Each TLS 1.2 suite this OpenSSL knows is
offered alone by a client, on STARTTLS (--smtp, --mx), implicit TLS
(--smtps) and HTTPS (ssl: endpoints of --http and --dashboard), with an
ECDSA and with an RSA certificate.
"""

from __future__ import annotations

import socket
import ssl

import pytest

from ..conftest import (
    ALLOWED,
    clientContext,
    everyTLS12Suite,
    freePort,
    waitForPort,
    writeCertificate,
)


def _readReply(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n") or data.split(b"\r\n")[-2][3:4] == b"-":
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    return data


def handshake(port: int, kind: str, context: ssl.SSLContext) -> tuple[str, str] | None:
    """The (version, suite) agreed on a listener of C{kind}, or C{None} if TLS failed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        if kind == "starttls":
            assert _readReply(sock).startswith(b"220 ")
            sock.sendall(b"EHLO client.test\r\n")
            assert b"STARTTLS" in _readReply(sock)
            sock.sendall(b"STARTTLS\r\n")
            assert _readReply(sock).startswith(b"220 ")
        try:
            with context.wrap_socket(sock) as tls:
                if kind == "implicit":
                    assert _readReply(tls).startswith(b"220 ")
                return tls.version(), tls.cipher()[0]
        except (ssl.SSLError, ConnectionError):
            return None


@pytest.mark.e2e
# Two workers (listeners adopted from the parent) and one process (its own
# listeners): the two ways a listener gets its TLS.
@pytest.mark.parametrize("key,workers", [("ec", "2"), ("rsa", "1")])
def test_every_listener_offers_only_the_intermediate_tls_1_2_suites(
    makeGateway, sink, tmp_path, key, workers
):
    cert, keyFile = writeCertificate(tmp_path, key)
    mx, https, dashboard = freePort(), freePort(), freePort()
    ssl_ = f"interface=127.0.0.1:privateKey={keyFile}:certKey={cert}"
    gateway = makeGateway(
        sink,
        "--workers",
        workers,
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(keyFile),
        "--mx",
        f"tcp:{mx}:interface=127.0.0.1",
        "--http",
        f"ssl:{https}:{ssl_}",
        "--dashboard",
        f"ssl:{dashboard}:{ssl_}",
    )
    for port in (mx, https, dashboard):
        waitForPort(port, gateway.process, greeting=port == mx)
    listeners = {
        "--smtp": (gateway.smtpPort, "starttls"),
        "--smtps": (gateway.smtpsPort, "implicit"),
        "--mx": (mx, "starttls"),
        "--http ssl:": (https, "https"),
        "--dashboard ssl:": (dashboard, "https"),
    }
    suites = everyTLS12Suite()
    assert len(suites) > 50  # CBC, CCM, static RSA, DHE, anonymous, null...
    for name, (port, kind) in listeners.items():
        agreed = {}
        for suite in suites:
            result = handshake(port, kind, clientContext(suite))
            if result is not None:
                agreed[suite] = result
        assert set(agreed) == ALLOWED[key], name
        assert all(version == "TLSv1.2" for version, _ in agreed.values()), name
        assert handshake(port, kind, clientContext())[0] == "TLSv1.3", name
    assert gateway.process.poll() is None
