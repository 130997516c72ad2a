"""
Direct delivery without a smarthost: MX lookup with twisted.names against a
real DNS server (Twisted's own, `twistd dns`, serving a test zone), in
preference order, falling back past an MX that refuses connections. The
test's MX hosts are on 127.0.0.0/8, which direct delivery refuses unless
the operator allows it: the gateway runs with --delivery-allow-network
127.0.0.0/8, as one whose MX hosts are inside its network would.
"""

from __future__ import annotations

import pytest

from ..conftest import DNSServer, Gateway
from .conftest import connect

ZONE = """
zone = [
    SOA("example.test", mname="ns.example.test", rname="root.example.test",
        serial=1, refresh=60, retry=60, expire=60, minimum=60),
    MX("example.test", 5, "dead.example.test"),
    MX("example.test", 10, "mx.example.test"),
    A("dead.example.test", "127.0.0.2"),
    A("mx.example.test", "127.0.0.1"),
    SOA("nullmx.test", mname="ns.nullmx.test", rname="root.nullmx.test",
        serial=1, refresh=60, retry=60, expire=60, minimum=60),
    MX("nullmx.test", 0, ""),
]
"""


@pytest.fixture
def dnsServer(tmp_path):
    server = DNSServer(tmp_path).start(ZONE)
    yield server.port
    server.stop()


def test_delivery_to_mx_in_preference_order(tmp_path, sink, dnsServer):
    # No --relay: deliver by MX. The MX hosts listen on the sink's port; the
    # preferred one (127.0.0.2) refuses connections, so the next one is used.
    # Both are loopback addresses, allowed here (see the module's docstring).
    gateway = Gateway(
        tmp_path / "data",
        sink.port,
        relay=False,
        extra=[
            *("--dns-server", f"127.0.0.1:{dnsServer}", "--mx-port", str(sink.port)),
            *("--delivery-allow-network", "127.0.0.0/8"),
        ],
    )
    try:
        gateway.start()
        password = gateway.createLogin("app")
        client = connect(gateway, implicit=False)
        client.login("app", password)
        client.sendmail(
            "a@example.com",
            ["someone@example.test", "nobody@nullmx.test"],
            b"Subject: via MX\r\n\r\nhello\r\n",
        )
        client.quit()
        [received] = sink.wait(1)
        assert received.recipients == ["someone@example.test"]
        log = gateway.waitForLog("delivery <someone@example.test>", "failure <nobody@nullmx.test>")
        assert "host=mx.example.test" in log and "status=5.1.10" in log
    finally:
        gateway.stop()
