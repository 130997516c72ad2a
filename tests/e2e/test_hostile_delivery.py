"""
F6: without --relay, a login chose where the gateway connects. It sent to
x@[127.0.0.1] or x@[169.254.169.254], or to a domain whose MX points
inside, and the deferral and the DSN told it what the internal host
answered: SSRF against internal SMTP services.

Here, against the real gateway (no --relay, MX port = the sink's, which
listens on 127.0.0.1): RCPT refuses non-public literals with 550 5.7.1; a
domain whose only MX is on 127.0.0.1 fails permanently, "no public address
for the MX hosts of ...", and nothing connects to the sink; with
--delivery-allow-network 127.0.0.0/8 the literal is taken and delivered.
"""

from __future__ import annotations

import smtplib

import pytest

from ..conftest import DNSServer, Gateway
from .conftest import connect

ZONE = """
zone = [
    SOA("inside.test", mname="ns.inside.test", rname="root.inside.test",
        serial=1, refresh=60, retry=60, expire=60, minimum=60),
    MX("inside.test", 10, "mx.inside.test"),
    A("mx.inside.test", "127.0.0.1"),
]
"""

REFUSED = "is not a public address; this gateway delivers only to public hosts"


@pytest.fixture
def dnsServer(tmp_path):
    server = DNSServer(tmp_path).start(ZONE)
    yield server.port
    server.stop()


def direct(tmp_path, sink, *extra: str) -> Gateway:
    """A gateway without --relay whose MX port is the sink's."""
    return Gateway(
        tmp_path / "data", sink.port, relay=False, extra=["--mx-port", str(sink.port), *extra]
    )


def test_internal_literals_are_refused_and_an_internal_mx_is_never_connected_to(
    tmp_path, sink, dnsServer
):
    gateway = direct(tmp_path, sink, "--dns-server", f"127.0.0.1:{dnsServer}")
    try:
        gateway.start()
        password = gateway.createLogin("app")
        client = connect(gateway, implicit=False)
        client.login("app", password)
        assert client.mail("a@example.com")[0] == 250
        for literal in ("[127.0.0.1]", "[169.254.169.254]", "[IPv6:::1]", "[0.0.0.0]"):
            code, text = client.rcpt(f"x@{literal}")
            assert (code, text.decode()) == (550, f"5.7.1 {literal} {REFUSED}")
        client.rset()
        client.sendmail("a@example.com", ["someone@inside.test"], b"Subject: in\r\n\r\nx\r\n")
        client.quit()
        log = gateway.waitForLog("failure <someone@inside.test>")
        line = next(x for x in log.splitlines() if "failure <someone@inside.test>" in x)
        assert "status=5.4.4" in line
        assert "no public address for the MX hosts of inside.test" in line
        assert "not delivering to mx.inside.test: destination 127.0.0.1 is not allowed" in log
        assert sink.messages == [] and "cannot connect" not in log
    finally:
        gateway.stop()


def test_an_allowed_network_takes_the_literal(tmp_path, sink):
    gateway = direct(tmp_path, sink, "--delivery-allow-network", "127.0.0.0/8")
    try:
        gateway.start()
        password = gateway.createLogin("app")
        client = connect(gateway, implicit=False)
        client.login("app", password)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("a@example.com", ["x@[169.254.169.254]"], b"Subject: no\r\n\r\nx\r\n")
        client.sendmail("a@example.com", ["x@[127.0.0.1]"], b"Subject: yes\r\n\r\nx\r\n")
        client.quit()
        [received] = sink.wait(1)
        assert received.recipients == ["x@[127.0.0.1]"]
    finally:
        gateway.stop()
